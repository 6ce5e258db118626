"""Reviewers' `/promptloop` commands end to end: a real comment payload, the real PyGithub
client against the fake GitHub, a git checkout of the pull request's head, the scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptloop.commands import pr_commands
from promptloop.commands.ci import CiOptions, run_ci
from promptloop.dataset.feedback import output_fingerprint, parse_feedback
from promptloop.errors import UserError
from promptloop.github.api import GitHubClient
from promptloop.github.markers import read_marker
from promptloop.models.scripted import register_script, script_calls
from tests.commands.test_ci_github import (
    CONFIG,
    EVENTS,
    FIXED_BOTH,
    HEAD_PROMPT,
    NAMES,
    PROMPT,
    PROVIDER_KEY,
    REPO,
    TOKEN,
    Scenario,
    fast_client,
    is_summary,
)
from tests.fakegithub import FakeGitHub

FEEDBACK = "evals/greet.feedback.jsonl"
DATASET = "".join(
    json.dumps({"id": f"c{i:02d}-{n.lower()}", "name": n}) + "\n"
    for i, n in enumerate(NAMES, start=1)
)
NOTE = "we never shout at customers; no exclamation marks"
# A verdict someone else recorded on the branch.
LEES_LINE = json.dumps(
    {
        "case": "c04-dmitri",
        "output": output_fingerprint("Hello Dmitri!"),
        "verdict": "good",
        "by": "lee",
        "at": "2026-12-01T20:00:00Z",
        "source": "cli",
    }
)


def learner(revised: str) -> Any:
    """Greets with '!' when told to; as the optimizer, proposes ``revised`` and answers the
    reviewer when shown them."""

    def answer(call: dict[str, Any]) -> str:
        text = "\n".join(str(m.get("content") or "") for m in call["messages"])
        if "<prompt>" in text:
            heard = "a reviewer said no exclamation marks, " if NOTE in text else ""
            return (
                f"<rationale>{heard}so the prompt now forbids them, @octocat.</rationale>\n"
                f"<prompt>\n{revised}</prompt>"
            )
        found = (
            text.split("greeting for ", 1)[1].split(".", 1)[0] if "greeting for " in text else ""
        )
        name = found or "you"
        return f"Hello {name}!" if "Use exclamation" in text else f"Hello {name}."

    return answer


model = learner(
    HEAD_PROMPT.replace(
        "Use exclamation marks to sound excited.", "Never use exclamation marks; be calm."
    )
)


@pytest.fixture
def pr(scenario: Scenario) -> Scenario:
    register_script("ci", model)
    scenario.gh.add_collaborator(REPO, "dana", "write")
    scenario.gh.add_collaborator(REPO, "rita", "read")
    scenario.open_pull({PROMPT: HEAD_PROMPT, "evals/greet.jsonl": DATASET})
    return scenario


def comment_event(
    s: Scenario, comment: dict[str, Any], *, review: bool = False, name: str = "c"
) -> tuple[str, Path]:
    if review:
        payload = json.loads((EVENTS / "pull_request_review_comment.created.json").read_text())
        payload["pull_request"]["number"] = s.number
    else:
        payload = json.loads((EVENTS / "issue_comment.created.json").read_text())
        payload["issue"]["number"] = s.number
        payload["issue"]["pull_request"] = {"url": f"{s.gh.url}/repos/{REPO}/pulls/{s.number}"}
    payload["comment"] = comment
    payload["repository"]["full_name"] = REPO
    path = s.tmp / f"comment-{name}.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return ("pull_request_review_comment" if review else "issue_comment"), path


def run_comment(
    s: Scenario,
    comment: dict[str, Any],
    *,
    review: bool = False,
    factory: Any = fast_client,
    cache_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    **opts: Any,
) -> int:
    event_name, path = comment_event(s, comment, review=review, name=str(comment["id"]))
    env = {
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": s.gh.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_WORKSPACE": str(s.repo),
        "OPENAI_API_KEY": PROVIDER_KEY,
        **(extra_env or {}),
    }
    options = CiOptions(working_directory=Path("."), cache_dir=cache_dir, **opts)
    return run_ci(options, env, github_factory=factory)


def fast(client: type[GitHubClient]) -> Any:
    """A factory for ``client`` (a GitHubClient that interferes) without the client's pauses."""
    return lambda t, u, r: client(
        t, u, r, seconds_between_requests=None, seconds_between_writes=None, backoff_factor=0
    )


