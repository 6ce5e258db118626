"""What a run reports as it goes: a case answered, a case finished, cases added. The runner
and the gate's second look send these events; the CLI decides how to draw them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CaseFinished:
    suite: str
    variant: str
    status: str
    cached: bool


@dataclass(frozen=True)
class Answered:
    """The model answered a case; its evaluators (and judges) are still to run."""

    suite: str
    variant: str


@dataclass(frozen=True)
class MoreWork:
    """Cases added after the run started (the gate's confirmation runs)."""

    cases: int
    note: str


ProgressEvent = CaseFinished | Answered | MoreWork
ProgressCallback = Callable[[ProgressEvent], None]
