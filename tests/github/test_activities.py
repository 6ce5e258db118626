"""The pure parts of `ci`'s comment road and dispatch: which activity an event starts, and
what committing reviewers' verdicts must write, decided from what the branch holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promptloop.dataset.feedback import FeedbackRecord, output_fingerprint
from promptloop.errors import InfraError, UserError
from promptloop.github.actions import (
    CommitFiles,
)
from promptloop.github.activities import find_activity
from promptloop.github.markers import review_marker
from promptloop.github.reconcile import (
    feedback_actions,
    offer_actions,
)
from promptloop.github.state import (
    BranchFile,
    ConflictError,
    ExistingComment,
    PullFile,
    PullFiles,
    ReviewComment,
)

PATH = "evals/greet.feedback.jsonl"


@pytest.mark.parametrize(
    ("event", "activity"),
    [
        ("pull_request", "pull_request"),
        ("pull_request_target", "pull_request"),
        ("push", "push"),
        ("workflow_dispatch", "dispatch"),
        ("schedule", "dispatch"),
        ("merge_group", "merge_group"),
        ("workflow_run", "publish"),
        ("issue_comment", "comment"),
        ("pull_request_review_comment", "comment"),
    ],
)
def test_each_event_starts_one_activity(event: str, activity: str) -> None:
    assert find_activity(event) == activity


def test_an_unknown_event_is_one_clear_line() -> None:
    with pytest.raises(UserError) as info:
        find_activity("release")
    assert "event 'release' is not supported" in info.value.one_line()
    assert info.value.key == "GITHUB_EVENT_NAME"


def test_the_unknown_event_line_lists_every_event_that_starts_an_activity() -> None:
    with pytest.raises(UserError) as info:
        find_activity("release")
    listed = info.value.one_line().split("use one of ", 1)[1].split(", ")
    assert all(find_activity(event) for event in listed)
    assert {"issue_comment", "pull_request_review_comment", "workflow_run"} <= set(listed)


def record(case: str) -> FeedbackRecord:
    return FeedbackRecord(
        case=case,
        output=output_fingerprint(f"Hello {case}"),
        verdict="bad",
        by="dana",
        at=datetime(2026, 12, 1, tzinfo=UTC),
        source="cli",
    )


def test_verdicts_already_on_the_branch_are_not_committed_again() -> None:
    mine = [record("c01"), record("c02")]
    there = BranchFile("feature", "t" * 40, mine[0].to_line() + "\n", "b1")
    actions, tip = feedback_actions("feature", {PATH: mine}, {PATH: there}, "m")
    [commit] = actions
    assert isinstance(commit, CommitFiles) and commit.parent_sha == "t" * 40 and tip is None
    [(path, text)] = commit.texts
    assert path == PATH and text.count('"c01"') == 1 and '"c02"' in text
    # Everything there already (a write that landed unanswered): nothing to do, the tip holds it.
    done = BranchFile("feature", "u" * 40, text, "b2")
    assert feedback_actions("feature", {PATH: mine}, {PATH: done}, "m") == ([], "u" * 40)


def test_reads_of_two_tips_mean_a_push_in_between_and_a_gone_branch_records_nothing() -> None:
    reads = {
        PATH: BranchFile("feature", "a" * 40, "", "b1"),
        "other.jsonl": BranchFile("feature", "b" * 40, "", "b2"),
    }
    records = {PATH: [record("c01")], "other.jsonl": [record("c02")]}
    with pytest.raises(ConflictError):
        feedback_actions("feature", records, reads, "m")
    with pytest.raises(InfraError, match="branch feature is gone; nothing was recorded"):
        feedback_actions("feature", {PATH: [record("c01")]}, {PATH: None}, "m")


def test_an_offered_suggestion_is_offered_once_per_head() -> None:
    files = PullFiles((PullFile(PATH, "modified", "@@ -1,1 +1,2 @@\n a\n+b"),))
    body = f"add them\n\n{review_marker('fb1', 'h' * 40)}"
    comment = ReviewComment(PATH, body, 2)
    [post] = offer_actions(7, "h" * 40, "verdicts", [comment], [], files)
    assert post.describe() == "create a review on #7 for hhhhhhh with 1 inline comment"
    ours = ExistingComment(7, 1, body, PATH, 2, "bot", "u", "fb1", "h" * 40)
    assert offer_actions(7, "h" * 40, "verdicts", [comment], [ours], files) == []
