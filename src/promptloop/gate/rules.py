"""What the gate's checks share: the policy they apply, the check they return, and how
their sentences write figures. The rule itself is in :mod:`promptloop.gate.policy`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptloop.engine.results import VerdictStatus
from promptloop.wording import plural

OnError = Literal["fail", "neutral", "ignore"]
ThresholdRule = Literal["plain", "statistical"]
Inconclusive = Literal["pass", "fail"]
CheckName = Literal["errors", "evaluation", "critical", "regression", "min_pass_rate"]


@dataclass(frozen=True)
class GatePolicy:
    """Mirror of the config's ``gate:`` block plus the suite's own ``threshold``.

    ``threshold``, when set, is the suite's minimum pass rate and takes precedence
    over the project-wide ``min_pass_rate``.
    """

    min_pass_rate: float | None = None
    max_regression_pp: float = 5.0
    confidence: float = 0.95
    critical_tags: tuple[str, ...] = ("critical",)
    on_error: OnError = "fail"
    threshold: float | None = None
    confirm_runs: int = 1
    threshold_rule: ThresholdRule = "plain"
    inconclusive: Inconclusive = "pass"

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"gate confidence must be in [0.5, 1), got {self.confidence}")
        if self.max_regression_pp < 0:
            raise ValueError(
                f"max_regression_pp must be non-negative, got {self.max_regression_pp}"
            )
        if self.confirm_runs < 0:
            raise ValueError(f"confirm_runs must be non-negative, got {self.confirm_runs}")
        for name in ("min_pass_rate", "threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")

    @property
    def minimum(self) -> float | None:
        return self.threshold if self.threshold is not None else self.min_pass_rate

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence


@dataclass(frozen=True)
class Holm:
    """This suite's regression p-value after Holm's step-down across ``suites`` suites."""

    adjusted_p: float
    suites: int


@dataclass(frozen=True)
class GateCheck:
    name: CheckName
    status: VerdictStatus
    reason: str
    suite: str | None = None
    # The reason in plain words, statistics left out, where the figures need them.
    plain: str | None = None


def number(value: float) -> str:
    text = f"{value:.1f}"
    if text == "-0.0":
        text = "0.0"
    return text.replace("-", "−")


def rerun_words(cases: int, runs: int) -> str:
    """How the gate's reason names its second look; a report that shows that reason need
    not say the second look again."""
    return (
        f"re-running the {plural(cases, 'changed case')} {plural(runs, 'more time')} on each side"
    )


def article(number: str) -> str:
    """The number with its article as it is read aloud: "an 8.2", "an 11.0", "a 9.5"."""
    whole = number.split(".")[0]
    article = "an" if whole.startswith("8") or whole in ("11", "18") else "a"
    return f"{article} {number}"


def level(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def p_text(p: float) -> str:
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.3f}" if p < 0.01 else f"p={p:.2f}"


def cases(n: int) -> str:
    return plural(n, "case")


def too_few(n: int) -> str:
    return f"{cases(n)} {'is' if n == 1 else 'are'} too few"