def say(s: Scenario, login: str, body: str, **kw: Any) -> dict[str, Any]:
    return s.gh.add_comment_by(REPO, s.number, login, body, **kw)


def feedback_on_branch(gh: FakeGitHub) -> str | None:
    return gh.file_at(REPO, "feature", FEEDBACK)


def our_replies(gh: FakeGitHub) -> list[str]:
    """promptloop's answers to commands (not its summary comment)."""
    return [
        c["body"]
        for c in gh.issue_comments(REPO, 7)
        if c["user"]["type"] == "Bot" and not is_summary(c["body"])
    ]


def test_a_collaborators_verdict_is_committed_acknowledged_and_used(pr: Scenario) -> None:
    gh = pr.gh
    tip = gh.refs(REPO)["heads/feature"]
    comment = say(pr, "dana", f"Thanks!\n/promptloop bad c02-brook: {NOTE}\n")
    assert run_comment(pr, comment) == 0
    [record] = parse_feedback(feedback_on_branch(gh) or "", FEEDBACK)
    assert (record.case, record.verdict, record.note, record.by) == (
        "c02-brook",
        "bad",
        NOTE,
        "dana",
    )
    assert record.output == output_fingerprint("Hello Brook!")
    assert record.source == comment["html_url"]
    # One commit on the head branch, from the token's identity.
    head = gh.refs(REPO)["heads/feature"]
    assert gh.commits(REPO)[head].parents == [tip]
    assert [r["content"] for r in gh.reactions(REPO, comment["id"])] == ["+1"]
    [reply] = our_replies(gh)
    assert "Recorded 1 verdict" in reply
    # The commit starts no workflow run, so promptloop does what the push would have started:
    # the new head has its review, summary and check run at once.
    assert f"Updated for `{head[:7]}`" in reply
    assert [r["commit_id"] for r in gh.reviews(REPO, 7)] == [head]
    assert [c["conclusion"] for c in gh.check_runs(REPO, head_sha=head)] == ["failure"]


def test_lines_github_shows_quoted_or_hidden_command_nothing(pr: Scenario) -> None:
    hidden = (
        "> the model answered:\n/promptloop bad c02-brook: lazy quote line\n\n"
        "<!-- a --> <!--\n/promptloop bad c03-cyra: inside a comment left open\n-->\n\n"
        "<details><summary>log</summary>\n\n/promptloop learn\n\n</details>\n\n"
        "<pre>\n/promptloop bad c04-dmitri: pre\n</pre>\n\n"
        "ok\r/promptloop bad c05-elif: after a bare carriage return\n"
    )
    tip = pr.gh.refs(REPO)["heads/feature"]
    assert run_comment(pr, say(pr, "dana", hidden)) == 0
    assert feedback_on_branch(pr.gh) is None and our_replies(pr.gh) == []
    assert pr.gh.refs(REPO)["heads/feature"] == tip


def test_a_bedrock_key_in_a_note_is_masked_by_the_same_rule_as_run(pr: Scenario) -> None:
    key = "bedrockbearer9z8y7x6w5v4u3t2s1r0q"
    note = f"it printed {key.upper()} and {key[:16]}"
    comment = say(pr, "dana", f"/promptloop bad c02-brook: {note}\n")
    assert run_comment(pr, comment, extra_env={"AWS_BEARER_TOKEN_BEDROCK": key}) == 0
    committed = feedback_on_branch(pr.gh) or ""
    [record] = parse_feedback(committed, FEEDBACK)
    assert record.note == "it printed *** and ***"
    assert key[:12] not in committed.lower()


