"""report.md: the Markdown a PR comment carries. Everything from a model or a dataset is
neutralised here, because this text is posted to GitHub as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from promptloop.engine.results import RunResult
from promptloop.report.figures import (
    confirmation_line,
    format_p,
    outputs_line,
    rate_with_interval,
)
from promptloop.safety import inline_code, neutralize
from promptloop.wording import pct

_ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


def _delta(cmp: dict[str, Any] | None) -> str:
    if not cmp:
        return "—"
    return f"{cmp['delta_pp']:+.1f} [{cmp['delta_lo_pp']:+.1f}, {cmp['delta_hi_pp']:+.1f}]"


def _pvalue(cmp: dict[str, Any] | None) -> str:
    """The first look's one-sided p-value, like the Δ and interval beside it; the second
    look's figures have their own line."""
    if not cmp:
        return "—"
    return format_p(float(cmp["p_worse"]))


def _inline(text: object) -> str:
    """Untrusted prose on one line: no pings, no HTML, no broken tables."""
    flat = " ".join(("" if text is None else str(text)).split())
    return neutralize(flat).replace("|", "\\|")


def _quote(text: object, limit: int = 300) -> str:
    """A model's output shown verbatim in a code span (it cannot break out of it)."""
    if text is None:
        return "—"
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return inline_code(flat) if flat else "(empty output)"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("promptloop.report", "templates"),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["inline"] = _inline
    env.filters["quote"] = _quote
    return env


def render_markdown(result: RunResult, *, max_cases: int = 5) -> str:
    template = _environment().get_template("report.md.j2")
    return template.render(
        result=result,
        base={s.name: s for s in result.baseline},
        icon=_ICONS,
        rate=rate_with_interval,
        pct=pct,
        delta=_delta,
        pvalue=_pvalue,
        confirmation_line=confirmation_line,
        outputs_line=outputs_line,
        max_cases=max_cases,
    )


def write_markdown(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(result), encoding="utf-8")
