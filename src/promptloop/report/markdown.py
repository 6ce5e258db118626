"""report.md: the Markdown a PR comment carries. Everything from a model or a dataset is
neutralised here, because this text is posted to GitHub as is."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from promptloop.engine.comparison import ComparisonSummary
from promptloop.engine.results import CaseRecord, ReviewRecord, RunResult, SuiteResult
from promptloop.report.chart import pass_rate_chart
from promptloop.report.figures import (
    change_with_interval,
    format_p,
    outputs_line,
    rate_with_interval,
    second_look_line,
    signed,
)
from promptloop.report.headline import ICONS, headline, on_head
from promptloop.report.names import REVIEW_STATE, case_labels, commit_url, short_sha
from promptloop.report.spending import budget_line
from promptloop.safety import inline_code, neutralize
from promptloop.wording import one_line, pct, plural

_BLANK_RUNS = re.compile(r"\n{3,}")
# Where the learned revision goes; NUL cannot come from the template or from a suite name.
_REVISION = "\x00revision\x00"


def _pvalue(cmp: ComparisonSummary | None) -> str:
    """The first look's one-sided p-value, like the Δ and interval beside it; the second
    look's figures have their own line."""
    if cmp is None:
        return "—"
    return format_p(cmp.p_worse)


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


def review_line(review: ReviewRecord, label: str) -> str:
    """One reviewer's verdict as a list item; the login and the note are untrusted."""
    said = "👎 bad" if review.verdict == "bad" else "👍 good"
    note = f": “{_inline(one_line(review.note, 300))}”" if review.note.strip() else ""
    return (
        f"**{_inline(label)}**: {said}, by {_inline(review.by)}{note} — "
        f"{REVIEW_STATE[review.status]}"
    )


_REVIEW_COUNTED = {"applied": "applied", "unused": "not counted", "changed": "on a changed output"}


def reviews_title(reviews: list[ReviewRecord]) -> str:
    """ "2 reviewer verdicts (1 applied, 1 on a changed output)"."""
    counts = {status: sum(1 for r in reviews if r.status == status) for status in _REVIEW_COUNTED}
    parts = [f"{n} {_REVIEW_COUNTED[status]}" for status, n in counts.items() if n]
    return f"{plural(len(reviews), 'reviewer verdict')} ({', '.join(parts)})"


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


def _share(suite: SuiteResult) -> str:
    passed, failed, _ = suite.counts
    n = passed + failed
    return f"{pct(passed / n)} ({passed} of {n})" if n else "n/a"


def _full_delta(cmp: ComparisonSummary | None) -> str:
    if cmp is None:
        return "—"
    return f"{signed(cmp.delta_pp)} [{signed(cmp.delta_lo_pp)}, {signed(cmp.delta_hi_pp)}]"


def _when(created_at: str) -> str:
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _commit(ref: str, repo_url: str | None) -> str:
    url = commit_url(repo_url, ref)
    shown = inline_code(short_sha(ref))
    return f"[{shown}]({url})" if url else shown


def _commits_line(result: RunResult, head_sha: str | None, repo_url: str | None) -> str:
    """Which commits were compared and when; a <sub> line, so content fingerprints skip it."""
    parts = []
    if head_sha:
        parts.append(f"Head {_commit(head_sha, repo_url)}")
    if result.baseline_ref:
        against = "against base" if parts else "Against base"
        parts.append(f"{against} {_commit(result.baseline_ref, repo_url)}")
    text = " ".join(parts)
    return f"{text} · {_when(result.created_at)}" if text else f"Run {_when(result.created_at)}"


def render_markdown(
    result: RunResult,
    *,
    max_cases: int = 5,
    head_sha: str | None = None,
    repo_url: str | None = None,
    more_url: str | None = None,
    chart: bool = False,
    more_where: str = "results.json",
    pull_request: bool = False,
) -> str:
    """``head_sha`` and ``repo_url`` name and link the commits; ``more_url`` is where a
    reader finds the cases a list leaves out (the job summary); ``chart`` adds a Mermaid
    chart, for the job summary (it takes a screen of the PR conversation for little);
    ``pull_request``: the text goes on a pull request, and speaks of it."""

    def more(n: int) -> str:
        where = f"[the job summary]({more_url})" if more_url else more_where
        return f"<sub>… and {n} more in {where}</sub>"

    def verdict_cell(name: str) -> str:
        verdict = result.verdicts.get(name)
        return f"{ICONS[verdict.status]} {verdict.status}" if verdict else "—"

    labels = {s.name: case_labels([*s.cases, *base_cases(result, s.name)]) for s in result.suites}
    template = _environment().get_template("report.md.j2")
    text = template.render(
        result=result,
        revision=_REVISION,
        head=headline(result, pull_request=pull_request),
        on_head=on_head(pull_request=pull_request),
        base={s.name: s for s in result.baseline},
        ref=short_sha(result.baseline_ref or ""),
        commits=_commits_line(result, head_sha, repo_url),
        chart=pass_rate_chart(result) if chart else "",
        labels=labels,
        icon=ICONS,
        rate=rate_with_interval,
        share=_share,
        pct=pct,
        plural=plural,
        delta=change_with_interval,
        full_delta=_full_delta,
        pvalue=_pvalue,
        more=more,
        verdict_cell=verdict_cell,
        second_look_line=second_look_line,
        outputs_line=outputs_line,
        review_line=review_line,
        reviews_title=reviews_title,
        max_cases=max_cases,
        spent=budget_line(result),
    )
    # Blank lines collapse here, before the revision goes in: its diff is shown verbatim.
    text = _BLANK_RUNS.sub("\n\n", text)
    revision = result.optimization.markdown if result.optimization is not None else ""
    return text.replace(_REVISION, revision)


def base_cases(result: RunResult, name: str) -> list[CaseRecord]:
    return next((s.cases for s in result.baseline if s.name == name), [])


# report.md on disk lists every failure (a pull-request comment, with its size limit,
# lists five); past this many, the rest are in report.html, which holds every case.
REPORT_FILE_CASES = 1000


def write_markdown(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        render_markdown(result, max_cases=REPORT_FILE_CASES, more_where="report.html (every case)"),
        encoding="utf-8",
    )
