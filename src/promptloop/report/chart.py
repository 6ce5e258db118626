"""A Mermaid bar chart of pass rates, for the job summary (GitHub renders ```mermaid blocks).

Labels are reduced to a few safe characters: Mermaid has its own syntax, and a quote or a
bracket in a suite or evaluator name must not end the chart early.
"""

from __future__ import annotations

import re

from promptloop.engine.results import RunResult

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:/-]+")


def _label(text: str) -> str:
    return _UNSAFE.sub(" ", text).strip()[:40] or "?"


def _bars(labels: list[str], rates: list[float], title: str) -> str:
    x_axis = ", ".join(f'"{_label(label)}"' for label in labels)
    values = ", ".join(f"{100 * r:.1f}" for r in rates)
    # Horizontal bars and a fixed small size: a chart that fits beside the table, not a page.
    height = 130 + 40 * len(labels)
    return "\n".join(
        [
            "```mermaid",
            "---",
            "config:",
            "  xyChart:",
            "    width: 640",
            f"    height: {height}",
            "  themeVariables:",
            "    xyChart:",
            '      plotColorPalette: "#0969da"',
            "---",
            "xychart-beta horizontal",
            f'    title "{title}"',
            f"    x-axis [{x_axis}]",
            '    y-axis "pass rate (%)" 0 --> 100',
            f"    bar [{values}]",
            "```",
        ]
    )


def pass_rate_chart(result: RunResult) -> str:
    """Base and head side by side for each compared suite; without a base, each evaluator's
    pass rate on head (what failed most). Empty when there is nothing to draw."""
    base = {s.name: s for s in result.baseline}
    labels: list[str] = []
    rates: list[float] = []
    if base:
        for suite in result.suites:
            if suite.name in base:
                labels += [f"{suite.name} base", f"{suite.name} head"]
                rates += [base[suite.name].pass_rate, suite.pass_rate]
        return _bars(labels, rates, "Pass rate, base vs head") if labels else ""
    for suite in result.suites:
        prefix = f"{suite.name}: " if len(result.suites) > 1 else ""
        for ev in suite.evaluators:
            labels.append(f"{prefix}{ev.name}")
            rates.append(ev.pass_rate)
    return _bars(labels, rates, "Pass rate per evaluator") if labels else ""
