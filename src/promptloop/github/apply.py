"""Each action (``github.actions``) carried out as the client's write, or writes, every body
leaving through the outbound step. ``github.reconcile`` decided which actions to take;
``github.publish`` decides when, and what to do when a write fails."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from promptloop.github.actions import (
    Action,
    AwaitEvaluation,
    CommitFiles,
    CommitRevision,
    CreateSummary,
    EditPull,
    EditSummary,
    OpenPull,
    OutdateComment,
    PostReview,
    PutRevision,
    React,
    Reply,
    ResetBranch,
    SupersedeReview,
    WriteCheckRun,
)
from promptloop.github.api import GitHubClient
from promptloop.github.outbound import Outbound, post_placed
from promptloop.github.plan import CheckRunPlan
from promptloop.safety import GITHUB_BODY_LIMIT

CHECK_TITLE_LIMIT = 255


def apply_action(gh: GitHubClient, action: Action, out: Outbound) -> Any:
    """What GitHub answered to ``action`` (a posted review, a URL, a commit's sha, ...)."""
    if isinstance(action, PostReview):
        return post_placed(gh, action, out)
    if isinstance(action, SupersedeReview):
        return gh.edit_review_body(action.number, action.review.id, out.body(action.body))
    if isinstance(action, OutdateComment):
        outdated = gh.mark_outdated(action.comment, out.body(action.body, GITHUB_BODY_LIMIT))
        gh.minimize_comment(outdated)
        return outdated
    if isinstance(action, CreateSummary):
        return gh.create_summary(action.plan.number, out.marked(action.plan.body))
    if isinstance(action, EditSummary):
        plan = action.plan
        return gh.edit_summary(plan.number, action.comment_id, out.marked(plan.body))
    if isinstance(action, WriteCheckRun):
        return _write_check_run(gh, action.plan, action.check_run_id, out)
    if isinstance(action, AwaitEvaluation):
        if action.sha is None:
            raise ValueError("a check run needs the commit it is on; a dry run only lists it")
        return _write_check_run(gh, action.check.on(action.sha), None, out)
    if isinstance(action, CommitRevision):
        c = action.plan
        return gh.commit_file(
            c.branch, c.path, c.text, c.message, c.expected_blob, base_ref=c.base_ref
        )
    if isinstance(action, ResetBranch):
        if action.create:
            return gh.create_branch(action.branch, action.sha, protected=action.protected)
        return gh.move_branch(action.branch, action.sha, protected=action.protected)
    if isinstance(action, PutRevision):
        r = action.plan
        # The blob to replace is GitHub's own view of the branch just (re)set.
        on_branch = gh.branch_file(r.branch, r.path)
        blob = on_branch.blob_sha if on_branch is not None else None
        return gh.put_file(r.branch, r.path, r.text, r.title, blob, protected=(r.base_ref, r.into))
    if isinstance(action, OpenPull):
        r = action.plan
        return gh.open_pull(r.branch, r.into, r.title, out.body(r.body))
    if isinstance(action, EditPull):
        r = action.plan
        return gh.edit_pull(action.pull_number, r.title, out.body(r.body))
    if isinstance(action, React):
        return gh.react(action.comment_id, action.content, review_comment=action.review_comment)
    if isinstance(action, Reply):
        body = out.body(action.body)
        return gh.reply(action.number, body, in_thread_of=action.in_thread_of)
    if isinstance(action, CommitFiles):
        texts = dict(action.texts)
        return gh.commit_files(action.branch, texts, action.message, action.parent_sha)
    raise TypeError(f"unknown action {action!r}")


def _write_check_run(
    gh: GitHubClient, p: CheckRunPlan, check_run_id: int | None, out: Outbound
) -> Any:
    return gh.create_check_run(
        p.head_sha,
        p.name,
        p.conclusion,  # type: ignore[arg-type]
        p.title[:CHECK_TITLE_LIMIT],
        out.marked(p.summary or p.title),
        annotations=[replace(a, message=out.text(a.message)) for a in p.annotations],
        details_url=p.details_url,
        check_run_id=check_run_id,
    )
