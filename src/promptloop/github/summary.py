"""The summary of a run on GitHub (sticky comment, check run, job summary) and the learned
revision's block in it. The report it wraps is already neutralised; notes and the optimizer's
reason are neutralised here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.engine.optimization import Candidate, Scores, SplitScore
from promptloop.github.review import PlannedComment
from promptloop.safety import code_block, inline_code, neutralize
from promptloop.wording import one_line


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def render_summary(
    report_md: str,
    *,
    notes: Sequence[str] = (),
    links: Sequence[Link] = (),
    unplaced: Sequence[PlannedComment] = (),
    revisions: Sequence[str] = (),
    findings: Sequence[PlannedComment] = (),
    report_url: str | None = None,
    forecast: str | None = None,
) -> str:
    """The sticky comment / check-run summary / job summary body (without the hidden marker).

    ``report_md`` (render_markdown) and ``revisions`` are already neutralised; ``notes`` are
    promptloop's own sentences; link URLs come from GitHub. ``findings`` are review comments
    whose full list of critiques belongs here (the job summary their "more" links lead to).
    ``report_url`` is where the run's report.html can be downloaded; ``forecast`` is what
    the run was forecast to cost (``report.spending.forecast_line``), for the job summary.
    """
    # The report's closing <sub> stats line stays last, after what this run adds.
    body, sep, footer = report_md.rstrip().rpartition("\n<sub>")
    if not sep:
        body, footer = report_md.rstrip(), ""
    parts = [body.rstrip()]
    if report_url:
        parts.append(
            f"**[Open the full report]({report_url})**: report.html in this run's artifacts, "
            "every case's base and head outputs side by side with the critiques."
        )
    if notes:
        # One paragraph each: consecutive quoted lines would run together into one.
        parts.append("\n>\n".join(f"> {neutralize(n)}" for n in notes))
    if links:
        parts.append("See " + " · ".join(f"[the {lk.label}]({lk.url})" for lk in links) + ".")
    if unplaced:
        body = "\n\n---\n\n".join(_strip_marker(c.body) for c in unplaced)
        parts.append(
            "### Findings not posted as review comments\n\n"
            "They concern prompt lines outside the pull request's diff or a provider error, or "
            "this run posted no review (a push, a merge group, `comment: off`, or a token that "
            f"may not write).\n\n{body}"
        )
    complete = [c.complete for c in findings if c.complete]
    if complete:
        parts.append(
            "<details><summary>Every reason given in the review comments</summary>\n\n"
            + "\n\n---\n\n".join(complete)
            + "\n\n</details>"
        )
    parts.extend(r.rstrip() for r in revisions)
    if forecast:
        parts.append(forecast)
    if footer:
        parts.append(f"<sub>{footer.lstrip()}")
    return "\n\n".join(p for p in parts if p) + "\n"


def _strip_marker(body: str) -> str:
    return re.sub(r"\n*<!-- promptloop:[^>]*-->\s*$", "", body)


def held_out_line(scores: Scores) -> str:
    """The suggestion's one line of evidence: its pass count on the held-out test cases,
    which took no part in choosing it (else on validation), or ""."""
    for before, after, which in (
        (scores.test_before, scores.test_after, "held-out test cases"),
        (scores.val_before, scores.val_after, "validation cases"),
    ):
        if before is not None and after is not None:
            return (
                f"On the {which}: {_passes(before)} passed before, "
                f"{_passes(after)} with this change."
            )
    return ""


def optimizer_account(trajectory: Sequence[Candidate]) -> str:
    """What the optimizer itself said about the candidates that were kept; the run's
    bookkeeping stays in the trajectory file."""
    said = [c.rationale for c in trajectory if c.accepted]
    return " ".join(s.strip() for s in said if s.strip())


_SPLIT_LABELS = (
    "train: the optimizer learned from these",
    "validation: chose the revision",
    "**test, held out**: took no part in choosing",
)


def _passes(score: SplitScore | None) -> str:
    return f"{score.passes} of {score.n}" if score is not None and score.n else "—"


def _scores_table(scores: Scores) -> list[str]:
    splits = (
        (scores.train_before, scores.train_after),
        (scores.val_before, scores.val_after),
        (scores.test_before, scores.test_after),
    )
    rows = [
        f"| {label} | {_passes(before)} | {_passes(after)} |"
        for label, (before, after) in zip(_SPLIT_LABELS, splits, strict=True)
        if before is not None or after is not None
    ]
    if not rows:
        return []
    lines = ["| cases | passing before | passing after |", "|---|---:|---:|", *rows]
    p = scores.test_p_value
    if p is not None:
        lines += [
            "",
            f"<sub>On the held-out test cases: {scores.test_fixed} fixed, "
            f"{scores.test_broken} broken (exact McNemar p = {p:.3g}).</sub>",
        ]
    return lines


def render_revision(
    suite: str,
    path: str,
    rationale: str,
    diff: str,
    scores: Scores | None,
    where: str,
) -> str:
    """The optimizer's revision for the summary: how it scored, why, the diff, where it went.

    ``rationale`` is the optimizer's own account (``optimizer_account``), shown as a quote."""
    lines = [f"### Learned revision of {inline_code(path)} ({inline_code(suite)})", ""]
    table = _scores_table(scores) if scores is not None else []
    if table:
        lines += [*table, ""]
    if rationale.strip():
        lines += [f"> **The optimizer's reason:** {neutralize(one_line(rationale, 400))}", ""]
    lines.append(where)
    lines += [
        "",
        "<details><summary>diff</summary>",
        "",
        code_block(diff, "diff"),
        "",
        "</details>",
    ]
    return "\n".join(lines)


