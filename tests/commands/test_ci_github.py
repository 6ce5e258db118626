"""`promptloop ci` end to end: a real git repository, a real event payload, the scripted model
and the fake GitHub server driven by the real PyGithub client."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from promptloop.commands.ci import CiOptions, run_ci
from promptloop.github.api import GitHubClient
from promptloop.github.markers import SUMMARY, parse_review_marker, read_marker
from promptloop.models.base import ModelCallError
from promptloop.models.scripted import clear_scripts, register_script, script_calls
from tests.fakegithub import FakeGitHub, make_patch

REPO = "octo/prompts"
TOKEN = "ghs_secretTOKEN1234567890"
PROVIDER_KEY = "sk-provider-secret-0987654321"
EVENTS = Path(__file__).parents[1] / "fixtures" / "github" / "events"
PROMPT = "prompts/greet.md"
NAMES = [
    "Ada",
    "Brook",
    "Cyra",
    "Dmitri",
    "Elif",
    "Farid",
    "Goran",
    "Hana",
    "Ines",
    "Jonas",
    "Kemal",
    "Lior",
    "Mina",
    "Noor",
    "Otto",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
]

CONFIG = """\
model: scripted/ci
concurrency: 4
retries: 0
cache: {enabled: false}
gate: {on_error: fail}
optimizer: {rounds: 1, max_calls: 80}
suites:
  - name: greet
    prompt: prompts/greet.md
    dataset: evals/greet.jsonl
    evaluators:
      - not-contains: "!"
        name: no-exclamation
      - icontains: "{{ name }}"
        name: names-the-person
