"""Console tables for a person reading a terminal or a CI log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from promptloop.engine.results import CaseRecord, RunResult, SuiteResult
from promptloop.report.figures import (
    change_with_interval,
    confirmation_line,
    outputs_line,
    rate_with_interval,
)
from promptloop.report.headline import headline
from promptloop.report.names import REVIEW_STATE, case_label, case_labels
from promptloop.report.spending import budget_line
from promptloop.wording import pct, plural

if TYPE_CHECKING:
    from promptloop.engine.optimization import SplitScore
    from promptloop.optimize.result import OptimizeOutcome

_STATUS_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "error": "magenta"}


def _clip(text: str | None, limit: int = 100) -> str:
    if text is None:
        return "—"
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


# Narrower than this, or too narrow for the table's cells whole, the summary is one block
# per suite instead of a table whose figures wrap mid-number.
WIDE_SUMMARY = 100
# What `--show` lists below the tables.
Show = Literal["failing", "broken", "all"]


def _summary_row(result: RunResult, suite: SuiteResult) -> dict[str, str]:
    passed, failed, errored = suite.counts
    verdict = result.verdicts.get(suite.name)
    row = {
        "suite": suite.name,
        "model": suite.model,
        "pass rate [95% CI]": rate_with_interval(suite),
        "pass": str(passed),
        "fail": str(failed),
        "error": str(errored),
        "threshold": pct(suite.threshold) if suite.threshold is not None else "—",
    }
    base = {s.name: s for s in result.baseline}
    if base:
        row["base pass rate"] = rate_with_interval(base[suite.name]) if suite.name in base else "—"
        row["change [95% CI]"] = change_with_interval(result.comparisons.get(suite.name))
    row["verdict"] = verdict.status if verdict else "—"
    return row


def _print_summary(result: RunResult, console: Console) -> None:
    rows = [_summary_row(result, suite) for suite in result.suites]
    if not rows:
        return
    summary = Table(title="promptloop results", title_justify="left")
    for name in rows[0]:
        summary.add_column(
            name,
            justify="left" if name in ("suite", "model", "verdict") else "right",
            overflow="fold",
        )
    for row in rows:
        summary.add_row(*row.values())
    natural = Measurement.get(console, console.options.update_width(10_000), summary)
    fits = natural.maximum <= console.width
    if console.width < WIDE_SUMMARY or not fits:
        # A ten-column table cut to 80 columns loses the figures; a block per suite wraps.
        console.print(Text("promptloop results", style="italic"))
        for row in rows:
            status = row["verdict"]
            console.print(
                Text.assemble((row["suite"], "bold"), "  ", (status, _STATUS_STYLE.get(status, "")))
            )
            lines = [
                f"pass rate {row['pass rate [95% CI]']} · {row['pass']} pass, "
                f"{row['fail']} fail, {row['error']} error · threshold {row['threshold']}",
            ]
            if "base pass rate" in row:
                lines.append(f"base {row['base pass rate']} · change {row['change [95% CI]']}")
            lines.append(f"model {row['model']}")
            for line in lines:
                console.print(Text(f"  {line}"), highlight=False)
        return
    console.print(summary)


def print_run(
    result: RunResult,
    console: Console,
    *,
    max_failures: int = 8,
    show: Show = "failing",
    verbose: bool = False,
) -> None:
    """Verdict and next step first, as on the pull request; then the table, then detail."""
    head = headline(result)
    if head is not None:
        style = _STATUS_STYLE.get(head.status, "")
        console.print(Text(f"Verdict: {head.status.upper()} — {head.why}", style=style))
        console.print(Text(f"Next: {head.next_step[:1].upper()}{head.next_step[1:]}"))
    _print_summary(result, console)
    for name, verdict in result.verdicts.items():
        # The headline already quotes the gate when it had nothing shorter to say.
        if head is None or verdict.reason.rstrip(".")[1:] not in head.why:
            console.print(Text(f"Gate, {name}: {verdict.reason}", style="dim"))

    for suite in result.suites:
        if suite.evaluators:
            table = Table(title=f"{suite.name}: evaluators", title_justify="left")
            table.add_column("evaluator")
            table.add_column("pass rate", justify="right")
            table.add_column("pass", justify="right")
            table.add_column("fail", justify="right")
            table.add_column("error", justify="right")
            for ev in suite.evaluators:
                table.add_row(
                    ev.name, pct(ev.pass_rate), str(ev.passed), str(ev.failed), str(ev.errored)
                )
            console.print(table)
        if suite.reviews:
            _print_reviews(console, suite)
        limit = None if verbose else max_failures
        for title, listed in _listings(result, suite, show):
            _print_cases(console, f"{suite.name}: {title} ({len(listed)})", listed, limit)
    if show == "broken" and not result.comparisons:
        console.print(
            Text("--show broken lists cases broken since a baseline: add --baseline REF."),
            style="yellow",
        )

    for name, comparison in result.comparisons.items():
        console.print(
            f"[bold]{name}[/bold] vs {result.baseline_ref}: "
            f"{len(comparison.fixed)} fixed, {len(comparison.broken)} broken"
        )
        console.print(f"  {outputs_line(comparison)}", highlight=False)
        if comparison.confirmation is not None:
            console.print(f"  {confirmation_line(comparison.confirmation)}", highlight=False)

    # The summary on stdout stands alone: warnings (unused variables, skipped baselines,
    # the embedded model) are repeated here even if stderr showed some of them earlier.
    for notice in result.notices:
        console.print(Text(f"note: {notice}", style="yellow"))
    usage = result.usage
    console.print(
        f"Model calls {usage.model_calls} (cache hits {usage.cache_hits}) · "
        f"tokens {usage.prompt_tokens} in / {usage.completion_tokens} out · "
        f"cost ${usage.cost_usd:.4f} · wall time {result.wall_s:.1f}s"
    )
    spent = budget_line(result)
    if spent is not None:
        exceeded = result.budget is not None and result.budget.exceeded
        console.print(Text(spent, style="magenta" if exceeded else ""))


def _print_reviews(console: Console, suite: SuiteResult) -> None:
    """People's verdicts apart from the evaluators' and judges' reasons."""
    table = Table(title=f"{suite.name}: reviewers' verdicts", title_justify="left")
    table.add_column("case")
    table.add_column("verdict")
    table.add_column("by")
    table.add_column("note", max_width=70)
    table.add_column("stands")
    labels = case_labels(suite.cases)
    for review in suite.reviews:
        table.add_row(
            Text(labels.get(review.case_id, review.case_id)),
            Text(review.verdict, style="green" if review.verdict == "good" else "red"),
            Text(review.by),
            Text(_clip(review.note, 160) if review.note else "—"),
            REVIEW_STATE[review.status],
        )
    console.print(table)


