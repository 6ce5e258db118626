"""Decide what an import adds: which spans belong to the suite's prompt, the case each
becomes (vars rebuilt from the template where it can be, else the conversation as turns),
what is already in the dataset, what is masked, and the reviewers' verdicts. Pure: the
command carries the plan out (or prints it with ``--dry-run``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promptloop.dataset.cases import Case, case_id_for
from promptloop.dataset.feedback import FeedbackRecord, output_fingerprint
from promptloop.project.prompts import MessageTemplate, PromptTemplate
from promptloop.safety import mask_secrets
from promptloop.traces.spans import TraceSpan

# Personal data a production log carries and a repository must not: masked by default.
DEFAULT_PII = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "card": r"\b(?:\d[ -]?){13,19}\b",
    "phone": r"(?<![\w+])\+?\d[\d ().-]{7,}\d\b",
}
# Longer messages are not read back: a template's lazy groups are matched by backtracking.
MAX_REBUILD_CHARS = 20_000
_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")


@dataclass(frozen=True)
class SpanFilter:
    prompt_name: str | None = None
    prompt_version: str | None = None
    # attribute → value, all of which must hold.
    where: tuple[tuple[str, str], ...] = ()

    def is_empty(self) -> bool:
        return self.prompt_name is None and self.prompt_version is None and not self.where

    def keeps(self, span: TraceSpan) -> bool:
        if self.prompt_name is not None and span.prompt_name != self.prompt_name:
            return False
        if self.prompt_version is not None and span.prompt_version != self.prompt_version:
            return False
        return all(str(span.attributes.get(key)) == value for key, value in self.where)

    def names_nothing_of(self, span: TraceSpan) -> bool:
        """Whether ``span`` lacks the prompt name or version this filter asks for."""
        return (self.prompt_name is not None and span.prompt_name is None) or (
            self.prompt_version is not None and span.prompt_version is None
        )


@dataclass(frozen=True)
class NewCase:
    case_id: str
    row: dict[str, Any]
    source: str

    def line(self) -> str:
        return json.dumps(self.row, ensure_ascii=False)


@dataclass(frozen=True)
class Skipped:
    source: str
    why: str


@dataclass(frozen=True)
class ImportPlan:
    cases: tuple[NewCase, ...]
    verdicts: tuple[FeedbackRecord, ...]
    skipped: tuple[Skipped, ...]
    # Spans already in the dataset (same id or same vars and turns).
    known: int
    # Spans of other prompts (by the filter), and spans that were no model call.
    other: int
    # Of ``other``: model calls the filter's prompt name or version left out because they name
    # none (plain OpenTelemetry GenAI spans rarely do).
    unnamed: int = 0


class Masker:
    """Secrets (promptloop's one rule) and PII patterns, over every string of a row."""

    def __init__(self, secrets: Sequence[str], pii: Mapping[str, str]) -> None:
        self.secrets = list(secrets)
        self.patterns = [(name, re.compile(pattern)) for name, pattern in pii.items()]

    def text(self, value: str) -> str:
        masked = mask_secrets(value, self.secrets)
        for name, pattern in self.patterns:
            masked = pattern.sub(f"[{name}]", masked)
        return masked

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value


def _literal(text: str) -> str:
    # Whitespace is not significant between a template and what the app sent.
    return r"\s+".join(re.escape(part) for part in text.split())


def template_pattern(template: str) -> re.Pattern[str] | None:
    """A regex matching what ``template`` renders to, one group per variable; None for a
    template with logic (`{% %}`) or expressions (filters, calls) that cannot be read back."""
    if "{%" in template or "{#" in template or "{{" in _PLACEHOLDER.sub("", template):
        return None
    pieces: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append(_literal(template[position : match.start()]))
        name = match.group(1)
        pieces.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        position = match.end()
    pieces.append(_literal(template[position:]))
    return re.compile(r"\s*" + r"\s*".join(p for p in pieces if p) + r"\s*", re.DOTALL)


def rebuild_vars(
    prompt: PromptTemplate, messages: Sequence[Mapping[str, Any]]
) -> dict[str, str] | None:
    """The variables that render ``prompt`` into these messages; None when they cannot be
    read back (the template has logic, or the messages are not its rendering)."""
    found: dict[str, str] = {}
    sent = [m for m in messages if m.get("role") in ("system", "user", "assistant")]
    templates: Sequence[MessageTemplate] = prompt.messages
    if len(sent) < len(templates):
        return None
    for template, message in zip(templates, sent, strict=False):
        if message.get("role") != template.role:
            return None
        pattern = template_pattern(template.template)
        content = str(message.get("content") or "")
        if pattern is None or len(content) > MAX_REBUILD_CHARS:
            return None
        match = pattern.fullmatch(content)
        if match is None:
            return None
        for name, value in match.groupdict().items():
            if found.get(name, value) != value:
                return None
            found[name] = value.strip()
    return found if set(found) >= set(prompt.variables) else None


def stable_id(span: TraceSpan) -> str:
    """The case id of a span: the same trace and span always give the same id."""
    digest = hashlib.sha256(f"{span.trace_id}/{span.span_id}".encode()).hexdigest()
    return f"trace-{digest[:12]}"


def plan_import(
    spans: Sequence[TraceSpan],
    *,
    prompt: PromptTemplate,
    existing: Sequence[Case],
    span_filter: SpanFilter,
    masker: Masker,
    now: datetime,
    ignored: int = 0,
) -> ImportPlan:
    known_ids = {case.id for case in existing}
    known_content = {
        case_id_for(
            case.vars, case.expected, [dict(m.model_dump(exclude_none=True)) for m in case.messages]
        )
        for case in existing
    }
    cases: list[NewCase] = []
    verdicts: list[FeedbackRecord] = []
    skipped: list[Skipped] = []
    known = 0
    other = ignored
    unnamed = 0
    for span in spans:
        if not span_filter.keeps(span):
            other += 1
            unnamed += span_filter.names_nothing_of(span)
            continue
        case_id = stable_id(span)
        if case_id in known_ids:
            known += 1
            continue
        variables = (
            span.variables if span.variables is not None else rebuild_vars(prompt, span.messages)
        )
        row: dict[str, Any] = {"id": case_id}
        if variables is not None:
            missing = sorted(prompt.variables - set(variables))
            if missing:
                skipped.append(Skipped(span.source, f"no value for {', '.join(missing)}"))
                continue
            row.update({k: variables[k] for k in sorted(variables) if k in prompt.variables})
        elif prompt.variables:
            skipped.append(
                Skipped(
                    span.source,
                    "its input is not a rendering of the prompt, and the prompt needs "
                    f"{', '.join(sorted(prompt.variables))}: name the variables in the trace "
                    "(OpenInference `llm.prompt_template.variables`, or `vars` in JSONL)",
                )
            )
            continue
        else:
            # No variables to read back: the case keeps the conversation before the answer.
            history = [m for m in span.messages if m.get("role") != "system"]
            if (
                history
                and history[-1].get("role") == "user"
                and prompt.messages
                and prompt.messages[-1].role == "user"
            ):
                skipped.append(Skipped(span.source, "the prompt writes the last user turn itself"))
                continue
            row["messages"] = [dict(m) for m in history]
        row = masker.value(row)
        content_key = case_id_for(
            {k: v for k, v in row.items() if k not in ("id", "messages", "metadata")},
            None,
            row.get("messages") or [],
        )
        if content_key in known_content:
            known += 1
            continue
        output = masker.text(span.output) if span.output is not None else None
        row["metadata"] = {
            "source": {"format": span.format, "trace_id": span.trace_id, "span_id": span.span_id},
            **({"model": span.model} if span.model else {}),
            **({"production_output": output} if output is not None else {}),
        }
        known_ids.add(case_id)
        known_content.add(content_key)
        cases.append(NewCase(case_id, row, span.source))
        if output is None:
            continue
        for feedback in span.feedback:
            verdicts.append(
                FeedbackRecord(
                    case=case_id,
                    output=output_fingerprint(output),
                    verdict=feedback.verdict,
                    note=" ".join(masker.text(feedback.note).split()),
                    by=masker.text(feedback.by) or "production",
                    at=now,
                    source=f"trace:{span.source}",
                )
            )
    return ImportPlan(tuple(cases), tuple(verdicts), tuple(skipped), known, other, unnamed)