def test_a_secret_in_a_note_is_masked_in_the_committed_file_and_the_reply(
    pr: Scenario,
) -> None:
    comment = say(pr, "dana", f"/promptloop bad c02-brook: the key {PROVIDER_KEY} leaked\n")
    assert run_comment(pr, comment) == 0
    committed = feedback_on_branch(pr.gh) or ""
    [record] = parse_feedback(committed, FEEDBACK)
    assert PROVIDER_KEY not in committed and "***" in record.note
    assert all(PROVIDER_KEY not in reply for reply in our_replies(pr.gh))


def test_a_batch_over_two_suites_is_one_commit(scenario: Scenario) -> None:
    gh = scenario.gh
    register_script("ci", model)
    gh.add_collaborator(REPO, "dana", "maintain")
    second = "\n".join(
        [
            "  - name: again",
            "    prompt: prompts/greet.md",
            "    dataset: evals/again.jsonl",
            "    evaluators:",
            '      - not-contains: "!"',
            "",
        ]
    )
    scenario.open_pull(
        {
            PROMPT: HEAD_PROMPT,
            "evals/greet.jsonl": DATASET,
            "evals/again.jsonl": json.dumps({"id": "a01-ada", "name": "Ada"}) + "\n",
            "promptloop.yaml": CONFIG + second,
        }
    )
    tip = gh.refs(REPO)["heads/feature"]
    body = f"/promptloop bad c02-brook: {NOTE}\n/promptloop good again/a01-ada: fine"
    assert run_comment(scenario, say(scenario, "dana", body)) == 0
    head = gh.refs(REPO)["heads/feature"]
    assert gh.commits(REPO)[head].parents == [tip]
    assert "c02-brook" in (feedback_on_branch(gh) or "")
    assert '"a01-ada"' in (gh.file_at(REPO, "feature", "evals/again.feedback.jsonl") or "")


def suggesting(scenario: Scenario) -> dict[str, str]:
    """A team that forbids bot commits: dana may command; the pull request's files."""
    register_script("ci", model)
    scenario.gh.add_collaborator(REPO, "dana", "write")
    return {
        PROMPT: HEAD_PROMPT,
        "evals/greet.jsonl": DATASET,
        "promptloop.yaml": "feedback_delivery: suggestion\n" + CONFIG,
    }


@pytest.mark.parametrize("in_diff", [True, False])
def test_teams_without_bot_commits_get_a_suggested_change(
    scenario: Scenario, in_diff: bool
) -> None:
    gh = scenario.gh
    changes = suggesting(scenario)
    if in_diff:
        changes[FEEDBACK] = LEES_LINE + "\n"
    scenario.open_pull(changes)
    tip = gh.refs(REPO)["heads/feature"]
    assert run_comment(scenario, say(scenario, "dana", f"/promptloop bad c02-brook: {NOTE}")) == 0
    assert gh.refs(REPO)["heads/feature"] == tip  # nothing committed
    [reply] = our_replies(gh)
    if in_diff:
        [suggestion] = [c for c in gh.review_comments(REPO, 7) if c["path"] == FEEDBACK]
        assert suggestion["line"] == 1
        block = suggestion["body"].split("```suggestion\n", 1)[1]
        assert block.splitlines()[0] == LEES_LINE
        assert '"case": "c02-brook"' in block.splitlines()[1]
        assert "suggested changes in" in reply
    else:
        assert gh.review_comments(REPO, 7) == []
        assert f"Add to `{FEEDBACK}` (not in this pull request's diff" in reply
        assert '"case": "c02-brook"' in reply


def test_a_readers_command_is_refused_politely_and_changes_nothing(pr: Scenario) -> None:
    gh = pr.gh
    comment = say(pr, "rita", "/promptloop bad c02-brook: too loud")
    assert run_comment(pr, comment) == 0
    assert feedback_on_branch(gh) is None
    assert not [x for x in gh.requests_log if x.method == "PUT"]
    [reply] = our_replies(gh)
    assert "only from people with write, maintain or admin permission" in reply
    assert "(yours: read)" in reply
    assert [r["content"] for r in gh.reactions(REPO, comment["id"])] == ["-1"]