class Offered:
    """Where a learned revision went, as its block in the summary says."""

    IN_REVIEW = "Offered as suggested changes in the review: commit them from there."
    NO_REVIEW = "No review is posted from this run; apply the diff below by hand."
    HOLDS_A_SECRET = "It contains a secret, so promptloop does not commit it anywhere."
    BY_HAND = "It touches lines outside this diff; apply the diff below by hand."
    FROM_A_FORK = (
        "It touches lines outside this diff and the PR comes from a fork, so it is not "
        "pushed anywhere; apply the diff below by hand."
    )
    NOT_IN_HEAD = "It could not be committed (the file is not in the head commit)."
    COMMIT_FAILED = "Committing it failed; see the warnings above."
    PULL_FAILED = "Opening a pull request with it failed; see the warnings above."
    OUTSIDE_THE_DIFF = (
        "It touches lines outside this diff, so it cannot be a suggested change; apply the "
        "diff below, or set `suggest: commit` or `suggest: pull-request`."
    )

    @staticmethod
    def not_committed(why: str) -> str:
        return f"It was not committed: {why}."

    @staticmethod
    def would_commit(branch: str) -> str:
        return f"It would be committed to {inline_code(branch)} (dry run)."

    @staticmethod
    def committed(branch: str, url: str, flagged: bool) -> str:
        """``flagged``: the commit's waiting check run (``not_evaluated``) is on GitHub."""
        so = (
            'its `promptloop` check waits as "action required"'
            if flagged
            else "nothing evaluates it"
        )
        return (
            f"Committed to {inline_code(branch)} as {url}. A commit pushed with the "
            f"workflow's token starts no workflow, so {so}: push any commit to have it "
            "evaluated."
        )

    @staticmethod
    def would_open(into: str) -> str:
        return f"It would be offered as a pull request into {inline_code(into)} (dry run)."

    @staticmethod
    def opened(into: str, url: str) -> str:
        return f"Opened as a pull request into {inline_code(into)}: {url}"

    @staticmethod
    def pull_body(path: str, number: int, head_ref: str) -> str:
        return (
            f"A revision of {inline_code(path)} learned from the critiques on "
            f"#{number}. Merge it into {inline_code(head_ref)} to take it."
        )


NOT_EVALUATED = "Not evaluated yet"


def not_evaluated(path: str, branch: str) -> str:
    """The waiting check run's summary on the commit promptloop pushed (``AwaitingCheck``)."""
    return (
        "## promptloop — not evaluated yet\n\n"
        f"promptloop pushed this learned revision of {inline_code(path)} onto "
        f"{inline_code(branch)}. Commits pushed with the workflow's token start no workflow, "
        "so nothing has evaluated this commit as a whole, and a required `promptloop` check "
        "waits here.\n\n"
        "To have it evaluated, push any commit (or an empty one: "
        "`git commit --allow-empty -m evaluate && git push`), or give the action a token "
        "that starts workflows (a GitHub App's or a personal access token as "
        "`github-token`). That run turns this check into its verdict.\n"
    )
