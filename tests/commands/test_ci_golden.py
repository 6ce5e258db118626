"""Golden renders of real `promptloop ci` runs (the fake GitHub, the scripted model): the
sticky comment, an inline finding and the job summary, as Markdown and as rendered HTML.

They are reviewed by eye (tests/fixtures/golden/*.png, made by ``python -m tests.golden``);
the test fails when a render changes, and checks what the first screen must answer.
"""

from __future__ import annotations

import re

import pytest

from tests import golden
from tests.commands import test_ci_github as ci
from tests.commands.test_ci_github import HEAD_PROMPT, PROMPT, REPO, Scenario, prompt
from tests.commands.test_pr_commands import NOTE, our_replies, run_comment, say, summary_of
from tests.commands.test_reviewers_teach import walk

# The same real-git, fake-GitHub world as the ci tests.
gh = ci.gh
scenario = ci.scenario
__all__ = ["walk"]


def _normalised(scenario: Scenario, text: str) -> str:
    fake = {scenario.head_sha: "4e1d" * 10, scenario.base_sha: "b45e" * 10}
    shas = {**fake, **{old[:7]: new[:7] for old, new in fake.items()}}
    return golden.normalise(text, shas)


def _first_screen(html: str) -> str:
    return html.split("<details>")[0]


def test_golden_failing_pull_request(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    sticky = _normalised(scenario, scenario.gh.issue_comments(REPO, 7)[0]["body"])
    comments = scenario.gh.review_comments(REPO, 7)
    finding = _normalised(
        scenario, next(c["body"] for c in comments if "no-exclamation" in c["body"])
    )
    summary = _normalised(scenario, res.summary)

    golden.check("fail-sticky", sticky, "github-actions commented")
    golden.check("fail-inline", finding, f"github-actions reviewed {PROMPT} line 2")
    golden.check("fail-job-summary", summary, "Job summary")

    screen = _first_screen(golden.markdown_to_html(sticky))
    assert "<h2>promptloop ❌ FAIL</h2>" in screen
    assert re.search(r"<strong>Why:</strong> In greet, the pass rate fell from 100%", screen)
    assert "<strong>Next:</strong> Take the learned revision" in screen
    assert screen.count("<table>") == 1 and len(re.findall(r"<th[ >]", screen)) == 5
    assert "p-value" not in screen and "results.json" not in screen
    # Links carry words: where the review and the full lists are.
    assert "[the review](https://github.example/octo/prompts/pull/7#pullrequestreview-" in sticky
    assert "[the job summary](https://github.example/octo/prompts/actions/runs/99)" in sticky
    # The inline comment says its critique once, with its count.
    assert finding.count('output contains "!"') == 1
    assert "20 of 20 failing cases" in finding


def test_golden_passing_pull_request(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: prompt("Be warm, calm and brief.")})
    res = scenario.run(capsys)
    assert res.code == 0
    sticky = _normalised(scenario, scenario.gh.issue_comments(REPO, 7)[0]["body"])
    golden.check("pass-sticky", sticky, "github-actions commented")

    screen = _first_screen(golden.markdown_to_html(sticky))
    assert "<h2>promptloop ✅ PASS</h2>" in screen
    assert "<strong>Next:</strong> Nothing; the gate does not block this pull request." in screen


def test_golden_after_a_reviewers_learn(walk: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    walk.run(capsys)
    comment = say(walk, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    assert run_comment(walk, comment) == 0
    new_head = walk.gh.refs(REPO)["heads/feature"]
    fake = {walk.head_sha: "4e1d" * 10, walk.base_sha: "b45e" * 10, new_head: "fb4a" * 10}
    shas = {**fake, **{old[:7]: new[:7] for old, new in fake.items()}}
    sticky = golden.normalise(summary_of(walk.gh), shas)
    golden.check("learned-sticky", sticky, "github-actions commented")

    html = golden.markdown_to_html(sticky)
    # The judges' standing is on the first screen; the reviewers' verdicts have their own
    # list, apart from the evaluators' reasons.
    screen = _first_screen(html)
    assert "judge greet/tone is gating: calibrated (kappa 0.62 on 5 labelled outputs)" in screen
    assert "<summary>greet: 5 reviewer verdicts (5 applied)</summary>" in html
    # How the gate decided: the second look is told once, and a negative number is written
    # with the minus sign (−) every other figure in the comment uses.
    decided = sticky.split("How the gate decided")[1].split("</details>")[0]
    assert decided.count("1 more time on each side") == 1
    assert re.findall(r"(?<![\w-])-\d", decided) == []
    assert "−20.0 [−40.0, −5.0]" in decided
    # The reviewer's answer: what was recorded, learned and updated, with its links.
    reply = golden.normalise(our_replies(walk.gh)[-1], shas)
    golden.check("learned-reply", reply, "github-actions commented")
    assert reply.startswith("Recorded 1 verdict in `fb4afb4`.")
    assert "learned a revision of `prompts/greet.md`" in reply
    assert reply.rstrip().endswith(f"<!-- promptloop:reply to={comment['id']} -->")
