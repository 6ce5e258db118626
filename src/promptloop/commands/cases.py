"""`promptloop cases import`: production traces become cases, people's feedback on them
becomes reviewers' verdicts. Read the files → plan (``traces.plan``, pure) → append the new
lines to the dataset and the feedback file, or print them (``--dry-run``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from promptloop.commands.run import ProjectQuery
from promptloop.dataset.feedback import append_lines
from promptloop.errors import UserError
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.loaded import LoadedConfig, load_config
from promptloop.project.prompts import load_prompt
from promptloop.safety import known_secrets
from promptloop.traces.plan import DEFAULT_PII, ImportPlan, Masker, SpanFilter, plan_import
from promptloop.traces.readers import MAX_FILE_BYTES, read_trace_text, with_annotations
from promptloop.traces.spans import SpanAnnotation, TraceSpan
from promptloop.wording import plural
from promptloop.yamlpos import suggest


@dataclass(frozen=True)
class ImportRequest:
    files: tuple[Path, ...]
    suite: str
    span_filter: SpanFilter
    # Extra name → regex pairs to mask, besides the default PII patterns.
    mask: tuple[tuple[str, str], ...] = ()
    default_pii: bool = True
    dry_run: bool = False


@dataclass(frozen=True)
class ImportOutcome:
    plan: ImportPlan
    dataset: str
    feedback: str
    written: bool


def _suite(loaded: LoadedConfig, name: str) -> SuiteConfig:
    names = [s.name for s in loaded.config.suites]
    for suite in loaded.config.suites:
        if suite.name == name:
            return suite
    raise UserError(
        f"no suite named {name!r}{suggest(name, names)} (the config has: {', '.join(names)})",
        path=str(loaded.path),
    )


def read_spans(files: Sequence[Path]) -> tuple[list[TraceSpan], int]:
    spans: list[TraceSpan] = []
    annotations: list[SpanAnnotation] = []
    ignored = 0
    for path in files:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise UserError("trace file not found", path=str(path)) from None
        if size > MAX_FILE_BYTES:
            raise UserError(
                f"trace file is {size // (1024 * 1024)} MB; the limit is "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB: split the export",
                path=str(path),
            )
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise UserError("is not a UTF-8 text file", path=str(path)) from None
        found = read_trace_text(text, str(path))
        spans.extend(found.spans)
        annotations.extend(found.annotations)
        ignored += found.ignored
    return with_annotations(tuple(spans), tuple(annotations)), ignored


def import_cases(query: ProjectQuery, request: ImportRequest) -> ImportOutcome:
    loaded = load_config(query.config_file())
    suite = _suite(loaded, request.suite)
    if loaded.source is not None:
        raise UserError(
            "cases are imported into promptloop.yaml's datasets, not into a "
            f"{loaded.source.format} config; convert it first with `promptloop init --from`",
            path=str(loaded.path),
        )
    if not isinstance(suite.dataset, str) or not suite.dataset.endswith(".jsonl"):
        raise UserError(
            "imported cases are appended one line each to a JSONL dataset; this suite's "
            "dataset is not one (convert it to .jsonl, or give the suite a JSONL dataset)",
            path=str(loaded.path),
            key=f"suites.{suite.name}.dataset",
        )
    prompt = load_prompt(loaded.resolve(suite.prompt), loaded.display(suite.prompt))
    existing = loaded.load_cases(suite)
    loaded.load_feedback(suite)  # a broken feedback file is refused before anything is added
    spans, ignored = read_spans(request.files)
    pii = dict(DEFAULT_PII) if request.default_pii else {}
    pii.update(dict(request.mask))
    masker = Masker(known_secrets(os.environ, urls=[loaded.config.cache.redis_url]), pii)
    plan = plan_import(
        spans,
        prompt=prompt,
        existing=existing,
        span_filter=request.span_filter,
        masker=masker,
        now=datetime.now(UTC).replace(microsecond=0),
        ignored=ignored,
    )
    dataset = loaded.display(suite.dataset)
    feedback = loaded.display(loaded.feedback_file(suite))
    if request.dry_run:
        return ImportOutcome(plan, dataset, feedback, written=False)
    if not plan.cases:
        return ImportOutcome(plan, dataset, feedback, written=True)
    _append(loaded.resolve(suite.dataset), [case.line() for case in plan.cases])
    if plan.verdicts:
        path = loaded.resolve(loaded.feedback_file(suite))
        existing_text = path.read_text(encoding="utf-8") if path.is_file() else ""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(append_lines(existing_text, plan.verdicts), encoding="utf-8")
    return ImportOutcome(plan, dataset, feedback, written=True)


def _append(path: Path, lines: Sequence[str]) -> None:
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = existing if not existing or existing.endswith("\n") else existing + "\n"
    path.write_text(head + "".join(line + "\n" for line in lines), encoding="utf-8")


def render_outcome(outcome: ImportOutcome) -> list[str]:
    plan = outcome.plan
    verb = "added" if outcome.written else "would add"
    lines = [
        f"{outcome.dataset}: {verb} {plural(len(plan.cases), 'case')}; "
        f"{plan.known} already in the dataset, {plan.other} of other prompts or not model "
        f"calls, {len(plan.skipped)} skipped"
    ]
    if not outcome.written:
        lines.extend(f"  + {case.line()}" for case in plan.cases)
    else:
        lines.extend(f"  + {case.case_id}  (from {case.source})" for case in plan.cases)
    if plan.verdicts:
        verdicts = plural(len(plan.verdicts), "reviewer verdict")
        lines.append(f"{outcome.feedback}: {verb} {verdicts}")
        lines.extend(
            f"  + {v.verdict} on {v.case} by {v.by}" + (f": {v.note}" if v.note else "")
            for v in plan.verdicts
        )
    lines.extend(f"  skipped {s.source}: {s.why}" for s in plan.skipped)
    if plan.unnamed:
        lines.append(
            f"  {plural(plan.unnamed, 'model call')} {'names' if plan.unnamed == 1 else 'name'} "
            "no prompt or version, so --prompt-name / "
            "--prompt-version cannot keep them: select them with --where ATTR=VALUE on an "
            "attribute your application sets"
        )
    return lines
