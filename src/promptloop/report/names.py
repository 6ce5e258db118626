"""The names a reader sees for cases and commits: what a person can find again, not a hash."""

from __future__ import annotations

import re
from collections.abc import Iterable

from promptloop.dataset.cases import case_id_for
from promptloop.dataset.naming import shown_name
from promptloop.engine.results import CaseRecord

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = 7


def case_label(record: CaseRecord) -> str:
    """A case's explicit id, or where it is written (``evals/x.jsonl:12``, relative to the
    config) when its id is only the content hash promptloop made up for it. Every command
    that takes a case accepts this name (``dataset.naming``)."""
    own_id = record.id != case_id_for(record.vars, record.expected, record.messages)
    return shown_name(record.id, record.source, own_id)


def case_labels(records: Iterable[CaseRecord]) -> dict[str, str]:
    """case id → label, for lists (such as base-vs-head changes) that carry only the id."""
    return {r.id: case_label(r) for r in records}


def short_sha(ref: str) -> str:
    """``77fe18b70292…`` → ``77fe18b``; a branch or tag name stays as it is."""
    return ref[:SHORT_SHA] if _FULL_SHA.match(ref) else ref


def commit_url(repo_url: str | None, ref: str | None) -> str | None:
    """The web page of a commit, when ``ref`` is a full sha and the repository is known."""
    if not repo_url or not ref or not _FULL_SHA.match(ref):
        return None
    return f"{repo_url.rstrip('/')}/commit/{ref}"


# How each reviewer verdict stands on this run's output, in every report.
REVIEW_STATE = {
    "applied": "applied: the output is the one judged",
    "unused": "not counted: the output is the one judged, but the suite has no `human` evaluator",
    "changed": "output changed, unlabelled",
}
