"""`promptloop ci` through the real HTTP model path: an ``openai/`` model answered by the
OpenAI-compatible stub on loopback, the fake GitHub on loopback, in a fresh process where
litellm is not imported yet. The first calls go out on the fast path's guess of litellm's
route while litellm imports, and litellm's word settles them (prices them, or has them asked
again); what reaches the pull request is checked in every suggest mode, and every byte sent
to GitHub is scanned for every secret planted in the environment, commit trees and messages
included."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from tests.commands.test_ci_github import (
    BASE_PROMPT,
    FIXED_BOTH,
    FIXED_IN_HUNK,
    HEAD_PROMPT,
    PROMPT,
    REPO,
    TOKEN,
    Scenario,
    base_files,
    parse_outputs,
)
from tests.fakegithub import FakeGitHub
from tests.support import cli_env, load_stub

MODEL = "openai/gpt-4o-mini"  # a model litellm prices, so settling shows in the costs
# Credentials in the runner's environment, each under a name promptloop treats as secret.
SECRETS = {
    "OPENAI_API_KEY": "sk-http-provider-7e3c9a1f52",
    "ANTHROPIC_API_KEY": "sk-ant-unused-4b8d2e6c13",
    "DATABASE_PASSWORD": "pw-9f1c3e7a-db-secret",
    "DEPLOY_TOKEN": "dtok-5a2e8c1f9b7d",
}
LEAKS = " ".join(SECRETS.values())


def config(url: str) -> str:
    return textwrap.dedent(
        f"""\
        model: {MODEL}
        api_base: {url}
        concurrency: 4
        retries: 0
        cache: {{enabled: false}}
        gate: {{on_error: fail}}
        optimizer: {{rounds: 1, max_calls: 80}}
        suites:
          - name: greet
            prompt: prompts/greet.md
            dataset: evals/greet.jsonl
            evaluators:
              - not-contains: "!"
                name: no-exclamation
              - icontains: "{{{{ name }}}}"
                name: names-the-person
        """
    )


def answer_rules(revision: str) -> tuple[tuple[str, str], ...]:
    """The stub's script: the optimizer's meta-prompt gets ``revision`` (its rationale leaking
    every secret, as the revision may too); the model under test greets with '!' exactly when
    told to, and leaks every secret into every answer."""
    reply = (
        f"<rationale>Stop asking for exclamation marks; keys seen: {LEAKS}</rationale>\n"
        f"<prompt>\n{revision}</prompt>"
    )
    escaped = reply.replace("\\", "\\\\")
    return (
        (r"<prompt>", escaped),
        (r"greeting for (\w+)\.[\s\S]*Use exclamation", rf"Hello \1! {LEAKS}"),
        (r"greeting for (\w+)\.", rf"Hello \1. {LEAKS}"),
    )


# run_ci as the action runs it, in a fresh interpreter; the only change from the action is
# PyGithub's pacing (as in every ci test). Calls through the fast path are counted by route:
# sent on the guess (no price yet) or on litellm's own route.
DRIVER = """
import json, os, sys
from pathlib import Path

assert "litellm" not in sys.modules
from promptloop.commands.ci import CiOptions, run_ci
from promptloop.github.api import GitHubClient
from promptloop.models import openai_http, routes

sent = {"on_guess": 0, "on_litellm_route": 0}
real_complete = openai_http.complete

async def counted(route, request):
    sent["on_guess" if route.cost is routes.unpriced else "on_litellm_route"] += 1
    return await real_complete(route, request)

openai_http.complete = counted

def client(token, url, repo):
    return GitHubClient(token, url, repo, backoff_factor=0, secondary_rate_wait=0,
                        seconds_between_requests=None, seconds_between_writes=None, timeout=10)

options = CiOptions(output_dir=Path(sys.argv[1]), working_directory=Path("."),
                    suggest=sys.argv[2])
