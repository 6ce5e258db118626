"""What the default branch's baseline saves a pull request: calls and wall time, side by side.

Run: ``python bench/baseline.py`` (writes bench/results/baseline.md).

The project is examples/taglines (50 cases, five checks and a judge) in a fresh git
repository, with its model and judge pointed at bench/stub_server.py (its own process, a
fixed latency per call, so wall time is mostly the calls). A pull request edits the prompt.
Each round runs `promptloop ci` for that pull request twice, as the action does (a fresh
process, the fake GitHub on loopback): once with an empty response cache (no baseline:
what every pull request paid before), once with a copy of the cache a `push` to the
default branch left (the baseline). The rounds alternate the order of the two runs. The
stub's request counter gives the calls; `--suggest off` keeps the optimizer out of both, and
`--no-comment` leaves GitHub one check run per run (the same writes in both arms).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    REPO,
    WORK,
    bench_env,
    measure,
    median,
    promptloop_command,
    stub_server,
    stub_stats,
    table,
    write_result,
)

from tests.commands.test_ci_github import pr_entries
from tests.fakegithub import FakeGitHub

ROUNDS = 5
LATENCY_MS = 150
OWNER_REPO = "octo/taglines"
TOKEN = "ghs_benchTOKEN000000000000"
EXAMPLE = REPO / "examples" / "taglines"
EDIT = ("Do not use exclamation marks.", "Sound excited; exclamation marks are welcome.")


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def files_of(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def make_repo(base_url: str) -> tuple[Path, dict[str, str], dict[str, str], str, str]:
    repo = WORK / "baseline" / "repo"
    if repo.parent.exists():
        shutil.rmtree(repo.parent)
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("tests", ".promptloop"))
    config = (repo / "promptloop.yaml").read_text()
    (repo / "promptloop.yaml").write_text(
        f"model: openai/stub-model\napi_base: {base_url}\nretries: 2\n{config}"
    )
    git(repo, "init", "-q", "-b", "main")
    base = files_of(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base_sha = git(repo, "rev-parse", "HEAD")
    prompt = repo / "prompts" / "tagline.md"
    prompt.write_text(prompt.read_text().replace(*EDIT))
    head = files_of(repo)
    git(repo, "commit", "-qam", "head")
    head_sha = git(repo, "rev-parse", "HEAD")
    return repo, base, head, base_sha, head_sha


def event(path: Path, payload: dict[str, object]) -> Path:
    path.write_text(json.dumps(payload))
    return path


def run_ci(
    repo: Path, gh: FakeGitHub, event_name: str, event_path: Path, sha: str, cache: Path
) -> tuple[float, int, int]:
    """(wall seconds, stub requests, exit code) of one `promptloop ci` process."""
    env = bench_env(
        {
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": OWNER_REPO,
            "GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_SHA": sha,
            "GITHUB_REF": "refs/heads/main",
        }
    )
    base_url = env_base_url(repo)
    stub_stats(base_url, reset=True)
    out = WORK / "baseline" / "out"
    cmd = [*promptloop_command(), "ci", "--suggest", "off", "--no-comment"]
    cmd += ["--cache-dir", str(cache)]
    cmd += ["-o", str(out)]
    done = measure(cmd, cwd=repo, env=env)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"promptloop ci exited {done.returncode}: {done.stderr[-2000:]}")
    requests = int(str(stub_stats(base_url)["requests"]))
    return done.wall_s, requests, done.returncode


def env_base_url(repo: Path) -> str:
    first = (repo / "promptloop.yaml").read_text().splitlines()[1]
    return first.removeprefix("api_base: ").strip()


def main() -> int:
    with stub_server(LATENCY_MS) as base_url, FakeGitHub() as gh:
        gh.set_token(TOKEN)
        gh.add_repo(OWNER_REPO)
        repo, base, head, base_sha, head_sha = make_repo(base_url)
        gh.add_branch(OWNER_REPO, "main", base)
        gh.add_branch(OWNER_REPO, "feature", head, parent="main")
        files = pr_entries(base, head)
        gh.add_pull(OWNER_REPO, 1, "main", base_sha, "feature", head_sha, files=files)
        work = WORK / "baseline"
        # The default branch's run: evaluates every suite at the base commit, leaves the cache.
        git(repo, "checkout", "-q", base_sha)
        baseline_cache = work / "baseline-cache"
        push = event(
            work / "push.json",
            {
                "ref": "refs/heads/main",
                "before": "0" * 40,
                "after": base_sha,
                "repository": {"full_name": OWNER_REPO, "default_branch": "main"},
            },
        )
        push_wall, push_calls, _ = run_ci(repo, gh, "push", push, base_sha, baseline_cache)
        git(repo, "checkout", "-q", head_sha)
        pull_payload = json.loads(
            (REPO / "tests/fixtures/github/events/pull_request.synchronize.json").read_text()
        )
        pr = pull_payload["pull_request"]
        pull_payload["number"] = pr["number"] = 1
        pr["base"]["sha"], pr["base"]["ref"] = base_sha, "main"
        pr["head"]["sha"], pr["head"]["ref"] = head_sha, "feature"
        pr["base"]["repo"]["full_name"] = pr["head"]["repo"]["full_name"] = OWNER_REPO
        pull_payload["repository"]["full_name"] = OWNER_REPO
        pull = event(work / "pull.json", pull_payload)

        runs: dict[str, list[tuple[float, int]]] = {"no baseline": [], "baseline": []}
        for index in range(ROUNDS):
            order = ["no baseline", "baseline"] if index % 2 == 0 else ["baseline", "no baseline"]
            for arm in order:
                cache = work / f"cache-{arm.replace(' ', '-')}-{index}"
                if arm == "baseline":
                    shutil.copytree(baseline_cache, cache)
                wall, calls, _ = run_ci(repo, gh, "pull_request", pull, head_sha, cache)
                runs[arm].append((wall, calls))
                print(f"round {index + 1} {arm}: {calls} calls, {wall:.1f} s", file=sys.stderr)

    cold = runs["no baseline"]
    warm = runs["baseline"]
    cold_calls, warm_calls = median([c for _, c in cold]), median([c for _, c in warm])
    cold_wall, warm_wall = median([w for w, _ in cold]), median([w for w, _ in warm])
    ratios = sorted(w / c for (w, _), (c, _) in zip(warm, cold, strict=True))
    rows = [
        ("pull request, no baseline (empty cache)", cold_calls, cold_wall),
        ("pull request, default branch's baseline restored", warm_calls, warm_wall),
        ("the default branch's run itself (once per commit)", push_calls, push_wall),
    ]
    body = [
        "Setup: examples/taglines (50 cases; five checks and a judge, so two calls per case "
        "and side), its model and judge on bench/stub_server.py in its own process with "
        f"{LATENCY_MS} ms per call; a pull request that edits the prompt; `promptloop ci "
        "--suggest off --no-comment` as its own process against the fake GitHub on loopback. "
        f"{ROUNDS} rounds, each running the pull request with an empty cache and with a "
        "copy of the cache the default branch's `push` run left, alternating which goes "
        "first. Calls are the stub's request counts; times are medians.",
        "",
        *table(["run", "model + judge calls (median)", "wall s (median)"], rows),
        "",
        f"Calls: {warm_calls:.0f} instead of {cold_calls:.0f} "
        f"({1 - warm_calls / cold_calls:.0%} fewer). What remains is the head side: no case "
        "changed its verdict here, so the gate took no second look (when one does, it re-runs "
        "the changed cases on both sides with the judge re-sampled, which no cache can "
        "answer).",
        f"Wall time: {warm_wall:.1f} s instead of {cold_wall:.1f} s; per round, baseline over "
        f"no baseline: median {median(ratios):.2f} (range {ratios[0]:.2f}–{ratios[-1]:.2f}).",
        "",
        "Each round: "
        + "; ".join(
            f"{c[1]}→{w[1]} calls, {c[0]:.1f}→{w[0]:.1f} s" for c, w in zip(cold, warm, strict=True)
        ),
    ]
    path = write_result(
        "baseline",
        "The default branch's baseline: what a pull request pays",
        "python bench/baseline.py",
        body,
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
