"""What one evaluated head says on GitHub: decided from what its run produced (an
``Evaluation``: findings placed, revisions offered, the review, the sticky summary and the
check run), the report files written once from the decided result, then published in order
through the one publisher, each later part linking to what the earlier ones became.
Returns what the runner shows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from promptloop.engine.optimization import RunOptimization
from promptloop.engine.results import RunResult, mask_result
from promptloop.github.deliver import Delivered, Offer, Revision, deliver_revisions
from promptloop.github.event import PullContext
from promptloop.github.findings import plan_findings_of
from promptloop.github.ledger import Ledger
from promptloop.github.plan import (
    check_run_plan,
    check_title,
    content_fingerprint,
    merge_same_line,
    review_plan,
    summary_plan,
)
from promptloop.github.publish import Publisher
from promptloop.github.review import PlannedComment, review_body
from promptloop.github.run_figures import (
    advisory_note,
    advisory_only,
    overall_delta_pp,
    overall_pass_rate,
    verdict_status,
)
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.state import PullFiles
from promptloop.github.summary import Link, render_summary
from promptloop.github.target import Target
from promptloop.github.workflow import Annotation
from promptloop.github.writes import Conclusion
from promptloop.project.loaded import LoadedConfig
from promptloop.report.files import write_reports
from promptloop.report.markdown import render_markdown
from promptloop.report.spending import forecast_line
from promptloop.safety import mask_secrets

_CONCLUSIONS: dict[str, Conclusion] = {
    "pass": "success",
    "fail": "failure",
    "inconclusive": "neutral",
}


@dataclass(frozen=True)
class Speaker:
    """Who speaks for the run, and how: the publisher, the runner's environment, the secrets
    to mask, the run's own notes so far, and whether comments are wanted and revisions
    offered."""

    publisher: Publisher
    runtime: ActionsRuntime
    # What no word, report or file of the run may show.
    secrets: tuple[str, ...]
    comment: bool
    suggest: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def can_comment(self, pull: PullContext | None) -> bool:
        return pull is not None and self.comment and not self.publisher.ledger.read_only

    def notes_now(self) -> tuple[list[str], list[str]]:
        """(notes for the reports, warnings for the runner): the run's own first, then what
        publishing found so far."""
        ledger: Ledger = self.publisher.ledger
        warnings = [*self.warnings, *ledger.warnings]
        return [*self.notes, *(f"Warning: {w}" for w in warnings)], warnings


@dataclass(frozen=True)
class Checkout:
    """Where the repository is checked out: its top folder, and how it names a file."""

    root: Path

    def path_of(self, path: Path) -> str | None:
        """``path`` as the repository names it; None for a file outside the checkout."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None


@dataclass(frozen=True)
class Evaluation:
    """What evaluating one head produced, and what it was about: the pull request (None on a
    push, a dispatch or a merge queue's group), the commits and files, the config, the run's
    result, the revisions learned, and where the repository is checked out."""

    pull: PullContext | None
    target: Target
    loaded: LoadedConfig
    result: RunResult
    revisions: tuple[Revision, ...]
    checkout: Checkout

    @property
    def advisory(self) -> frozenset[str]:
        """The suites whose failures are reported but never gate."""
        return self.loaded.config.advisory_suites()


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
    # The result as the report files hold it (masked); None where this job wrote none.
    result: RunResult | None = None


@dataclass(frozen=True)
class Saying:
    """What one evaluated head says on GitHub, decided and not yet published: the review's
    words and inline comments, the summary's parts, the check run's conclusion, title and
    annotations. A fork's read-only run leaves it in its artifact (``github.saying``) for
    the base repository's ``workflow_run`` to publish, word for word, through ``speak``."""

    head_sha: str
    verdict: str
    conclusion: Conclusion
    title: str
    review_body: str
    # Review comments (inline findings and suggestions) and findings for the summary.
    inline: tuple[PlannedComment, ...]
    unplaced: tuple[PlannedComment, ...]
    report_md: str
    notes: tuple[str, ...]
    links: tuple[Link, ...]
    annotations: tuple[Annotation, ...]
    # The run whose job summary holds every critique, and its report.html.
    run_url: str | None
    report_url: str | None
    suggestion_url: str | None = None
    # The figures the action's outputs carry (pass-rate, delta): a publishing run has only
    # the saying to read them from.
    pass_rate: float | None = None
    delta_pp: float | None = None


@dataclass(frozen=True)
class Decided:
    saying: Saying
    # The run's result with the learned revisions' blocks, as the reports show it.
    result: RunResult


