"""What one evaluated head says on GitHub: decided from the run's result (findings placed,
revisions offered, the review, the sticky summary and the check run), then published in
order through the one publisher, each later part linking to what the earlier ones became.
Returns what the runner shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptloop.engine.optimization import RunOptimization
from promptloop.engine.results import RunResult
from promptloop.github.deliver import Offer, Revision, deliver_revisions
from promptloop.github.event import PullContext
from promptloop.github.findings import plan_findings_of
from promptloop.github.plan import (
    check_run_plan,
    check_title,
    content_fingerprint,
    merge_same_line,
    review_plan,
    summary_plan,
)
from promptloop.github.publish import Ledger, Publisher
from promptloop.github.review import overall_delta_pp, overall_pass_rate, review_body, verdict_of
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.summary import Link, render_summary
from promptloop.github.target import Target
from promptloop.github.workflow import Annotation
from promptloop.github.writes import Conclusion
from promptloop.project.loader import LoadedConfig
from promptloop.report.files import write_reports
from promptloop.report.markdown import render_markdown
from promptloop.report.spending import forecast_line

_CONCLUSIONS: dict[str, Conclusion] = {
    "pass": "success",
    "fail": "failure",
    "inconclusive": "neutral",
}


@dataclass(frozen=True)
class Speaker:
    """Who speaks for the run, and how: the publisher, the runner's environment, the run's
    own notes so far, and whether comments are wanted and revisions offered."""

    publisher: Publisher
    runtime: ActionsRuntime
    mask: Callable[[str], str]
    comment: bool
    suggest: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def can_comment(self, pull: PullContext | None) -> bool:
        return pull is not None and self.comment and not self.publisher.ledger.read_only

    def notes_now(self) -> tuple[list[str], list[str]]:
        """(notes for the reports, warnings for the runner): the run's own first, then what
        publishing found so far."""
        ledger: Ledger = self.publisher.ledger
        warnings = [*self.warnings, *ledger.warnings]
        return [*self.notes, *ledger.notes, *(f"Warning: {w}" for w in warnings)], warnings


@dataclass(frozen=True)
class Said:
    """What the runner shows, and where on GitHub the run's words are."""

    job_summary: str
    outputs: dict[str, str]
    annotations: list[Annotation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    links: tuple[Link, ...] = ()
    suggestion_url: str | None = None


def say(
    speaker: Speaker,
    pull: PullContext | None,
    target: Target,
    loaded: LoadedConfig,
    result: RunResult,
    revisions: list[Revision],
    root: Path,
    output_dir: Path,
    to_repo: Callable[[Path], str | None],
) -> Said:
    runtime, publisher = speaker.runtime, speaker.publisher
    head_sha = target.head_sha
    # Decide where each finding goes, then offer the revisions (their commits and pull
    # requests come first: the summary links to them).
    inline, unplaced, annotations = plan_findings_of(
        loaded, result, target.files, head_sha, to_repo, root, runtime.run_url
    )
    offer = Offer(
        speaker.suggest,
        speaker.can_comment(pull),
        pull,
        target.files,
        head_sha,
        root,
        target.checkout_sha,
    )
    delivered = deliver_revisions(publisher, runtime, revisions, offer)
    inline += delivered.suggestions
    links = list(delivered.links)
    suggestion_url = delivered.url
    if revisions:
        optimization = RunOptimization(
            markdown="\n\n".join(delivered.blocks), suites={r.suite: r.result for r in revisions}
        )
        result = result.model_copy(update={"optimization": optimization})
    paths = write_reports(result, output_dir)
    for p in paths.values():
        p.write_text(speaker.mask(p.read_text(encoding="utf-8")), encoding="utf-8")

    verdict = verdict_of(result)
    on_github = False
    if speaker.can_comment(pull) and pull is not None:
        placed = [c for c in merge_same_line(inline) if c.line is not None]
        body = review_body(verdict, len(placed), "The summary comment has the numbers.")
        plan = review_plan(pull.number, head_sha, body, placed, superseded_by(runtime, head_sha))
        reviewed = publisher.review(plan, target.files)
        # A re-run posts nothing new: the review this head got earlier is the one to link.
        if reviewed.url:
            links.append(Link("review", reviewed.url))
            if suggestion_url is None and any(c.kind == "suggestion" for c in plan.comments):
                suggestion_url = reviewed.url
        on_github = reviewed.done
    if not on_github:
        # The summary carries what could not become review comments.
        unplaced = [c for c in inline if c.kind != "suggestion"] + unplaced
    repo_url = f"{runtime.server_url}/{runtime.repository}"
    report_md = render_markdown(
        result, head_sha=head_sha, repo_url=repo_url, more_url=runtime.run_url
    )
    content = content_fingerprint(head_sha, report_md)
    job_link = [Link("job summary", runtime.run_url)] if runtime.run_url else []
    notes, _ = speaker.notes_now()
    summary = speaker.mask(
        render_summary(
            report_md,
            notes=notes,
            links=links + job_link,
            unplaced=unplaced,
            report_url=runtime.report_url,
        )
    )
    if speaker.can_comment(pull) and pull is not None:
        summarized = publisher.summary(summary_plan(pull.number, head_sha, content, summary))
        if summarized.done and summarized.url:
            links.append(Link("summary comment", summarized.url))
    # A stopped run still blocks a required check, but as GitHub's own cancelled jobs do:
    # "failure" would tell the author their prompt failed when it was never finished.
    # A spent budget is the user's own limit: the check says the verdict it configured.
    stopped = result.incomplete and not (result.budget and result.budget.exceeded)
    conclusion: Conclusion = "cancelled" if stopped else _CONCLUSIONS[verdict]
    check = check_run_plan(
        head_sha, conclusion, check_title(result), summary, content, annotations, runtime.run_url
    )
    publisher.check_run(check)

    # Notes added while publishing (read-only, failed writes) belong in the job summary too.
    notes, warnings = speaker.notes_now()
    job_summary = render_summary(
        render_markdown(result, head_sha=head_sha, repo_url=repo_url, max_cases=50, chart=True),
        notes=notes,
        links=links,
        unplaced=unplaced,
        findings=inline,
        report_url=runtime.report_url,
        forecast=forecast_line(result.forecast) if result.forecast else None,
    )
    rate = overall_pass_rate(result)
    delta = overall_delta_pp(result)
    outputs = {
        "verdict": verdict,
        "pass-rate": "" if rate is None else f"{rate:.4f}",
        "delta": "" if delta is None else f"{delta:.2f}",
        "results-path": str(paths["results"]),
    }
    return Said(
        job_summary,
        outputs,
        annotations,
        warnings,
        links=tuple(links),
        suggestion_url=suggestion_url,
    )


def say_nothing_changed(
    speaker: Speaker, pull: PullContext | None, head_sha: str, why: str
) -> Said:
    """No suite concerns the change: a neutral check, and earlier findings superseded."""
    publisher, runtime = speaker.publisher, speaker.runtime
    text = f"promptloop: nothing to evaluate ({why})."
    if speaker.can_comment(pull) and pull is not None:
        # A head that undid the prompt change leaves earlier findings stale.
        publisher.supersede(pull.number, head_sha, f"{superseded_by(runtime, head_sha)} ({why})")
    summary = f"## promptloop — skipped\n\n{text}\n"
    plan = check_run_plan(
        head_sha,
        "neutral",
        "promptloop: no prompt changed",
        summary,
        content_fingerprint(head_sha, summary),
        details_url=runtime.run_url,
    )
    publisher.check_run(plan)
    _, warnings = speaker.notes_now()
    outputs = {"verdict": "skipped", "pass-rate": "", "delta": ""}
    return Said(summary, outputs, warnings=warnings, notices=[text])


def superseded_by(runtime: ActionsRuntime, head_sha: str) -> str:
    return f"[{head_sha[:7]}]({runtime.commit_url(head_sha)})"
