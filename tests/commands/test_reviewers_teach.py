"""The issue's "done when", walked as a team would: a pull request with two judges and
reviewers' verdicts already on the branch; a reader's command changes nothing and is told why;
a collaborator's one-line comment becomes a line of the feedback file on the branch, a
critique the optimizer answered in the revision's reason on the pull request, and a label in
the judges' calibration (in the summary and in `promptloop calibrate`). The real PyGithub
client against the fake GitHub, the scripted model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.dataset.feedback import output_fingerprint, parse_feedback
from promptloop.github.markers import read_marker
from promptloop.models.scripted import register_script
from tests.commands.test_ci_github import CONFIG, HEAD_PROMPT, PROMPT, REPO, Scenario
from tests.commands.test_pr_commands import (
    DATASET,
    FEEDBACK,
    NOTE,
    feedback_on_branch,
    our_replies,
    run_comment,
    say,
    summary_of,
)
from tests.commands.test_pr_commands import model as greeter

WALK_CONFIG = CONFIG.replace(
    "gate: {on_error: fail}",
    ("gate: {on_error: fail, calibration: {min_labels: 5, min_kappa: 0.4}}"),
) + (
    '      - judge: "Greets the person by name, warmly."\n'
    "        name: tone\n"
    '      - judge: "Sounds like our brand."\n'
    "        name: style\n"
    "      - human\n"
)
# Reviewers' verdicts already on the branch, on the outputs the head gives ("Hello Ada!").
EARLIER = [("c01-ada", "good"), ("c05-elif", "good"), ("c03-cyra", "bad"), ("c04-dmitri", "good")]


def earlier_line(case: str, verdict: str) -> str:
    name = case.split("-", 1)[1].capitalize()
    return json.dumps(
        {
            "case": case,
            "output": output_fingerprint(f"Hello {name}!"),
            "verdict": verdict,
            "note": "",
            "by": "lee",
            "at": "2026-12-01T20:00:00Z",
            "source": "cli",
        }
    )


def model(call: dict[str, Any]) -> str:
    """The greeter; as the `tone` judge, passes greetings of names starting with a vowel; as
    `style`, passes everything (a judge that cannot tell)."""
    if call.get("json_schema") is None:
        return greeter(call)
    text = "\n".join(str(m.get("content") or "") for m in call["messages"])
    if "Sounds like our brand." in text:
        return json.dumps({"critique": "on brand", "passed": True, "score": 1.0})
    name = re.search(r"Hello (\w+)", text)
    warm = name is not None and name.group(1)[0] in "AEIOU"
    critique = "warm and personal" if warm else "cold"
    return json.dumps({"critique": critique, "passed": warm, "score": float(warm)})


@pytest.fixture
def walk(scenario: Scenario) -> Scenario:
    register_script("ci", model)
    scenario.gh.add_collaborator(REPO, "dana", "write")
    scenario.gh.add_collaborator(REPO, "rita", "read")
    feedback = "".join(earlier_line(c, v) + "\n" for c, v in EARLIER)
    scenario.open_pull(
        {
            PROMPT: HEAD_PROMPT,
            "evals/greet.jsonl": DATASET,
            "promptloop.yaml": WALK_CONFIG,
            FEEDBACK: feedback,
        }
    )
    return scenario


def test_reviewers_teach_the_prompt_from_the_pull_request(
    walk: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = walk.gh
    walk.run(capsys)  # the pull_request run: review, summary, check
    summary = summary_of(gh)
    # Four labels so far: both judges are advisory, and the summary says so.
    assert "judge greet/tone is advisory (does not fail the gate): 4 labelled outputs, " in (
        summary
    )

    # A reader's command changes nothing, and they are told why.
    before = feedback_on_branch(gh)
    tip = gh.refs(REPO)["heads/feature"]
    writes = gh.write_count
    assert run_comment(walk, say(walk, "rita", f"/promptloop bad c02-brook: {NOTE}")) == 0
    assert gh.write_count == writes + 2  # the 👎 and the reply
    assert (feedback_on_branch(gh), gh.refs(REPO)["heads/feature"]) == (before, tip)
    assert "(yours: read)" in our_replies(gh)[-1]

    # A collaborator's one line (no `learn` needed: the commit it makes is evaluated as a
    # push would be).
    comment = say(walk, "dana", f"/promptloop bad c02-brook: {NOTE}")
    assert run_comment(walk, comment) == 0
    after = feedback_on_branch(gh) or ""
    # ... is one reviewable line appended to the feedback file on the branch,
    assert after.startswith(before or "") and after.count("\n") == len(EARLIER) + 1
    dana = parse_feedback(after, FEEDBACK)[-1]
    assert (dana.case, dana.verdict, dana.note, dana.by, dana.source) == (
        "c02-brook",
        "bad",
        NOTE,
        "dana",
        comment["html_url"],
    )
    # ... a critique the optimizer answered, in the revision's reason on the pull request,
    head = gh.refs(REPO)["heads/feature"]
    summary = summary_of(gh)
    marker = read_marker(summary)
    assert marker is not None and marker.get("head") == head
    assert "**The optimizer's reason:** a reviewer said no exclamation marks" in summary
    # ... shown as the reviewer's verdict, apart from the judges' critiques,
    assert f"**c02-brook**: 👎 bad, by dana: “{NOTE}” — applied" in summary
    # ... and a fifth label in the judges' calibration: one judge now gates, one advises.
    assert (
        "judge greet/tone is gating: calibrated (kappa 0.62 on 5 labelled outputs); "
        "disagrees with the reviewers on c04-dmitri"
    ) in summary
    assert (
        "judge greet/style is advisory (does not fail the gate): kappa 0.00 on 5 labelled "
        "outputs, needs 0.4; disagrees with the reviewers on c02-brook, c03-cyra"
    ) in summary
    assert summary.count("judge greet/tone is gating") == 1
    [check] = gh.check_runs(REPO, head_sha=head)
    assert "judge greet/style is advisory" in check["output"]["summary"]
    reply = our_replies(gh)[-1]
    assert "Recorded 1 verdict" in reply and "a reviewer said no exclamation marks" in reply

    # `promptloop calibrate` on the checkout reads the same line.
    results = walk.repo / "promptloop-results" / "results.json"
    res = CliRunner().invoke(
        cli, ["calibrate", "greet", "--dir", str(walk.repo), "--results", str(results)]
    )
    assert res.exit_code == 0, res.output
    assert "greet / tone: 5 labelled outputs, agreement 80%, kappa 0.62" in res.output
    assert f"c02-brook: judge pass (on brand); reviewer bad ({NOTE})" in res.output
