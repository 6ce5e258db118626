"""What promptloop decides to do with one reviewer comment, from facts alone (pure: no HTTP,
no checkout)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import pytest

from promptloop.dataset.cases import Case
from promptloop.dataset.naming import CaseNames
from promptloop.errors import InfraError
from promptloop.github.comment_commands import HELP, CommentEvent
from promptloop.github.comment_plan import CommentFacts, CommentPlan, Need, plan_comment
from promptloop.github.state import PullHead

REPO = "acme/site"
HEAD = PullHead("feature", "b" * 40, REPO, "main", "a" * 40)
CASES = {
    "greet": CaseNames.of(
        [
            Case(id="c01-ada", vars={"name": "Ada"}, source="evals/greet.jsonl:1"),
            Case(id="c02-brook", vars={"name": "Brook"}, source="evals/greet.jsonl:2"),
        ]
    )
}


def comment(
    body: str,
    *,
    author: str = "dana",
    bot: bool = False,
    kind: Literal["issue", "review"] = "issue",
    thread_id: int | None = None,
    action: str = "created",
) -> CommentEvent:
    return CommentEvent(kind, action, 7, 101, body, author, bot, "", thread_id)


def facts(event: CommentEvent | None, **read: object) -> CommentFacts:
    """Everything read up to the outputs, as a maintainer's comment on a branch of REPO."""
    known = CommentFacts(
        event,
        REPO,
        own_login="promptloop-bot",
        role="write",
        head=HEAD,
        checked_out=HEAD.head_sha,
        cases=CASES,
    )
    return replace(known, **read)  # type: ignore[arg-type]


def plan(f: CommentFacts) -> CommentPlan:
    decided = plan_comment(f)
    assert isinstance(decided, CommentPlan), decided
    return decided


def test_an_edit_or_a_non_pull_request_comment_is_ignored() -> None:
    assert plan(CommentFacts(None)) == CommentPlan("not a new comment on a pull request")
    edited = CommentFacts(comment("/promptloop bad c01-ada: x", action="edited"))
    assert plan(edited).reaction is None


def test_the_first_read_is_who_promptloop_is() -> None:
    assert plan_comment(CommentFacts(comment("/promptloop help"), REPO)) == Need("login")


@pytest.mark.parametrize(
    "event", [comment("/promptloop help", bot=True), comment("/promptloop help", author="me")]
)
def test_a_bot_or_promptloop_itself_gets_no_answer_and_costs_no_permission_read(
    event: CommentEvent,
) -> None:
    decided = plan(CommentFacts(event, REPO, own_login="me"))
    assert decided == CommentPlan("written by a bot")


def test_an_unknown_own_login_does_not_make_everyone_promptloop() -> None:
    unknown = CommentFacts(comment("/promptloop help"), REPO, own_login="")
    assert plan_comment(unknown) == Need("role")


def test_a_comment_without_a_command_is_left_alone() -> None:
    decided = plan(CommentFacts(comment("Looks good to me"), REPO, own_login="x"))
    assert decided == CommentPlan("no command")


def test_without_write_permission_the_answer_is_a_refusal_and_nothing_else_is_read() -> None:
    decided = plan(CommentFacts(comment("/promptloop bad c01-ada: x"), REPO, "x", role="triage"))
    assert (decided.outcome, decided.reaction) == ("refused: no write permission", "-1")
    assert "(yours: triage)" in decided.reply
    assert not decided.record


def test_with_permission_the_next_read_is_the_head() -> None:
    f = CommentFacts(comment("/promptloop bad c01-ada: x"), REPO, "x", role="maintain")
    assert plan_comment(f) == Need("head")


@pytest.mark.parametrize("fork", ["someone/site", None])
def test_a_fork_or_a_deleted_fork_is_refused_before_the_checkout_is_read(
    fork: str | None,
) -> None:
    f = CommentFacts(
        comment("/promptloop bad c01-ada: too stiff"),
        REPO,
        "x",
        role="admin",
        head=replace(HEAD, head_repo_full_name=fork),
        checked_out="",
    )
    decided = plan(f)
    assert (decided.outcome, decided.reaction) == ("refused: a fork", "eyes")
    assert "promptloop feedback add SUITE c01-ada bad" in decided.reply