"""


def prompt(line2: str, line11: str = "Rule eleven: stay on one line.") -> str:
    rules = [f"Rule {n}: be kind to person number {n}." for n in range(3, 11)]
    return (
        "\n".join(
            [
                "You write a one-line greeting for {{ name }}.",
                line2,
                *rules,
                line11,
                "Reply with the greeting only.",
            ]
        )
        + "\n"
    )


BASE_PROMPT = prompt("Be warm and calm.")
HEAD_PROMPT = prompt("Use exclamation marks to sound excited.")
# What the scripted optimizer proposes: fix line 2 (inside the PR's hunk) ...
FIXED_IN_HUNK = prompt("Never use any exclamation marks; sound calm.")
# ... and also line 11 (outside it).
FIXED_BOTH = prompt(
    "Never use any exclamation marks; sound calm.", "Rule eleven: one line, no `!` ever."
)


def base_files() -> dict[str, str]:
    dataset = "".join(json.dumps({"name": n}) + "\n" for n in NAMES)
    return {
        "promptloop.yaml": CONFIG,
        PROMPT: BASE_PROMPT,
        "evals/greet.jsonl": dataset,
        "README.md": "# prompts\n",
    }


def model(revision: str) -> Any:
    """The model under test greets with '!' exactly when told to; the optimizer returns
    ``revision`` (with a rationale that tries to ping someone)."""

    def answer(call: dict[str, Any]) -> str | BaseException:
        text = "\n".join(str(m.get("content") or "") for m in call["messages"])
        if "<prompt>" in text:
            return (
                "<rationale>Stop asking for exclamation marks, @octocat. <b>bold</b>"
                f"</rationale>\n<prompt>\n{revision}</prompt>"
            )
        name = re.search(r"greeting for (\w+)", text)
        who = name.group(1) if name else "you"
        # One case leaks the provider key into its output; it must never reach GitHub.
        leak = f" {PROVIDER_KEY}" if who == "Ada" else ""
        return f"Hello {who}!{leak}" if "Use exclamation" in text else f"Hello {who}.{leak}"

    return answer


# --- harness -------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(repo),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )
    return proc.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def pr_entries(old: dict[str, str], new: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        patch, adds, dels = make_patch(old.get(path), new.get(path))
        status = "added" if path not in old else "removed" if path not in new else "modified"
        out.append(
            {
                "filename": path,
                "status": status,
                "patch": patch,
                "additions": adds,
                "deletions": dels,
            }
        )
    return out


@dataclass
class Scenario:
    tmp: Path
    gh: FakeGitHub
    repo: Path
    number: int = 7
    head_repo: str = REPO
    base_sha: str = ""
    head_sha: str = ""
    base: dict[str, str] = field(default_factory=base_files)
    head: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    def open_pull(self, head_changes: dict[str, str], *, files: list[Any] | None = None) -> None:
        self.head = {**self.base, **head_changes}
        self.base_sha = commit(self.repo, self.base, "base")
        self.gh.add_branch(REPO, "main", self.base)
        self.push(head_changes, files=files)

    def push(self, changes: dict[str, str], *, files: list[Any] | None = None) -> None:
        """A new head commit on the PR branch (locally and on the fake server)."""
        self.head = {**self.head, **changes}
        self.head_sha = commit(self.repo, self.head, f"head {self.runs}")
        self.gh.add_branch(self.head_repo, "feature", self.head, parent="main")
        self.gh.add_pull(
            REPO,
            self.number,
            "main",
            self.base_sha,
            "feature",
            self.head_sha,
            head_repo=None if self.head_repo == REPO else self.head_repo,
            files=pr_entries(self.base, self.head) if files is None else files,
        )
        # The fake keeps the first ref of a branch; point it at the newest head tree.
        self.gh.repo(self.head_repo).refs["heads/feature"] = self.gh.repo(self.head_repo).refs[
            "heads/feature"
        ]

    def event(self) -> Path:
        payload = json.loads((EVENTS / "pull_request.synchronize.json").read_text())
        pr = payload["pull_request"]
        payload["number"] = pr["number"] = self.number
        pr["base"]["sha"], pr["base"]["ref"] = self.base_sha, "main"
        pr["head"]["sha"], pr["head"]["ref"] = self.head_sha, "feature"
        pr["base"]["repo"]["full_name"] = REPO
        pr["head"]["repo"]["full_name"] = self.head_repo
        payload["repository"]["full_name"] = REPO
        path = self.tmp / f"event-{self.runs}.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        return path

    def run(self, capsys: pytest.CaptureFixture[str], **opts: Any) -> Result:
        self.runs += 1
        out_file = self.tmp / f"output-{self.runs}.txt"
        summary_file = self.tmp / f"summary-{self.runs}.md"
        env = {
            "GITHUB_EVENT_PATH": str(self.event()),
            "GITHUB_EVENT_NAME": opts.pop("event_name", "pull_request"),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.gh.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_OUTPUT": str(out_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_SHA": "f" * 40,
            "GITHUB_RUN_ID": "99",
            "OPENAI_API_KEY": PROVIDER_KEY,
            **opts.pop("env", {}),
        }
        opts.setdefault("working_directory", Path("."))
        options = CiOptions(output_dir=self.tmp / f"results-{self.runs}", **opts)
        capsys.readouterr()
        code = run_ci(options, env, github_factory=fast_client)
        captured = capsys.readouterr()
        stdout, stderr = captured.out, captured.err
        outputs = parse_outputs(out_file.read_text() if out_file.exists() else "")
        summary = summary_file.read_text() if summary_file.exists() else ""
        return Result(code, stdout, outputs, summary, stderr)


@dataclass
class Result:
    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str
    stderr: str = ""


def parse_outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delim = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delim:
                    break
                value.append(inner)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            out[name] = value_text
    return out


def fast_client(token: str, url: str, repo: str) -> GitHubClient:
    return GitHubClient(
        token,
        url,
        repo,
        backoff_factor=0,
        secondary_rate_wait=0,
        seconds_between_requests=None,
        seconds_between_writes=None,
        timeout=10,
    )


@pytest.fixture
def gh(request: pytest.FixtureRequest) -> Iterator[FakeGitHub]:
    # GITHUB_API_URL on Enterprise Server ends in /api/v3; the tests run both shapes.
    with FakeGitHub(api_prefix=getattr(request, "param", "")) as fake:
        fake.set_token(TOKEN)
        fake.add_repo(REPO)
        yield fake
    assert not fake.internal_errors
    assert not fake.response_schema_errors


@pytest.fixture
def scenario(tmp_path: Path, gh: FakeGitHub) -> Iterator[Scenario]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    register_script("ci", model(FIXED_IN_HUNK))
    yield Scenario(tmp_path, gh, repo)
    clear_scripts()


def is_summary(body: str | None) -> bool:
    """A body carrying promptloop's summary marker on its last line."""
    found = read_marker(body)
    return found is not None and found.kind == SUMMARY