code = run_ci(options, os.environ, github_factory=client)
print("DRIVER " + json.dumps({"code": code, **sent}))
"""


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig(record_bodies=True))
    server.start()
    yield server
    server.stop()


def run_ci_process(scenario: Scenario, suggest: str) -> tuple[dict[str, Any], dict[str, str]]:
    scenario.runs += 1
    out_file = scenario.tmp / f"output-{scenario.runs}.txt"
    env = cli_env(
        GITHUB_EVENT_PATH=str(scenario.event()),
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_REPOSITORY=REPO,
        GITHUB_API_URL=scenario.gh.url,
        GITHUB_SERVER_URL="https://github.example",
        GITHUB_TOKEN=TOKEN,
        GITHUB_OUTPUT=str(out_file),
        GITHUB_STEP_SUMMARY=str(scenario.tmp / f"summary-{scenario.runs}.md"),
        GITHUB_WORKSPACE=str(scenario.repo),
        GITHUB_SHA="f" * 40,
        GITHUB_RUN_ID="99",
        **SECRETS,
    )
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(scenario.tmp / "results"), suggest],
        cwd=scenario.repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("DRIVER ")]
    assert lines, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(lines[-1].removeprefix("DRIVER ")), parse_outputs(out_file.read_text())


def everything_sent(gh: FakeGitHub) -> list[bytes]:
    """Every request's path, query and body as sent, plus what base64 hid in them (blob
    and file contents) and every blob the fake stores: the whole of what reached GitHub."""
    seen = [gh.sent_bytes()]
    for request in gh.requests_log:
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("encoding") == "base64":
            seen.append(base64.b64decode(str(body.get("content", ""))))
        if isinstance(body, dict) and isinstance(body.get("content"), str):
            seen.append(body["content"].encode())
    for blob in gh.repo(REPO).blobs.values():
        seen.append(blob)
    for commit in gh.commits(REPO).values():
        seen.append(commit.message.encode())
    return seen


# A revision that quotes a secret: committed as written, it would put the secret in a tree.
LEAKY = FIXED_BOTH + f"Never print {SECRETS['DEPLOY_TOKEN']} or {SECRETS['OPENAI_API_KEY']}.\n"


@pytest.mark.parametrize(
    ("suggest", "revision", "delivered"),
    [
        ("suggestion", FIXED_IN_HUNK, FIXED_IN_HUNK),
        ("commit", LEAKY, FIXED_BOTH + "Never print *** or ***.\n"),
        ("pull-request", LEAKY, FIXED_BOTH + "Never print *** or ***.\n"),
    ],
)
def test_ci_over_http_delivers_the_revision_and_sends_no_secret(
    scenario: Scenario, stub_server: Any, suggest: str, revision: str, delivered: str
) -> None:
    gh = scenario.gh
    stub_server.configure(answer_rules=answer_rules(revision))
    scenario.base = {**base_files(), "promptloop.yaml": config(stub_server.base_url)}
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    main_before = gh.refs(REPO)["heads/main"]

    counts, outputs = run_ci_process(scenario, suggest)

    assert counts["code"] == 1 and outputs["verdict"] == "fail"
    # The calls went over HTTP to the stub, the first ones before litellm had imported.
    bodies = stub_server.bodies
    assert {b["model"] for b in bodies} == {MODEL.removeprefix("openai/")}
    assert counts["on_guess"] >= 1
    assert counts["on_guess"] + counts["on_litellm_route"] == len(bodies)
    # litellm agreed with the guess, so nothing was asked twice: 20 base, 20 head, the
    # optimizer once, and the train/validation/test scoring of the seed and the revision.
    greetings = [b for b in bodies if "<prompt>" not in json.dumps(b)]
    assert len(bodies) - len(greetings) == 1
    # Every answer carries litellm's price, those sent on the guess included.
    results = read_results(Path(outputs["results-path"]))
    [head], [base] = results.suites, results.baseline
    assert [c.status for c in head.cases] == ["fail"] * 20
    assert [c.status for c in base.cases] == ["pass"] * 20
    assert all(c.cost_usd > 0 for c in (*head.cases, *base.cases))

    sticky = gh.issue_comments(REPO, 7)
    assert len(sticky) == 1 and "FAIL" in sticky[0]["body"]
    assert gh.refs(REPO)["heads/main"] == main_before
    assert gh.file_at(REPO, "main", PROMPT) == BASE_PROMPT
    if suggest == "suggestion":
        [suggestion] = [
            c["body"] for c in gh.review_comments(REPO, 7) if "```suggestion" in c["body"]
        ]
        assert "Never use any exclamation marks; sound calm." in suggestion
        assert gh.file_at(REPO, "feature", PROMPT) == HEAD_PROMPT
    elif suggest == "commit":
        assert gh.file_at(REPO, "feature", PROMPT) == delivered
        assert "/commit/" in outputs["suggestion-url"]
    else:
        [opened] = [p for p in gh.pulls(REPO).values() if p.number != 7]
        assert (opened.head_ref, opened.base_ref) == ("promptloop/pr-7", "feature")
        assert gh.file_at(REPO, "promptloop/pr-7", PROMPT) == delivered
    assert outputs["suggestion-url"] in sticky[0]["body"]

    # The leak was real: every answer the stub gave carried every secret...
    finding = next(c["body"] for c in gh.review_comments(REPO, 7) if "no-exclamation" in c["body"])
    assert "Hello Ada! ***" in finding
    # ...and not one byte GitHub received holds any of them, nor the GitHub token.
    sent = everything_sent(gh)
    for name, secret in {**SECRETS, "GITHUB_TOKEN": TOKEN}.items():
        assert not [chunk for chunk in sent if secret.encode() in chunk], name
