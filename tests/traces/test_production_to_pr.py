"""Issue 28's "done when", as a team runs it: a trace export with a thumbs-down and a note
becomes, in one `promptloop cases import`, a new case plus a reviewer's verdict; the pull
request carrying them runs `promptloop ci`, whose summary shows the person's critique and
whose optimizer receives it as a reviewer's note. The CLI as a user runs it, the real PyGithub
client against the fake GitHub, the model and the optimizer answered over HTTP by the
OpenAI-compatible stub on loopback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from promptloop.optimize.reviewers import SECTION_TITLE
from tests.commands.test_ci_github import (
    BASE_PROMPT,
    REPO,
    Scenario,
    base_files,
    gh,
    is_summary,
)
from tests.commands.test_ci_github import scenario as scenario
from tests.commands.test_ci_http import config, run_ci_process
from tests.support import load_stub, run_promptloop

__all__ = ["gh"]

TRACE = Path(__file__).parents[1] / "fixtures" / "traces" / "greet-thumbs-down.json"
DATASET = "evals/greet.jsonl"
FEEDBACK = "evals/greet.feedback.jsonl"
# What production answered for Zoe, and what the person who saw it said.
PRODUCTION_OUTPUT = "Hello Zoe! So great to see you!"
NOTE = "Shouting at a guest: our greetings are calm, never an exclamation mark."
# The revision the stub's optimizer proposes, and what the model answers under it.
REVISED = BASE_PROMPT.replace("Be warm and calm.", "Be warm and calm; never use `!`.")


def stub_rules() -> tuple[tuple[str, str], ...]:
    return (
        (
            r"<prompt>",
            "<rationale>The reviewer asks for calm greetings.</rationale>\n"
            f"<prompt>\n{REVISED}</prompt>",
        ),
        (r"greeting for (\w+)\.[\s\S]*never use `!`", r"Hello \1."),
        # The model under test still answers these guests the way it did in production.
        (r"greeting for (Zoe|Yusuf|Xena|Wim)\.", r"Hello \1! So great to see you!"),
        (r"greeting for (\w+)\.", r"Hello \1."),
    )


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig(record_bodies=True, answer_rules=stub_rules()))
    server.start()
    yield server
    server.stop()


def project_files(url: str) -> dict[str, str]:
    # The suite judges with the people's verdicts too (`human`), so a verdict on the output
    # this run gives counts.
    return {**base_files(), "promptloop.yaml": config(url) + "      - human\n"}


def import_from_production(tmp: Path, files: dict[str, str]) -> dict[str, str]:
    """A developer's checkout of main: one command, then the files it changed."""
    checkout = tmp / "checkout"
    for path, text in files.items():
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text(text, encoding="utf-8")
    shutil.copy(TRACE, checkout / "traces.json")
    proc = run_promptloop(
        checkout,
        "cases",
        "import",
        "traces.json",
        "--suite",
        "greet",
        "--where",
        "app.prompt=greet",
    )
    assert proc.returncode == 0, proc.stderr
    assert "added 4 cases;" in proc.stdout and "added 1 reviewer verdict\n" in proc.stdout
    return {path: (checkout / path).read_text(encoding="utf-8") for path in (DATASET, FEEDBACK)}


def test_a_thumbs_down_in_production_is_a_critique_the_pull_request_learns_from(
    scenario: Scenario, stub_server: Any
) -> None:
    scenario.base = project_files(stub_server.base_url)
    changes = import_from_production(scenario.tmp, scenario.base)
    new = [
        json.loads(x)
        for x in changes[DATASET].splitlines()[len(base_files()[DATASET].splitlines()) :]
    ]
    assert [c["name"] for c in new] == ["Zoe", "Yusuf", "Xena", "Wim"]
    case = new[0]
    [verdict] = [json.loads(x) for x in changes[FEEDBACK].splitlines()]
    assert (verdict["case"], verdict["verdict"], verdict["by"]) == (
        case["id"],
        "bad",
        "support-lead",
    )
    # The address in the note is masked before it is written.
    assert verdict["note"].startswith(NOTE) and "zoe@example.com" not in verdict["note"]

    # The pull request carries the new cases and the verdict, and nothing else.
    scenario.open_pull(changes)
    counts, outputs = run_ci_process(scenario, "suggestion")

    results = read_results(Path(outputs["results-path"]))
    [head] = results.suites
    [zoe] = [c for c in head.cases if c.id == case["id"]]
    assert zoe.status == "fail" and zoe.output == PRODUCTION_OUTPUT
    [review] = head.reviews
    assert review.status == "applied" and review.note.startswith(NOTE)

    # The summary on the pull request shows the person's critique as a reviewer's verdict.
    gh = scenario.gh
    [summary] = [c["body"] for c in gh.issue_comments(REPO, 7) if is_summary(c["body"])]
    assert f"👎 bad, by support-lead: “{NOTE}" in summary

    # The optimizer's model call received it as a reviewer's note, ahead of the judges.
    [meta] = [b for b in stub_server.bodies if "<prompt>" in json.dumps(b)]
    sent = "\n".join(str(m.get("content") or "") for m in meta["messages"])
    assert SECTION_TITLE in sent
    assert f"[BAD] case {case['id']}, from reviewer support-lead: {NOTE}" in sent
    # ... and learned from it: the revision, validated on held-out cases, is offered as a
    # diff (the prompt is outside this pull request's diff, so not as a suggested change).
    assert "### Learned revision of `prompts/greet.md` (`greet`)" in summary
    assert "**The optimizer's reason:** The reviewer asks for calm greetings." in summary
    assert "+Be warm and calm; never use `!`." in summary
    assert counts["code"] == 0 and outputs["verdict"] == "pass"