def compose(speaker: Speaker, evaluation: Evaluation, *, can_comment: bool) -> Decided:
    """Where each finding goes, the revisions offered (their commits and pull requests are
    published here: the summary links to them), and every word the pull request gets."""
    runtime, target = speaker.runtime, evaluation.target
    head_sha = target.head_sha
    inline, unplaced, annotations = plan_findings_of(
        evaluation.loaded,
        evaluation.result,
        target.files,
        head_sha,
        evaluation.checkout.path_of,
        evaluation.checkout.root,
        runtime.run_url,
    )
    delivered, result = _offer_revisions(speaker, evaluation, can_comment)
    inline += delivered.suggestions
    verdict = verdict_status(result)
    placed = [c for c in merge_same_line(inline) if c.line is not None]
    repo_url = f"{runtime.server_url}/{runtime.repository}"
    report_md = render_markdown(
        result,
        head_sha=head_sha,
        repo_url=repo_url,
        more_url=runtime.run_url,
        pull_request=evaluation.pull is not None,
    )
    conclusion, title = _check(result, verdict, evaluation.advisory)
    note = advisory_note(result, evaluation.advisory)
    saying = Saying(
        head_sha=head_sha,
        verdict=verdict,
        conclusion=conclusion,
        title=title,
        review_body=review_body(verdict, len(placed), "The summary comment has the numbers."),
        inline=tuple(inline),
        unplaced=tuple(unplaced),
        report_md=report_md,
        notes=(*speaker.notes, *([note] if note else [])),
        links=tuple(delivered.links),
        annotations=tuple(annotations),
        run_url=runtime.run_url,
        report_url=runtime.report_url,
        suggestion_url=delivered.url,
        pass_rate=overall_pass_rate(result),
        delta_pp=overall_delta_pp(result),
    )
    return Decided(saying, result)


def _offer_revisions(
    speaker: Speaker, evaluation: Evaluation, can_comment: bool
) -> tuple[Delivered, RunResult]:
    """The learned revisions offered as ``speaker.suggest`` says, and the result carrying
    each one's block as it was offered."""
    target, revisions = evaluation.target, evaluation.revisions
    offer = Offer(
        speaker.suggest,
        can_comment,
        evaluation.pull,
        target.files,
        target.head_sha,
        evaluation.checkout.root,
        target.checkout_sha,
    )
    delivered = deliver_revisions(speaker.publisher, speaker.runtime, list(revisions), offer)
    if not revisions:
        return delivered, evaluation.result
    optimization = RunOptimization(
        markdown="\n\n".join(delivered.blocks), suites={r.suite: r.result for r in revisions}
    )
    return delivered, evaluation.result.model_copy(update={"optimization": optimization})


def _check(result: RunResult, verdict: str, advisory: frozenset[str]) -> tuple[Conclusion, str]:
    """The check run's conclusion and title."""
    # A stopped run still blocks a required check, but as GitHub's own cancelled jobs do:
    # "failure" would tell the author their prompt failed when it was never finished.
    # A spent budget is the user's own limit: the check says the verdict it configured.
    stopped = result.incomplete and not (result.budget and result.budget.exceeded)
    conclusion: Conclusion = "cancelled" if stopped else _CONCLUSIONS[verdict]
    title = check_title(result)
    if advisory_only(result, advisory) and not result.incomplete:
        # Reported in full, and the check says so, but it never fails on advisory suites.
        conclusion = "neutral"
        title = title.replace(": FAIL", ": FAIL (advisory, not gating)", 1)
    return conclusion, title


@dataclass(frozen=True)
class Spoken:
    """Where the words went: the links to them, the summary as posted, the findings that
    did not become review comments."""

    links: tuple[Link, ...]
    suggestion_url: str | None
    unplaced: tuple[PlannedComment, ...]
    summary: str