def posted_text(gh: FakeGitHub) -> str:
    parts = [r.get("body") or "" for r in gh.reviews(REPO, 7)]
    parts += [c["body"] for c in gh.review_comments(REPO)]
    parts += [c["body"] for c in gh.issue_comments(REPO)]
    for run in gh.check_runs(REPO):
        parts.append(json.dumps(run))
    return "\n".join(parts)


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert PROVIDER_KEY not in text


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gh", ["", "/api/v3"], indirect=True)
def test_same_repo_pr_posts_one_review_one_sticky_one_check_and_gates(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)

    assert res.code == 1
    reviews = gh.reviews(REPO, 7)
    assert len(reviews) == 1 and reviews[0]["state"] == "COMMENTED"
    comments = gh.review_comments(REPO, 7)
    # The finding about exclamation marks sits on the line that asks for them, and the
    # learned fix of that line is a one-click suggestion on the same line.
    assert {(c["path"], c["line"]) for c in comments} == {(PROMPT, 2)}
    bodies = [c["body"] for c in comments]
    finding = next(b for b in bodies if "no-exclamation" in b)
    assert "20 of 20 cases" in finding and "<details>" in finding
    assert "Hello Ada! ***" in finding  # the leaked key, masked
    # One critique said once with its count; cases without an id are named by file:line.
    assert "- **20 of 20 failing cases:** output contains" in finding
    assert "**`evals/greet.jsonl:1`**" in finding
    assert not re.search(r"\b[0-9a-f]{12}\b", finding.split("<!--")[0])
    suggestion = next(b for b in bodies if "```suggestion" in b)
    assert "Never use any exclamation marks; sound calm." in suggestion
    assert all(parse_review_marker(b) is not None for b in bodies)
    assert not any(r.status == 422 for r in gh.requests_log)
    assert all(parse_review_marker(b)[1] == scenario.head_sha for b in bodies)  # type: ignore[index]

    sticky = gh.issue_comments(REPO, 7)
    assert len(sticky) == 1 and is_summary(sticky[0]["body"])
    assert "FAIL" in sticky[0]["body"]
    # It names the head it reports on by a short sha linked to the commit.
    short = scenario.head_sha[:7]
    assert (
        f"Head [`{short}`](https://github.example/{REPO}/commit/{scenario.head_sha})"
        in (sticky[0]["body"])
    )
    assert "changes against" not in sticky[0]["body"]
    # The job summary, and only it, carries the chart.
    assert "```mermaid\n" in res.summary and "xychart-beta" in res.summary
    assert "```mermaid" not in sticky[0]["body"]
    # The optimizer's rationale can neither ping nor inject HTML.
    assert "@\u200docto" in sticky[0]["body"] and "<\u200bb>bold" in sticky[0]["body"]
    runs = gh.check_runs(REPO, scenario.head_sha)
    assert len(runs) == 1 and runs[0]["conclusion"] == "failure"
    assert runs[0]["name"] == "promptloop"
    annotations = runs[0]["annotations"]
    assert any(a["path"] == PROMPT and a["start_line"] == 2 for a in annotations)

    assert res.outputs["verdict"] == "fail"
    assert float(res.outputs["pass-rate"]) == 0.0
    assert float(res.outputs["delta"]) == pytest.approx(-100.0)
    assert Path(res.outputs["results-path"]).is_file()
    assert res.outputs["suggestion-url"].startswith("http")
    assert "## promptloop" in res.summary
    assert f"::error file={PROMPT},line=2" in res.stdout
    assert f"::add-mask::{TOKEN}" in res.stdout
    assert_no_secrets(posted_text(gh), res.summary, json.dumps(res.outputs))
    assert_no_secrets(Path(res.outputs["results-path"]).read_text())

    # A re-run on the same head changes nothing on GitHub: no write request at all.
    writes_before = len(gh.writes())
    again = scenario.run(capsys)
    assert again.code == 1
    assert len(gh.reviews(REPO, 7)) == 1
    assert len(gh.review_comments(REPO, 7)) == len(comments)
    assert len(gh.issue_comments(REPO, 7)) == 1
    assert len(gh.check_runs(REPO, scenario.head_sha)) == 1
    assert [(w.method, w.path) for w in gh.writes()[writes_before:]] == []


