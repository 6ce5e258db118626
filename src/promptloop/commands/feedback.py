"""`promptloop feedback add`: record a reviewer's verdict on a case's last output, locally.

It writes exactly what a pull-request command writes, so the loop (the ``human``
evaluator, the optimizer's reviewer notes) works without GitHub too.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from promptloop.commands.run import ProjectQuery
from promptloop.dataset.feedback import (
    FeedbackRecord,
    ReviewerVerdict,
    append_lines,
    output_fingerprint,
)
from promptloop.dataset.naming import CaseNames, case_name, unknown_case_message
from promptloop.engine.results import read_results
from promptloop.errors import UserError
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.layout import results_for
from promptloop.project.loaded import LoadedConfig, load_config
from promptloop.safety import known_secrets, mask_secrets
from promptloop.yamlpos import suggest


@dataclass(frozen=True)
class FeedbackAdd:
    suite: str
    case: str
    verdict: ReviewerVerdict
    note: str
    # None: the project's promptloop-results/results.json (see ``results_for``).
    results_path: Path | None
    # The output judged, when given directly rather than taken from the last run.
    output: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class Added:
    path: Path
    display: str
    record: FeedbackRecord
    # The case as every report shows it (its id, or file:line when it has none).
    name: str


def _suite(loaded: LoadedConfig, name: str) -> SuiteConfig:
    for suite in loaded.config.suites:
        if suite.name == name:
            return suite
    names = [s.name for s in loaded.config.suites]
    raise UserError(
        f"no suite named {name!r}{suggest(name, names)} (the config has: {', '.join(names)})",
        path=str(loaded.path),
    )


def _last_output(results_path: Path, suite: str, case: str) -> str:
    if not results_path.is_file():
        raise UserError(
            "no results to take the output from: a verdict is given on an output, so run "
            "`promptloop run` first (or pass --output TEXT)",
            path=str(results_path),
        )
    result = read_results(results_path)
    for suite_result in result.suites:
        if suite_result.name != suite:
            continue
        for record in suite_result.cases:
            if record.id == case and record.repeat == 0 and record.shown_output is not None:
                return record.shown_output
    raise UserError(
        f"the last run has no output for case {case!r} of suite {suite!r}; run it again",
        path=str(results_path),
    )


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in a bare container; the record still needs someone.
        return "local"


def add_feedback(query: ProjectQuery, request: FeedbackAdd) -> Added:
    loaded = load_config(query.config_file())
    suite = _suite(loaded, request.suite)
    names = CaseNames.of(loaded.load_cases(suite))
    case = names.find(request.case)
    if case is None:
        raise UserError(unknown_case_message(request.case, suite.name, names))
    output = request.output
    if output is None:
        output = _last_output(results_for(loaded.root, request.results_path), suite.name, case.id)
    record = FeedbackRecord(
        case=case.id,
        output=output_fingerprint(output),
        verdict=request.verdict,
        # The note goes into a file meant to be committed: a pasted key must not.
        note=mask_secrets(
            " ".join(request.note.split()),
            known_secrets(os.environ, urls=[loaded.config.cache.redis_url]),
        ),
        by=request.by or _whoami(),
        at=datetime.now(UTC).replace(microsecond=0),
        source="cli",
    )
    relative = loaded.feedback_file(suite)
    # Read through the loader first: appending to a file that is already broken would
    # only bury the bad line further down.
    loaded.load_feedback(suite)
    path = loaded.resolve(relative)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(append_lines(existing, [record]), encoding="utf-8")
    return Added(path, loaded.display(relative), record, case_name(case))