def speak(speaker: Speaker, number: int | None, saying: Saying, files: PullFiles | None) -> Spoken:
    """Publish ``saying`` in order (``number``: the pull request, None for none): the review,
    then the sticky summary linking to it, then the check run."""
    runtime, publisher = speaker.runtime, speaker.publisher
    head_sha = saying.head_sha
    links = list(saying.links)
    suggestion_url = saying.suggestion_url
    inline = list(saying.inline)
    unplaced = list(saying.unplaced)
    on_github = False
    if number is not None:
        placed = [c for c in merge_same_line(inline) if c.line is not None]
        superseded = superseded_by(runtime, head_sha)
        plan = review_plan(number, head_sha, saying.review_body, placed, superseded)
        reviewed = publisher.review(plan, files)
        # A re-run posts nothing new: the review this head got earlier is the one to link.
        if reviewed.url:
            links.append(Link("review", reviewed.url))
            if suggestion_url is None and any(c.kind == "suggestion" for c in plan.comments):
                suggestion_url = reviewed.url
        on_github = reviewed.done
    if not on_github:
        # The summary carries what could not become review comments.
        unplaced = [c for c in inline if c.kind != "suggestion"] + unplaced
    job_link = [Link("job summary", saying.run_url)] if saying.run_url else []
    notes = [*saying.notes, *_publishing_notes(speaker)]
    # What the summary says of this head, without this run's links: a re-run that says the
    # same leaves GitHub untouched, one whose notes or unplaced findings changed edits it.
    said = render_summary(saying.report_md, notes=notes, unplaced=unplaced)
    content = content_fingerprint(head_sha, said)
    summary = speaker.mask(
        render_summary(
            saying.report_md,
            notes=notes,
            links=links + job_link,
            unplaced=unplaced,
            report_url=saying.report_url,
        )
    )
    if number is not None:
        summarized = publisher.summary(summary_plan(number, head_sha, content, summary))
        if summarized.done and summarized.url:
            links.append(Link("summary comment", summarized.url))
    check = check_run_plan(
        head_sha,
        saying.conclusion,
        saying.title,
        summary,
        content,
        saying.annotations,
        saying.run_url,
    )
    publisher.check_run(check)
    return Spoken(tuple(links), suggestion_url, tuple(unplaced), summary)


def _publishing_notes(speaker: Speaker) -> list[str]:
    """What publishing found so far (read-only, failed writes), after the run's own notes."""
    ledger: Ledger = speaker.publisher.ledger
    warnings = [*speaker.warnings, *ledger.warnings]
    return [f"Warning: {w}" for w in warnings]


def say(speaker: Speaker, evaluation: Evaluation, output_dir: Path) -> Said:
    """Decide, write the report files, publish; returns what the runner shows. The reports
    follow the decision: they show each revision as it was offered."""
    pull = evaluation.pull
    can_comment = speaker.can_comment(pull)
    decided = compose(speaker, evaluation, can_comment=can_comment)
    # Masked before it is written: masking the written text would take report.html's
    # Content-Security-Policy hashes for tokens, and the page would lose its style and script.
    reported = mask_result(decided.result, speaker.secrets)
    reports = write_reports(reported, output_dir)
    number = pull.number if pull is not None and can_comment else None
    spoken = speak(speaker, number, decided.saying, evaluation.target.files)
    return _shown(speaker, decided, spoken, reports["results"], reported, pull is not None)


def _shown(
    speaker: Speaker,
    decided: Decided,
    spoken: Spoken,
    results_path: Path,
    reported: RunResult,
    pull_request: bool,
) -> Said:
    """What the runner shows: the job summary (every case, the chart, what publishing met)
    and the step's outputs; ``pull_request``: the run is a pull request's."""
    runtime, result, saying = speaker.runtime, decided.result, decided.saying
    # Notes added while publishing (read-only, failed writes) belong in the job summary too.
    notes, warnings = replace(speaker, notes=saying.notes).notes_now()
    repo_url = f"{runtime.server_url}/{runtime.repository}"
    job_summary = render_summary(
        render_markdown(
            result,
            head_sha=saying.head_sha,
            repo_url=repo_url,
            max_cases=50,
            chart=True,
            pull_request=pull_request,
        ),
        notes=notes,
        links=spoken.links,
        unplaced=spoken.unplaced,
        findings=saying.inline,
        report_url=runtime.report_url,
        forecast=forecast_line(result.forecast) if result.forecast else None,
    )
    rate, delta = saying.pass_rate, saying.delta_pp
    outputs = {
        "verdict": saying.verdict,
        "pass-rate": "" if rate is None else f"{rate:.4f}",
        "delta": "" if delta is None else f"{delta:.2f}",
        "results-path": str(results_path),
    }
    return Said(
        job_summary,
        outputs,
        list(saying.annotations),
        warnings,
        links=spoken.links,
        suggestion_url=spoken.suggestion_url,
        result=reported,
    )


def say_nothing_changed(
    speaker: Speaker, pull: PullContext | None, head_sha: str, why: str
) -> Said:
    """No suite concerns the change: a neutral check, and earlier findings superseded."""
    publisher, runtime = speaker.publisher, speaker.runtime
    # The notice's title already names promptloop.
    text = f"There is nothing to evaluate: {why}."
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