def test_new_head_marks_superseded_comments_outdated(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys)
    first = {c["id"] for c in gh.review_comments(REPO, 7)}
    old_head = scenario.head_sha
    scenario.push({PROMPT: HEAD_PROMPT.replace("Reply with", "Answer with")})
    res = scenario.run(capsys)

    assert res.code == 1
    assert len(gh.reviews(REPO, 7)) == 2
    comments = gh.review_comments(REPO, 7)
    old = [c for c in comments if c["id"] in first]
    new = [c for c in comments if c["id"] not in first]
    assert old and all(c["body"].startswith("> **Outdated:**") for c in old)
    assert new and all(parse_review_marker(c["body"])[1] == scenario.head_sha for c in new)  # type: ignore[index]
    assert all(parse_review_marker(c["body"])[1] == old_head for c in old)  # type: ignore[index]
    assert len(gh.issue_comments(REPO, 7)) == 1
    assert len(gh.check_runs(REPO, scenario.head_sha)) == 1


def test_fork_pr_writes_nothing_but_still_gates(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    gh.add_repo("forker/prompts", fork_of=REPO)
    scenario.head_repo = "forker/prompts"
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    writes = gh.write_count
    res = scenario.run(capsys)

    assert res.code == 1
    assert gh.write_count == writes
    assert gh.reviews(REPO, 7) == [] and gh.issue_comments(REPO, 7) == []
    assert "fork" in res.summary and "read-only" in res.summary
    assert res.outputs["verdict"] == "fail"
    assert f"::error file={PROMPT},line=2" in res.stdout
    # The learned revision is still shown, in the job summary.
    assert "Never use any exclamation marks" in res.summary


def test_revision_outside_the_hunk_is_not_a_suggestion(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    register_script("ci", model(FIXED_BOTH))
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)

    comments = scenario.gh.review_comments(REPO, 7)
    assert comments and not any("```suggestion" in c["body"] for c in comments)
    sticky = scenario.gh.issue_comments(REPO, 7)[0]["body"]
    assert "cannot be a suggested change" in sticky
    # The diff in the summary uses a fence longer than the backticks in the revision.
    assert "+Rule eleven: one line, no `!` ever." in sticky
    assert res.outputs["suggestion-url"] == ""


def test_commit_mode_pushes_the_revision_onto_the_pr_branch(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    register_script("ci", model(FIXED_BOTH))
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    main_before = gh.refs(REPO)["heads/main"]
    res = scenario.run(capsys, suggest="commit")

    assert gh.file_at(REPO, "feature", PROMPT) == FIXED_BOTH
    assert gh.refs(REPO)["heads/main"] == main_before
    assert gh.file_at(REPO, "main", PROMPT) == BASE_PROMPT
    assert "/commit/" in res.outputs["suggestion-url"]
    assert res.outputs["suggestion-url"] in gh.issue_comments(REPO, 7)[0]["body"]


def test_pull_request_mode_opens_a_pr_into_the_head_branch(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    register_script("ci", model(FIXED_BOTH))
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, suggest="pull-request")

    opened = [p for p in gh.pulls(REPO).values() if p.number != 7]
    assert len(opened) == 1
    assert opened[0].head_ref == "promptloop/pr-7" and opened[0].base_ref == "feature"
    assert gh.file_at(REPO, "promptloop/pr-7", PROMPT) == FIXED_BOTH
    assert gh.file_at(REPO, "main", PROMPT) == BASE_PROMPT
    assert res.outputs["suggestion-url"] in gh.issue_comments(REPO, 7)[0]["body"]


def test_nothing_relevant_changed_is_a_fast_neutral_pass(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({"README.md": "# prompts, now documented\n"})
    res = scenario.run(capsys)

    assert res.code == 0
    assert script_calls("ci") == []
    runs = scenario.gh.check_runs(REPO, scenario.head_sha)
    assert [r["conclusion"] for r in runs] == ["neutral"]
    assert scenario.gh.reviews(REPO, 7) == []
    assert res.outputs["verdict"] == "skipped"
    assert "::notice" in res.stdout and "nothing to evaluate" in res.summary


def test_the_skip_is_one_sentence_that_does_not_repeat_the_notices_title(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({"README.md": "# prompts, now documented\n"})
    res = scenario.run(capsys)
    why = "There is nothing to evaluate: no prompt, dataset or evaluator file of any suite changed."
    assert f"::notice title=promptloop::{why}" in res.stdout
    [run] = scenario.gh.check_runs(REPO, scenario.head_sha)
    assert run["output"]["summary"].startswith(f"## promptloop — skipped\n\n{why}\n")
    assert "promptloop: nothing" not in res.stdout + res.summary


def test_files_github_would_not_list_are_warned_about_once_and_every_suite_runs(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.gh.fail_next(10, 502, method="GET", path="/pulls/7/files")
    res = scenario.run(capsys)
    [warning] = [line for line in res.stdout.splitlines() if "files of pull request" in line]
    assert warning.startswith(
        "::warning title=promptloop::could not list the files of pull request #7: GitHub "
        "answered 502"
    )
    assert warning.count("could not") == 1
    assert "The PR's files could not be listed, so every suite runs." in res.summary
    assert res.outputs["verdict"] == "fail"


def test_more_than_3000_files_runs_every_suite_and_says_so(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    filler = [
        {"filename": f"docs/f{i:04}.md", "status": "added", "patch": "@@ -0,0 +1 @@\n+x"}
        for i in range(3005)
    ]
    # The prompt change is beyond GitHub's 3000-file listing, yet the suite must still run.
    scenario.open_pull(
        {PROMPT: HEAD_PROMPT},
        files=[*filler, *pr_entries(base_files(), {**base_files(), PROMPT: HEAD_PROMPT})],
    )
    res = scenario.run(capsys)

    assert res.code == 1
    assert "3000" in res.summary
    assert res.outputs["verdict"] == "fail"
    assert len(scenario.gh.check_runs(REPO, scenario.head_sha)) == 1


def test_github_5xx_and_secondary_rate_limit_are_retried(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    gh.fail_next(2, 502)
    gh.secondary_rate_limit_next(1, retry_after=0, method="POST")
    res = scenario.run(capsys)

    assert res.code == 1
    assert len(gh.reviews(REPO, 7)) == 1
    assert len(gh.issue_comments(REPO, 7)) == 1
    assert len(gh.check_runs(REPO, scenario.head_sha)) == 1
    assert "Warning" not in res.summary
    statuses = [r.status for r in gh.requests_log]
    assert 502 in statuses and 403 in statuses


@pytest.mark.parametrize(
    ("on_error", "codes", "conclusion"), [("fail", {3}, "failure"), ("neutral", {0}, "neutral")]
)
def test_provider_down_follows_the_error_policy_and_says_why(
    scenario: Scenario,
    capsys: pytest.CaptureFixture[str],
    on_error: str,
    codes: set[int],
    conclusion: str,
) -> None:
    register_script("ci", lambda call: ModelCallError("provider unreachable", kind="connection"))
    scenario.base["promptloop.yaml"] = CONFIG.replace("on_error: fail", f"on_error: {on_error}")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)

    assert res.code in codes
    runs = scenario.gh.check_runs(REPO, scenario.head_sha)
    assert runs[0]["conclusion"] == conclusion
    sticky = scenario.gh.issue_comments(REPO, 7)[0]["body"]
    assert "provider unreachable" in sticky
    assert "model provider failed" in sticky
    # A provider outage says nothing about prompt lines: no inline review comments.
    assert scenario.gh.review_comments(REPO, 7) == []


def test_fail_on_never_reports_but_exits_zero(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, fail_on="never", suggest="off", comment=False)

    assert res.code == 0
    assert res.outputs["verdict"] == "fail"
    assert scenario.gh.reviews(REPO, 7) == [] and scenario.gh.issue_comments(REPO, 7) == []
    assert scenario.gh.check_runs(REPO, scenario.head_sha)[0]["conclusion"] == "failure"
    assert not any("<prompt>" in str(c["messages"]) for c in script_calls("ci"))


def test_read_only_token_on_a_same_repo_pr_is_detected_by_the_403(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    gh.set_token(TOKEN, "read")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    writes = gh.write_count
    res = scenario.run(capsys)

    assert res.code == 1
    assert gh.write_count == writes
    assert "read-only" in res.summary
    # The findings that could not be posted are in the job summary instead.
    assert "no-exclamation" in res.summary and "20 of 20 cases" in res.summary
    assert f"::error file={PROMPT},line=2" in res.stdout


def test_a_refused_write_is_explained_once_with_the_permission_to_grant(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.gh.set_token(TOKEN, "read")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    [note] = [line for line in res.summary.splitlines() if "read-only" in line]
    assert note.startswith("> Warning: Could not post the review on pull request #")
    assert "(needs `pull-requests: write`)" in note
    assert note.count("read-only here") == 1 and note.count("(") == 1
    assert note.endswith(
        "in the workflow. promptloop reports through the exit code, annotations and this job "
        "summary instead."
    )
    # The job's log says it too: a workflow that forgot a permission is told where it reads.
    [logged] = [line for line in res.stdout.splitlines() if "read-only" in line]
    assert logged.startswith("::warning title=promptloop::Could not post the review")
    assert "pull-requests: write" in logged


def write_event(scenario: Scenario, payload: dict[str, Any]) -> None:
    scenario.event = lambda: _dump(scenario.tmp / "event.json", payload)  # type: ignore[method-assign]


def _dump(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_push_compares_with_the_previous_commit_and_posts_only_a_check(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(
        scenario,
        {
            "ref": "refs/heads/feature",
            "before": scenario.base_sha,
            "after": scenario.head_sha,
            "repository": {"full_name": REPO},
        },
    )
    res = scenario.run(capsys, event_name="push")

    assert res.code == 1
    assert float(res.outputs["delta"]) == pytest.approx(-100.0)
    assert [r["conclusion"] for r in gh.check_runs(REPO, scenario.head_sha)] == ["failure"]
    assert gh.reviews(REPO, 7) == [] and gh.issue_comments(REPO) == []


def test_push_touching_no_prompt_is_skipped(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({"README.md": "# other\n"})
    write_event(
        scenario,
        {
            "ref": "refs/heads/feature",
            "before": scenario.base_sha,
            "after": scenario.head_sha,
            "repository": {"full_name": REPO},
        },
    )
    res = scenario.run(capsys, event_name="push")
    assert res.code == 0 and res.outputs["verdict"] == "skipped"
    assert script_calls("ci") == []


def test_workflow_dispatch_runs_every_suite_without_a_baseline(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(
        scenario, {"ref": "refs/heads/feature", "inputs": {}, "repository": {"full_name": REPO}}
    )
    scenario.gh.add_pull(REPO, 8, "main", scenario.base_sha, "feature", "f" * 40)
    res = scenario.run(capsys, event_name="workflow_dispatch")

    # Every case fails, yet without a baseline only a minimum pass rate could gate, and this
    # project sets none: the verdict is a pass that says so.
    assert float(res.outputs["pass-rate"]) == 0.0
    assert (res.code, res.outputs["verdict"], res.outputs["delta"]) == (0, "pass", "")
    [check] = scenario.gh.check_runs(REPO, "f" * 40)
    assert check["conclusion"] == "success"
    assert "no threshold is set, so there is nothing to gate on" in check["output"]["summary"]


def test_a_project_in_a_subfolder_comments_on_repository_paths(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.base = {f"evals/pl/{k}": v for k, v in base_files().items()}
    scenario.open_pull({f"evals/pl/{PROMPT}": HEAD_PROMPT})
    res = scenario.run(capsys, working_directory=Path("evals/pl"))

    assert res.code == 1
    comments = scenario.gh.review_comments(REPO, 7)
    assert {(c["path"], c["line"]) for c in comments} == {(f"evals/pl/{PROMPT}", 2)}
    assert f"::error file=evals/pl/{PROMPT},line=2" in res.stdout


def test_relevant_suites_follow_prompts_datasets_evaluator_files_and_renames(
    tmp_path: Path,
) -> None:
    from promptloop.github.changes import evaluator_files, relevant_suites
    from promptloop.github.state import PullFile

    assert evaluator_files("checks/polite.py:is_polite") == ["checks/polite.py"]
    assert evaluator_files({"schema": "schemas/out.json", "allow_fence": True}) == [
        "schemas/out.json"
    ]
    assert evaluator_files("checks:is_polite") == []
    by_suite = {
        "a": {"p/a.md", "d/a.jsonl", "checks/polite.py"},
        "b": {"p/b.md", "d/b.jsonl"},
    }

    def changed(*names: str, old: str | None = None) -> list[PullFile]:
        return [PullFile(n, "renamed" if old else "modified", None, old) for n in names]

    assert relevant_suites(by_suite, changed("checks/polite.py"), "promptloop.yaml")[0] == ["a"]
    assert relevant_suites(by_suite, changed("d/b.jsonl"), "promptloop.yaml")[0] == ["b"]
    # A rename counts under its old name too.
    assert relevant_suites(by_suite, changed("p/new.md", old="p/b.md"), None)[0] == ["b"]
    assert relevant_suites(by_suite, changed("promptloop.yaml"), "promptloop.yaml")[0] == [
        "a",
        "b",
    ]
    names, why = relevant_suites(by_suite, changed("README.md"), "promptloop.yaml")
    assert names == [] and "no prompt" in why


def test_the_cli_command_runs_ci_from_the_environment(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    from click.testing import CliRunner

    from promptloop.cli import cli

    scenario.open_pull({"README.md": "# docs only\n"})
    out_file = scenario.tmp / "cli-output.txt"
    env = {
        "GITHUB_EVENT_PATH": str(scenario.event()),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": scenario.gh.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(out_file),
        "GITHUB_STEP_SUMMARY": str(scenario.tmp / "cli-summary.md"),
        "GITHUB_WORKSPACE": str(scenario.repo),
    }
    result = CliRunner().invoke(cli, ["ci", "--suggest", "off"], env=env)
    assert result.exit_code == 0, result.output
    assert parse_outputs(out_file.read_text())["verdict"] == "skipped"
    assert [r["conclusion"] for r in scenario.gh.check_runs(REPO)] == ["neutral"]

    # Outside Actions the command says which variable is missing and exits 2.
    bare = CliRunner().invoke(cli, ["ci"], env={k: "" for k in env})
    assert bare.exit_code == 2 and "GITHUB_" in bare.output


def test_a_head_that_reverts_the_prompt_outdates_the_earlier_comments(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT, "README.md": "# more docs\n"})
    scenario.run(capsys)
    assert gh.review_comments(REPO, 7)
    scenario.push({PROMPT: BASE_PROMPT})
    res = scenario.run(capsys)

    assert res.code == 0 and res.outputs["verdict"] == "skipped"
    assert all(c["body"].startswith("> **Outdated:**") for c in gh.review_comments(REPO, 7))
    assert len(gh.reviews(REPO, 7)) == 1


def test_results_from_earlier_jobs_are_posted_without_running_anything(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    # A sharded workflow: the suites ran in earlier jobs; the final job only posts.
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    first = scenario.run(capsys, comment=False, suggest="off")
    calls_before = len(script_calls("ci"))
    results = Path(first.outputs["results-path"])

    res = scenario.run(capsys, results_path=results)

    assert len(script_calls("ci")) == calls_before
    assert res.code == first.code == 1
    assert res.outputs["verdict"] == first.outputs["verdict"] == "fail"
    sticky = scenario.gh.issue_comments(REPO, 7)
    assert len(sticky) == 1 and "computed by earlier jobs" in sticky[0]["body"]
    assert len(scenario.gh.reviews(REPO, 7)) == 1


def test_the_summary_links_the_full_report_when_the_action_uploads_it(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, env={"PROMPTLOOP_REPORT_ARTIFACT": "promptloop-report"})

    link = f"**[Open the full report](https://github.example/{REPO}/actions/runs/99#artifacts)**"
    assert link in res.summary
    (sticky,) = scenario.gh.issue_comments(REPO, 7)
    assert link in sticky["body"]
    report = Path(res.outputs["results-path"]).with_name("report.html")
    assert "Hello Ada!" in report.read_text(encoding="utf-8")
    assert_no_secrets(report.read_text(encoding="utf-8"))
    # Without the action's upload there is nothing to link to.
    assert "Open the full report" not in scenario.run(capsys).summary


def test_the_report_page_of_a_pull_request_keeps_its_content_security_policy(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    # The policy allows the page's own style and script by their hashes, which look like
    # tokens: masked as text, the browser would refuse both.
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    page = Path(res.outputs["results-path"]).with_name("report.html").read_text(encoding="utf-8")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    for tag in (r"<style>(.*?)</style>", r"<script>(.*?)</script>"):
        inline = re.search(tag, page, re.DOTALL)
        assert inline is not None
        digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in html.unescape(policy.group(1))


def test_a_suite_without_a_better_prompt_says_why_the_optimizer_stopped_in_words(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    # The optimizer proposes the head prompt again: nothing beats it in the one round.
    register_script("ci", model(HEAD_PROMPT))
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    [sticky] = scenario.gh.issue_comments(REPO, 7)
    said = (
        "The optimizer found no better prompt for greet; it stopped after the rounds it was "
        "given (optimizer.rounds)."
    )
    assert said in sticky["body"] and said in res.summary
    assert "(rounds)" not in sticky["body"]