def test_the_fork_check_ignores_case() -> None:
    f = facts(comment("/promptloop help"), head=replace(HEAD, head_repo_full_name="ACME/Site"))
    assert plan(f).outcome == "help"


def test_help_answers_with_the_command_list() -> None:
    decided = plan(facts(comment("/promptloop help"), checked_out="", cases=None))
    assert decided == CommentPlan("help", "+1", HELP)


def test_help_with_a_problem_is_not_understood() -> None:
    decided = plan(facts(comment("/promptloop help\n/promptloop frobnicate")))
    assert decided.outcome == "refused: not understood"


def test_a_checkout_that_is_not_the_head_is_an_error() -> None:
    with pytest.raises(InfraError, match="refs/pull/7/head"):
        plan_comment(facts(comment("/promptloop bad c01-ada: x"), checked_out="c" * 40))


def test_the_cases_are_read_after_the_checkout_is_checked() -> None:
    assert plan_comment(facts(comment("/promptloop bad c01-ada: x"), cases=None)) == Need("cases")


def test_an_unknown_case_is_not_understood_and_nothing_is_run() -> None:
    decided = plan(facts(comment("/promptloop bad c03-cy: x")))
    assert (decided.outcome, decided.reaction) == ("refused: not understood", "confused")
    assert "c03-cy" in decided.reply
    assert not decided.record


def test_a_verdict_without_a_case_outside_a_finding_thread_asks_for_one() -> None:
    decided = plan(facts(comment("/promptloop bad: too stiff")))
    assert decided.outcome == "refused: not understood"
    assert "name the case" in decided.reply


def test_a_reply_in_a_finding_thread_reads_the_thread_then_judges_its_cases() -> None:
    event = comment("/promptloop bad: too stiff", kind="review", thread_id=55)
    assert plan_comment(facts(event)) == Need("thread")
    asks = plan_comment(facts(event, thread_cases=("c01-ada", "c02-brook")))
    assert asks == Need("outputs", {"greet": ("c01-ada", "c02-brook")})


def test_the_named_cases_outputs_are_asked_for_once_per_suite() -> None:
    event = comment("/promptloop bad c01-ada: x\n/promptloop good greet/c02-brook")
    assert plan_comment(facts(event)) == Need("outputs", {"greet": ("c01-ada", "c02-brook")})


def test_a_case_without_output_is_refused_and_nothing_is_recorded() -> None:
    event = comment("/promptloop bad c01-ada: x\n/promptloop good c02-brook")
    decided = plan(facts(event, outputs={("greet", "c02-brook"): "Hi Brook"}))
    assert (decided.outcome, decided.reaction) == ("refused: no output to judge", "confused")
    assert "`greet/c01-ada`" in decided.reply
    assert not decided.record


def test_verdicts_with_outputs_are_recorded_without_evaluating_unless_the_head_moves() -> None:
    event = comment("/promptloop bad c01-ada: too stiff")
    outputs = {("greet", "c01-ada"): "Dear Ada"}
    decided = plan(facts(event, outputs=outputs))
    assert (decided.outcome, decided.reaction, decided.record) == ("recorded", "+1", True)
    [(command, suite, case)] = decided.verdicts
    assert (command.verb, command.note, suite, case) == ("bad", "too stiff", "greet", "c01-ada")
    assert decided.outputs == outputs
    assert (decided.learn, decided.concerned) == (False, ("greet",))


def test_learn_alone_records_nothing_runs_nothing_and_learns() -> None:
    decided = plan(facts(comment("/promptloop learn")))
    assert (decided.outcome, decided.record, decided.learn) == ("recorded", True, True)
    assert decided.verdicts == ()
    assert decided.concerned == ()


def test_learn_with_a_verdict_records_it_and_learns() -> None:
    event = comment("/promptloop good c02-brook\n/promptloop learn")
    decided = plan(facts(event, outputs={("greet", "c02-brook"): "Hi Brook"}))
    assert decided.learn
    assert [(s, c) for _, s, c in decided.verdicts] == [("greet", "c02-brook")]
