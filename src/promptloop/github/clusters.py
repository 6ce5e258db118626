"""Failures grouped by cause: the judge's ``error_type``, else the evaluator's name.

Within a cause, identical and near-identical critiques (and suggested fixes) fold into one
text with the number of cases that said it, so a comment says each thing once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptloop.engine.results import CaseRecord, SuiteResult
from promptloop.report.names import case_label

MAX_EXAMPLES = 3
MODEL_ERROR = "model-error"
WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Example:
    # The case's id, or its file:line when the id is only a content hash.
    label: str
    source: str | None
    inputs: Mapping[str, Any]
    output: str | None
    critique: str
    fix: str | None = None
    # The case's last earlier turns (``CaseRecord.recent_history``); None without.
    history: str | None = None


@dataclass(frozen=True)
class Cluster:
    suite: str
    cause: str
    evaluators: tuple[str, ...]
    case_ids: tuple[str, ...]
    total_cases: int
    critiques: tuple[str, ...]
    examples: tuple[Example, ...]
    # The model call itself failed: a provider problem, not something the prompt says.
    infrastructure: bool = False
    # (text, number of cases) with identical or near-identical texts folded, most cases first.
    said: tuple[tuple[str, int], ...] = ()
    fixes: tuple[tuple[str, int], ...] = ()

    @property
    def count(self) -> int:
        return len(self.case_ids)

    @property
    def share(self) -> float:
        return self.count / self.total_cases if self.total_cases else 0.0


class _Folder:
    """Counts texts per case, folding near-identical ones (same words but a number or two)
    into the first of their kind, so a comment says each thing once."""

    def __init__(self) -> None:
        self._groups: list[tuple[str, set[str], int]] = []

    def add(self, text: str) -> None:
        words = set(WORD.findall(text.lower()))
        for i, (first, seen, count) in enumerate(self._groups):
            if words == seen or _similar(words, seen):
                self._groups[i] = (first, seen, count + 1)
                return
        self._groups.append((text, words, 1))

    def counts(self) -> tuple[tuple[str, int], ...]:
        ranked = sorted(enumerate(self._groups), key=lambda item: (-item[1][2], item[0]))
        return tuple((text, count) for _, (text, _, count) in ranked)


def _similar(a: set[str], b: set[str]) -> bool:
    # 0.7 folds "has 14 words, more than 12" with "has 15 words, more than 12" but keeps
    # "misses the product name" apart from "misses the product tagline".
    return bool(a and b) and len(a & b) / len(a | b) >= 0.7


@dataclass
class _Group:
    # Dicts as insertion-ordered sets: membership stays O(1) on suites with many failures.
    evaluators: dict[str, None] = field(default_factory=dict)
    case_ids: dict[str, None] = field(default_factory=dict)
    critiques: dict[str, None] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    infrastructure: bool = False
    said: _Folder = field(default_factory=_Folder)
    fixes: _Folder = field(default_factory=_Folder)


@dataclass(frozen=True)
class _Cause:
    cause: str
    evaluator: str
    said: str
    fix: str | None
    infrastructure: bool

    @property
    def critique(self) -> str:
        return f"{self.said} (suggested fix: {self.fix})" if self.fix else self.said


def _causes(record: CaseRecord) -> list[_Cause]:
    """Each reason ``record`` did not pass."""
    if record.status == "error" or record.error:
        return [_Cause(MODEL_ERROR, "model", record.error or "the model call failed", None, True)]
    out = []
    for e in record.evaluations:
        if e.passed:
            continue
        cause = e.error_type or (f"{e.evaluator}-error" if e.error else e.evaluator)
        out.append(_Cause(cause, e.evaluator, e.error or e.reason, e.suggested_fix, False))
    return out or [
        _Cause("below-case-threshold", "score", f"score {record.score:.2f}", None, False)
    ]


def cluster_failures(suite: SuiteResult, *, max_examples: int = MAX_EXAMPLES) -> list[Cluster]:
    """Clusters, largest first; a case failing for two causes counts in both."""
    groups: dict[str, _Group] = {}
    total = len({c.id for c in suite.cases})
    for record in suite.cases:
        if record.status == "pass":
            continue
        for why in _causes(record):
            group = groups.setdefault(why.cause, _Group(infrastructure=why.infrastructure))
            group.evaluators[why.evaluator] = None
            group.critiques[why.critique] = None
            if record.id in group.case_ids:
                continue
            group.case_ids[record.id] = None
            group.said.add(why.said)
            if why.fix:
                group.fixes.add(why.fix)
            if len(group.examples) < max_examples:
                label = case_label(record)
                where = None if label == record.source else record.source
                group.examples.append(
                    Example(
                        label,
                        where,
                        record.vars,
                        record.shown_output,
                        why.said,
                        why.fix,
                        record.recent_history,
                    )
                )
    clusters = [
        Cluster(
            suite=suite.name,
            cause=cause,
            evaluators=tuple(g.evaluators),
            case_ids=tuple(g.case_ids),
            total_cases=total,
            critiques=tuple(g.critiques),
            examples=tuple(g.examples),
            infrastructure=g.infrastructure,
            said=g.said.counts(),
            fixes=g.fixes.counts(),
        )
        for cause, g in groups.items()
    ]
    return sorted(clusters, key=lambda c: (c.infrastructure, -c.count, c.cause))
