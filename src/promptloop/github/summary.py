"""The summary of a run on GitHub (sticky comment, check run, job summary) and the learned
revision's block in it. The report it wraps is already neutralised; notes and the optimizer's
reason are neutralised here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
) -> str:
    """The sticky comment / check-run summary / job summary body (without the hidden marker).

    ``report_md`` (render_markdown) and ``revisions`` are already neutralised; ``notes`` are
    promptloop's own sentences; link URLs come from GitHub. ``findings`` are review comments
    whose full list of critiques belongs here (the job summary their "more" links lead to).
    ``report_url`` is where the run's report.html can be downloaded.
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
            "They concern prompt lines outside this pull request's diff, a provider error, or "
            f"no review could be posted from this run.\n\n{body}"
        )
    complete = [c.complete for c in findings if c.complete]
    if complete:
        parts.append(
            "<details><summary>Every critique of the review comments</summary>\n\n"
            + "\n\n---\n\n".join(complete)
            + "\n\n</details>"
        )
    parts.extend(r.rstrip() for r in revisions)
    if footer:
        parts.append(f"<sub>{footer.lstrip()}")
    return "\n\n".join(p for p in parts if p) + "\n"


def _strip_marker(body: str) -> str:
    return re.sub(r"\n*<!-- promptloop:[^>]*-->\s*$", "", body)


def held_out_line(scores: object) -> str:
    """The suggestion's one line of evidence: its pass count on the held-out test cases,
    which took no part in choosing it (else on validation), or ""."""
    if not isinstance(scores, Mapping):
        return ""
    for key, which in (("test", "held-out test cases"), ("val", "validation cases")):
        before, after = scores.get(f"{key}_before"), scores.get(f"{key}_after")
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            return (
                f"On the {which}: {_passes(before)} passed before, "
                f"{_passes(after)} with this change."
            )
    return ""


def optimizer_account(trajectory: Sequence[Any]) -> str:
    """What the optimizer itself said about the candidates that were kept (``Candidate``-like
    objects, read by duck typing); the run's bookkeeping stays in the trajectory file."""
    said = [getattr(c, "rationale", "") for c in trajectory if getattr(c, "accepted", False)]
    return " ".join(s.strip() for s in said if s and s.strip())


_SPLITS = (
    ("train", "train: the optimizer learned from these"),
    ("val", "validation: chose the revision"),
    ("test", "**test, held out**: took no part in choosing"),
)


def _passes(score: object) -> str:
    if not isinstance(score, Mapping):
        return "—"
    passes, n = int(score.get("passes", 0)), int(score.get("n", 0))
    return f"{passes} of {n}" if n else "—"


def _scores_table(scores: Mapping[str, Any]) -> list[str]:
    rows = [
        f"| {label} | {_passes(scores.get(f'{key}_before'))} | "
        f"{_passes(scores.get(f'{key}_after'))} |"
        for key, label in _SPLITS
        if scores.get(f"{key}_before") or scores.get(f"{key}_after")
    ]
    if not rows:
        return []
    lines = ["| cases | passing before | passing after |", "|---|---:|---:|", *rows]
    p = scores.get("test_p_value")
    if isinstance(p, int | float):
        fixed, broken = int(scores.get("test_fixed", 0)), int(scores.get("test_broken", 0))
        lines += [
            "",
            f"<sub>On the held-out test cases: {fixed} fixed, {broken} broken "
            f"(exact McNemar p = {p:.3g}).</sub>",
        ]
    return lines


def render_revision(
    suite: str,
    path: str,
    rationale: str,
    diff: str,
    scores: Mapping[str, Any] | None,
    where: str,
) -> str:
    """The optimizer's revision for the summary: how it scored, why, the diff, where it went.

    ``rationale`` is the optimizer's own account (``optimizer_account``), shown as a quote."""
    lines = [f"### Learned revision of {inline_code(path)} ({inline_code(suite)})", ""]
    table = _scores_table(scores or {})
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