def _listings(
    result: RunResult, suite: SuiteResult, show: Show
) -> list[tuple[str, list[CaseRecord]]]:
    """The case tables `--show` asks for, each with its title."""
    if show == "all":
        return [("every case", list(suite.cases))] if suite.cases else []
    if show == "broken":
        comparison = result.comparisons.get(suite.name)
        broken = {c.case_id for c in comparison.broken} if comparison else set()
        listed = [c for c in suite.cases if c.id in broken]
        return [("broken since the baseline", listed)] if listed else []
    # Errors (the model never answered) are listed apart: they say nothing about the prompt.
    out = []
    for status, title in (("fail", "failing cases"), ("error", "errored cases")):
        listed = [c for c in suite.cases if c.status == status]
        if listed:
            out.append((title, listed))
    return out


def shorten_label(label: str, width: int = 40) -> str:
    """``…/evals/summaries.jsonl:12``: a long name loses its folders, never its line."""
    if len(label) <= width:
        return label
    path, colon, line = label.rpartition(":")
    if colon and line.isdigit():
        keep = width - len(line) - 2
        return "…" + path[-keep:] + ":" + line if keep > 0 else label
    return label[: width - 1] + "…"


def _print_cases(console: Console, title: str, cases: list[CaseRecord], limit: int | None) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("case", overflow="fold")
    table.add_column("status")
    table.add_column("output", max_width=50)
    table.add_column("why", max_width=70)
    shown = cases if limit is None else cases[:limit]
    for case in shown:
        label = shorten_label(case_label(case))
        if case.messages:
            label += f"\n({plural(len(case.messages), 'earlier turn')})"
        table.add_row(
            Text(label),
            Text(case.status, style=_STATUS_STYLE[case.status]),
            # Text, not markup: a model's "[tool call]" or "[/]" is shown as written.
            Text(_clip(case.shown_output, 80 if limit is not None else 2000)),
            Text(_clip(case.reasons, 160 if limit is not None else 4000)),
        )
    console.print(table)
    if len(cases) > len(shown):
        console.print(
            f"  … and {len(cases) - len(shown)} more: `promptloop run -v` lists them all "
            "(the answers come from the cache); report.html has every case",
            highlight=False,
        )


