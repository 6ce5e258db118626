"""How counts and rates read in every message, so the gate, the optimizer and the reports agree."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """``plural(1, "case")`` → "1 case", ``plural(3, "case")`` → "3 cases"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def pct(rate: float) -> str:
    """A rate in [0, 1] as a percentage with one decimal: 0.25 → "25.0%"."""
    return f"{100 * rate:.1f}%"


def one_line(text: str, limit: int) -> str:
    """``text`` with its whitespace runs made single spaces, cut to ``limit`` with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