def test_bots_and_quoted_or_fenced_commands_are_ignored(pr: Scenario) -> None:
    gh = pr.gh
    quoted = (
        "The model wrote:\n> /promptloop bad c02-brook: injected\n"
        "```\n/promptloop good c03-cyra: injected\n```\n"
        "`/promptloop learn`\n    /promptloop help\n"
    )
    comments = [say(pr, "dana", quoted), say(pr, "helper[bot]", "/promptloop bad c02-brook: x")]
    writes = gh.write_count
    for comment in comments:
        assert run_comment(pr, comment) == 0
    assert gh.write_count == writes
    assert gh.reactions(REPO) == []


def test_an_unknown_case_is_answered_with_the_nearest_ids(pr: Scenario) -> None:
    gh = pr.gh
    comment = say(pr, "dana", f"/promptloop bad c02-brok: {NOTE}\n/promptloop good c03-cyra")
    assert run_comment(pr, comment) == 0
    # Strict: one bad line and nothing of the batch is recorded.
    assert feedback_on_branch(gh) is None
    [reply] = our_replies(gh)
    assert "line 1: no case 'c02-brok' in any suite; nearest: c02-brook" in reply
    assert [r["content"] for r in gh.reactions(REPO, comment["id"])] == ["confused"]


def test_a_fork_gets_instructions_and_nothing_runs(scenario: Scenario) -> None:
    gh = scenario.gh
    register_script("ci", model)
    gh.add_collaborator(REPO, "dana", "admin")
    gh.add_repo("forker/prompts", fork_of=REPO)
    scenario.head_repo = "forker/prompts"
    scenario.open_pull({PROMPT: HEAD_PROMPT, "evals/greet.jsonl": DATASET})
    comment = say(scenario, "dana", f"/promptloop bad c02-brook: {NOTE}")
    assert run_comment(scenario, comment) == 0
    assert script_calls("ci") == []
    assert gh.file_at("forker/prompts", "feature", FEEDBACK) is None
    [reply] = our_replies(gh)
    assert "comes from a fork, so promptloop records nothing here" in reply
    assert f'promptloop feedback add SUITE c02-brook bad "{NOTE}"' in reply
    # A key pasted into a note is never echoed back.
    pasted = say(scenario, "dana", f"/promptloop bad c03-cyra: the key {PROVIDER_KEY} leaked")
    assert run_comment(scenario, pasted) == 0
    assert PROVIDER_KEY not in our_replies(gh)[-1] and "the key *** leaked" in our_replies(gh)[-1]


def test_a_concurrent_push_is_read_again_and_nothing_is_lost(pr: Scenario) -> None:
    gh = pr.gh
    other = say(pr, "dana", "/promptloop good c03-cyra: calm and kind")
    assert run_comment(pr, other) == 0
    first_line = feedback_on_branch(gh)
    pushed = False

    class Racing(GitHubClient):
        def branch_file(self, branch: str, path: str) -> Any:
            nonlocal pushed
            seen = super().branch_file(branch, path)
            if not pushed:
                # Someone pushes to the branch between our read and our write.
                pushed = True
                theirs = (first_line or "").replace("c03-cyra", "c04-dmitri")
                files = {**pr.head, FEEDBACK: (first_line or "") + theirs, "NOTES.md": "x\n"}
                gh.add_branch(REPO, "feature", files)
            return seen

    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}")
    assert run_comment(pr, comment, factory=fast(Racing)) == 0
    assert pushed
    conflicts = [x for x in gh.requests_log if x.method == "PATCH" and x.status == 422]
    assert len(conflicts) == 1
    records = parse_feedback(feedback_on_branch(gh) or "", FEEDBACK)
    assert [(r.case, r.verdict) for r in records] == [
        ("c03-cyra", "good"),
        ("c04-dmitri", "good"),
        ("c02-brook", "bad"),
    ]
    assert gh.file_at(REPO, "feature", "NOTES.md") == "x\n"


