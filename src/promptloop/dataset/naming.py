"""One name per case, and every name a person might type back finds it.

A case is shown by its ``id`` when the dataset gives one, else by where it is written
(``evals/x.jsonl:12``, relative to the config). Every command that takes a case also
accepts the 12-hex content hash promptloop uses inside results.json, and the place with
any leading folders (``my-project/evals/x.jsonl:12``, as a run started elsewhere shows it).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case, case_id_for, history_dicts


def content_hash(case: Case) -> str:
    return case_id_for(case.vars, case.expected, history_dicts(case.messages))


def has_own_id(case: Case) -> bool:
    """Whether the dataset named the case (``id:``), rather than promptloop hashing it."""
    return case.id != content_hash(case)


def shown_name(case_id: str, source: str | None, own_id: bool) -> str:
    return case_id if own_id or not source else source


def case_name(case: Case) -> str:
    """The name every report and message shows for the case."""
    return shown_name(case.id, case.source, has_own_id(case))


def _place(text: str) -> tuple[str, str] | None:
    """``("evals/x.jsonl", "12")`` from ``./evals/x.jsonl:12``; None when not a place."""
    path, colon, line = text.rpartition(":")
    if not colon or not path or not line.isdigit():
        return None
    return os.path.normpath(path).replace(os.sep, "/"), line


@dataclass(frozen=True)
class CaseNames:
    """The cases of one suite, findable by any of their names."""

    cases: tuple[Case, ...]

    @classmethod
    def of(cls, cases: Iterable[Case]) -> CaseNames:
        return cls(tuple(cases))

    def shown(self) -> list[str]:
        return [case_name(c) for c in self.cases]

    def find(self, wanted: str) -> Case | None:
        wanted = wanted.strip()
        for case in self.cases:
            if wanted in (case.id, case.source, content_hash(case)):
                return case
        place = _place(wanted)
        if place is None:
            return None
        path, line = place
        for case in self.cases:
            own = _place(case.source or "")
            if own is None or own[1] != line:
                continue
            # The place as a run started in another folder prints it, or absolute.
            if path == own[0] or path.endswith("/" + own[0]):
                return case
        return None

    def nearest(self, wanted: str, n: int = 3) -> list[str]:
        """The shown names closest to a mistyped one, for "did you mean" lines."""
        return nearest_names(wanted, self.shown(), n)


def nearest_names(wanted: str, names: Sequence[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(wanted, list(names), n=n, cutoff=0.4)


def unknown_case_message(wanted: str, suite: str, names: CaseNames) -> str:
    close = names.nearest(wanted)
    hint = f"; nearest: {', '.join(close)}" if close else ""
    return (
        f"suite {suite!r} has no case {wanted!r}{hint} (a case goes by its id, by "
        "file:line as the console shows it, or by the hash in results.json)"
    )