def print_optimization(outcome: OptimizeOutcome, console: Console) -> None:
    result = outcome.result
    scores = result.scores
    table = Table(
        title=f"{outcome.plan.name}: prompt learning ({result.mode} mode)", title_justify="left"
    )
    table.add_column("split")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for label, before, after in (
        ("train", scores.train_before, scores.train_after),
        ("validation", scores.val_before, scores.val_after),
        ("test (held out)", scores.test_before, scores.test_after),
    ):
        table.add_row(label, _split(before), _split(after))
    console.print(table)
    if scores.test_p_value is not None:
        console.print(
            f"Held-out test: {scores.test_fixed} fixed, {scores.test_broken} broken, "
            f"exact McNemar p = {scores.test_p_value:.3g}"
        )
    if result.trajectory:
        _print_candidates(console, outcome)
    accepted = sum(1 for c in result.trajectory if c.accepted)
    console.print(
        f"Candidates: {len(result.trajectory)} tried, {accepted} accepted · "
        f"{result.calls_used} model calls · ${result.usd_used:.4f} · "
        f"stopped: {result.stop_reason}"
    )
    for error in result.errors:
        console.print(Text(f"optimizer error: {error}", style="magenta"))
    if result.rationale:
        console.print(result.rationale)
    # Paths are soft-wrapped so a narrow terminal never breaks one across lines for copying.
    if result.improved and outcome.written_to is not None:
        console.print(
            Text(f"Revised prompt written to {outcome.written_to}", style="green"), soft_wrap=True
        )
        if outcome.diff_path is not None:
            console.print(f"Diff: {outcome.diff_path}", soft_wrap=True)
    elif result.status == "error" and result.stop_reason in ("budget", "usd"):
        console.print(
            Text(
                "The budget allows no round (raise --max-calls or --max-usd); "
                "nothing is suggested.",
                style="magenta",
            )
        )
    elif result.status == "error":
        console.print(Text("The optimizer failed; nothing is suggested.", style="magenta"))
    elif any(c.val_after is not None for c in result.trajectory):
        # The rationale above already said no candidate beat it, and why.
        console.print(Text("The prompt file is unchanged: nothing is suggested.", style="yellow"))
    else:
        # Every reply was refused (or identical) before validation; say so, not "beaten".
        console.print(
            Text(
                "The optimizer proposed no usable candidate, so nothing is suggested.",
                style="yellow",
            )
        )
    console.print(f"Trajectory: {outcome.result_path}", soft_wrap=True)


def _print_candidates(console: Console, outcome: OptimizeOutcome) -> None:
    """Every candidate and why it won or lost: the reason to trust (or rerun) the answer."""
    table = Table(title=f"{outcome.plan.name}: candidates", title_justify="left")
    table.add_column("round", justify="right")
    table.add_column("result")
    table.add_column("validation", justify="right")
    table.add_column("why", ratio=1)
    for candidate in outcome.result.trajectory:
        before, after = candidate.val_before, candidate.val_after
        scores = f"{before.passes}→{after.passes}/{after.n}" if before and after else "—"
        table.add_row(
            f"{candidate.round}.{candidate.attempt}",
            Text("accepted", style="green") if candidate.accepted else Text("lost", style="red"),
            scores,
            # The guards' and the optimizer's words are the model's: shown as text, not markup.
            Text(_clip(candidate.why, 200)),
        )
    console.print(table)


def _split(score: SplitScore | None) -> str:
    if score is None:
        return "—"
    return f"{score.passes}/{score.n} ({pct(score.pass_rate)})"