def test_a_file_created_meanwhile_is_read_again(pr: Scenario) -> None:
    gh = pr.gh

    class Racing(GitHubClient):
        def branch_file(self, branch: str, path: str) -> Any:
            seen = super().branch_file(branch, path)
            if seen is not None and seen.text is None:
                gh.add_branch(REPO, "feature", {**pr.head, FEEDBACK: LEES_LINE + "\n"})
            return seen

    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}")
    assert run_comment(pr, comment, factory=fast(Racing)) == 0
    records = parse_feedback(feedback_on_branch(gh) or "", FEEDBACK)
    assert [r.case for r in records] == ["c04-dmitri", "c02-brook"]


def test_a_reply_in_a_review_thread_is_answered_in_that_thread(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = pr.gh
    pr.run(capsys)
    [inline, *_] = [c for c in gh.review_comments(REPO, 7) if c["user"]["type"] == "Bot"]
    reply = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}", reply_to=inline["id"])
    assert run_comment(pr, reply, review=True) == 0
    assert [r["content"] for r in gh.reactions(REPO, reply["id"])] == ["+1"]
    answers = [c for c in gh.review_comments(REPO, 7) if c.get("in_reply_to_id") == inline["id"]]
    assert any("Recorded 1 verdict" in c["body"] for c in answers)
    assert feedback_on_branch(gh) is not None


def test_learn_in_a_review_thread_is_answered_there_with_the_updated_review(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = pr.gh
    pr.run(capsys)
    [inline, *_] = [c for c in gh.review_comments(REPO, 7) if c["user"]["type"] == "Bot"]
    body = f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn"
    reply = say(pr, "dana", body, reply_to=inline["id"])
    assert run_comment(pr, reply, review=True) == 0
    [answer] = [c for c in gh.review_comments(REPO, 7) if c.get("in_reply_to_id") == inline["id"]][
        -1:
    ]
    # (A reply in a thread is a review of its own on GitHub: the one to link is promptloop's.)
    latest = [r for r in gh.reviews(REPO, 7) if "promptloop:review" in (r["body"] or "")][-1]
    assert latest["commit_id"] == gh.refs(REPO)["heads/feature"]
    assert f"[the review]({latest['html_url']})" in answer["body"]


def test_a_reply_without_a_case_judges_the_cases_its_finding_lists(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = pr.gh
    pr.run(capsys)
    [inline, *_] = [c for c in gh.review_comments(REPO, 7) if c["user"]["type"] == "Bot"]
    listed = [line.split("`")[1] for line in inline["body"].splitlines() if line.startswith("**`")]
    assert listed
    reply = say(pr, "dana", f"/promptloop bad: {NOTE}", reply_to=inline["id"])
    assert run_comment(pr, reply, review=True) == 0
    records = parse_feedback(feedback_on_branch(gh) or "", FEEDBACK)
    assert [r.case for r in records] == listed
    assert all(r.note == NOTE and r.verdict == "bad" for r in records)
    # The same words on the conversation name no finding: nothing is guessed.
    plain = say(pr, "dana", f"/promptloop bad: {NOTE}")
    assert run_comment(pr, plain) == 0
    assert "only a reply to one of promptloop's findings may leave it out" in our_replies(gh)[-1]


def test_the_verdict_is_on_the_output_the_pull_requests_run_showed(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    # A model that never says the same thing twice: only the shared cache gives the comment
    # run the output the reviewer read.
    calls = iter(range(10_000))
    register_script("ci", lambda call: f"{model(call)} #{next(calls)}")
    cache = Path(".promptloop/cache")
    pr.run(capsys, cache_dir=cache)
    shown = json.loads((pr.tmp / "results-1" / "results.json").read_text())
    [brook] = [c for c in shown["suites"][0]["cases"] if c["id"] == "c02-brook"]
    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}")
    assert run_comment(pr, comment, cache_dir=cache) == 0
    [record] = parse_feedback(feedback_on_branch(pr.gh) or "", FEEDBACK)
    assert record.output == output_fingerprint(brook["output"])


def summary_of(gh: FakeGitHub) -> str:
    [summary] = [c["body"] for c in gh.issue_comments(REPO, 7) if is_summary(c["body"])]
    return str(summary)


def test_learn_updates_the_review_and_suggestion_for_the_feedback_commit(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = pr.gh
    pr.run(capsys)  # the pull_request run: the review the reviewer reads
    [first_review] = gh.reviews(REPO, 7)
    calls_before = len(script_calls("ci"))
    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    assert run_comment(pr, comment) == 0
    new_head = gh.refs(REPO)["heads/feature"]
    assert new_head != pr.head_sha and "c02-brook" in (feedback_on_branch(gh) or "")
    # Everything is said again for the head holding the verdict, once.
    reviews = gh.reviews(REPO, 7)
    assert [r["commit_id"] for r in reviews] == [pr.head_sha, new_head]
    assert f"**Superseded** by [{new_head[:7]}]" in (reviews[0]["body"] or "")
    assert first_review["id"] == reviews[0]["id"]
    summary = summary_of(gh)
    marker = read_marker(summary)
    assert marker is not None and marker.get("head") == new_head
    [check] = gh.check_runs(REPO, head_sha=new_head)
    assert check["conclusion"] == "failure"
    # The revision answers the reviewer, on the pull request: in the summary and as a
    # suggested change of the new head's review.
    assert "The optimizer's reason:** a reviewer said no exclamation marks" in summary
    suggestions = [
        c
        for c in gh.review_comments(REPO, 7)
        if "```suggestion" in c["body"] and c["commit_id"] == new_head
    ]
    assert suggestions and "Never use exclamation marks; be calm." in suggestions[0]["body"]
    [reply] = our_replies(gh)
    assert "Recorded 1 verdict" in reply
    assert "learned a revision of `prompts/greet.md`" in reply
    assert "a reviewer said no exclamation marks" in reply
    assert f"[the review]({reviews[1]['html_url']})" in reply
    assert f"Updated for `{new_head[:7]}`" in reply
    # The optimizer's words are untrusted: no one is pinged.
    assert "@octocat" not in reply and "@octocat" not in summary
    learning = script_calls("ci")[calls_before:]
    ask = next(c for c in learning if "<prompt>" in str(c["messages"]))
    assert f"from reviewer dana: {NOTE}" in str(ask["messages"])


def test_learn_again_on_the_same_head_writes_nothing_new(pr: Scenario) -> None:
    gh = pr.gh
    assert run_comment(pr, say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}")) == 0
    # The next comment's workflow checks out the head that holds the verdict.
    pr.push({FEEDBACK: feedback_on_branch(gh) or ""})
    assert run_comment(pr, say(pr, "dana", "/promptloop learn")) == 0
    [review] = [r for r in gh.reviews(REPO, 7) if r["commit_id"] == pr.head_sha]
    posted = (gh.review_comments(REPO, 7), summary_of(gh), gh.check_runs(REPO))
    writes = gh.write_count
    again = say(pr, "dana", "/promptloop learn")
    assert run_comment(pr, again) == 0
    # Only the acknowledgement: a reaction and the reply.
    assert gh.write_count == writes + 2
    assert (gh.review_comments(REPO, 7), summary_of(gh), gh.check_runs(REPO)) == posted
    assert f"[the review]({review['html_url']})" in our_replies(gh)[-1]


@pytest.mark.parametrize(
    ("mode", "link"),
    [("commit", "learned revision (commit)"), ("pull-request", "learned revision (pull request)")],
)
def test_learn_delivers_a_revision_outside_the_diff_as_suggest_says(
    pr: Scenario, mode: str, link: str
) -> None:
    gh = pr.gh
    register_script("ci", learner(FIXED_BOTH))  # line 11 is outside the pull request's diff
    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    assert run_comment(pr, comment, suggest=mode) == 0
    branch = "feature" if mode == "commit" else "promptloop/pr-7"
    assert gh.file_at(REPO, branch, PROMPT) == FIXED_BOTH
    # The verdict stays on the branch, under the revision when it is committed there.
    assert "c02-brook" in (feedback_on_branch(gh) or "")
    reply = our_replies(gh)[-1]
    assert f"[the {link}](" in reply
    assert "a reviewer said no exclamation marks" in summary_of(gh)


def test_learn_with_verdicts_offered_as_suggestions_updates_the_checked_out_head(
    scenario: Scenario,
) -> None:
    gh = scenario.gh
    changes = suggesting(scenario)
    scenario.open_pull(changes)
    tip = gh.refs(REPO)["heads/feature"]
    comment = say(scenario, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    assert run_comment(scenario, comment) == 0
    assert gh.refs(REPO)["heads/feature"] == tip  # nothing committed
    # The head did not move: everything is for the checked-out commit, and the offered
    # verdict already counts for what was learned.
    [review] = [r for r in gh.reviews(REPO, 7) if r["commit_id"] == scenario.head_sha]
    assert "promptloop" in (review["body"] or "")
    assert "a reviewer said no exclamation marks" in summary_of(gh)
    assert f"Updated for `{scenario.head_sha[:7]}`" in our_replies(gh)[-1]


def test_a_learn_that_fails_still_answers_and_fails_the_job(
    pr: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(ci: Any, pull: Any, checkout_sha: str | None = None) -> Any:
        raise UserError("optimizer_model: no such model", path="promptloop.yaml", line=3)

    # The comment activity evaluates the new head directly; here that evaluation fails.
    monkeypatch.setattr(pr_commands, "evaluate", failing)
    comment = say(pr, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    with pytest.raises(UserError):
        run_comment(pr, comment)
    assert "c02-brook" in (feedback_on_branch(pr.gh) or "")
    reply = our_replies(pr.gh)[-1]
    assert "Recorded 1 verdict" in reply
    assert "Nothing was learned: promptloop.yaml:3: optimizer_model: no such model" in reply


def test_learn_says_why_a_suite_got_no_revision(scenario: Scenario) -> None:
    gh = scenario.gh
    register_script("ci", model)
    gh.add_collaborator(REPO, "dana", "write")
    # The pull request changes only the dataset: the prompt is not its to revise.
    scenario.open_pull({"evals/greet.jsonl": DATASET})
    comment = say(scenario, "dana", "/promptloop bad c02-brook: too cold\n/promptloop learn")
    assert run_comment(scenario, comment) == 0
    reply = our_replies(gh)[-1]
    assert "**`greet`**: no revision: this pull request does not change its prompt." in reply


def test_help_lists_the_commands(pr: Scenario) -> None:
    comment = say(pr, "dana", "/promptloop help")
    assert run_comment(pr, comment) == 0
    [reply] = our_replies(pr.gh)
    assert "/promptloop bad CASE: what is wrong" in reply


@pytest.mark.parametrize("drop", [False, True])
def test_a_reply_that_landed_unanswered_is_not_given_twice(pr: Scenario, drop: bool) -> None:
    gh = pr.gh
    comment = say(pr, "rita", "/promptloop bad c02-brook: too loud")
    gh.fail_after_applying_next(
        1, 502, method="POST", path=f"/issues/{pr.number}/comments", drop=drop
    )
    assert run_comment(pr, comment) == 0
    assert gh.applied_then_failed == 1
    [reply] = our_replies(gh)
    assert "(yours: read)" in reply
    assert [r["content"] for r in gh.reactions(REPO, comment["id"])] == ["-1"]


def test_replies_that_cannot_be_written_are_warned_about_not_lost(
    pr: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = pr.gh
    comment = say(pr, "rita", "/promptloop bad c02-brook: too loud")
    gh.fail_every_write(503)
    capsys.readouterr()
    assert run_comment(pr, comment) == 0
    out = capsys.readouterr().out
    assert our_replies(gh) == []
    assert "::warning title=promptloop::could not reply on pull request #7" in out
    assert "(tried 3 times)" in out
