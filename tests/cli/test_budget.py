"""The run's budget and forecast through the CLI, against the OpenAI-compatible stub that
counts every request it answers: `--estimate` calls nothing and foretells the real count, a
budget stops a run part-way with honest partial reports, cached answers are free."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli_env, load_stub, run_promptloop

CASES = 8


@pytest.fixture
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(module.StubConfig())
    server.start()
    yield server
    server.stop()


def requests(stub: Any) -> int:
    return int(stub.snapshot()["requests"])


def write_project(
    root: Path,
    url: str,
    *,
    model: str = "openai/stub",
    extra: str = "",
    judge: str = "The answer repeats the word.",
) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}.\n")
    rows = [json.dumps({"id": f"w{i:02d}", "word": f"word{i}"}) for i in range(CASES)]
    (root / "evals" / "words.jsonl").write_text("\n".join(rows) + "\n")
    (root / "promptloop.yaml").write_text(
        f"model: {model}\napi_base: {url}\nconcurrency: 3\nretries: 0\ntimeout: 20\n{extra}"
        "suites:\n  - name: echo\n    prompt: prompts/echo.md\n    dataset: evals/words.jsonl\n"
        "    evaluators:\n      - contains: '{{ word }}'\n"
        f"      - judge: {judge}\n"
    )
    return root


def promptloop(root: Path, *args: str) -> Any:
    return run_promptloop(root, *args, env=cli_env(OPENAI_API_KEY="sk-budget-test"))


def forecast_calls(stdout: str) -> tuple[int, int]:
    found = re.search(r"Forecast: (\d+) model calls? \((\d+) more answered by the cache", stdout)
    assert found is not None, stdout
    return int(found.group(1)), int(found.group(2))


def results(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "out" / "results.json").read_text())
    return data


def test_estimate_calls_no_model_and_foretells_the_next_runs_count(
    stub: Any, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "p", stub.base_url)
    estimate = promptloop(root, "run", ".", "--estimate", "--repeat", "2")
    assert estimate.returncode == 0, estimate.stderr
    assert requests(stub) == 0
    assert not (root / "out").exists()
    calls, cached = forecast_calls(estimate.stdout)
    # Each case's answer and its judge's verdict, twice.
    assert (calls, cached) == (CASES * 2 * 2, 0)
    assert "No model was called." in estimate.stdout

    ran = promptloop(root, "run", ".", "-o", "out", "-q", "--repeat", "2")
    assert ran.returncode == 0, ran.stderr
    assert requests(stub) == calls
    data = results(root)
    assert data["usage"]["model_calls"] == calls
    assert data["forecast"]["calls"] == calls

    # Now the cache holds every answer: the forecast says so, and the run sends nothing.
    again = promptloop(root, "run", ".", "--estimate", "--repeat", "2")
    assert forecast_calls(again.stdout) == (0, calls)
    rerun = promptloop(root, "run", ".", "-o", "out", "-q", "--repeat", "2", "--max-calls", "0")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert requests(stub) == calls
    budget = results(root)["budget"]
    # Cached answers cost nothing and count nothing: a zero-call budget is never reached.
    assert budget["spent_calls"] == 0 and budget["refused"] is None
    assert results(root)["verdict"]["status"] == "pass"


def test_a_call_budget_stops_the_run_part_way_with_partial_reports_and_a_failed_gate(
    stub: Any, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "p", stub.base_url, extra="budget: {max_calls: 7}\n")
    ran = promptloop(root, "run", ".", "-o", "out")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    # Whole cases only: three cases of two calls each fit in seven; the seventh is not made.
    assert requests(stub) == 6
    data = results(root)
    assert data["budget"]["spent_calls"] == 6 and data["budget"]["max_calls"] == 7
    assert data["budget"]["refused"]
    assert data["verdict"]["status"] == "fail"
    assert data["verdict"]["failed_checks"] == ["budget"]
    suite = data["suites"][0]
    assert len(suite["cases"]) == 3 and suite["not_run"] == CASES - 3
    assert all(case["evaluations"] for case in suite["cases"])  # no answer without its verdict
    # Every report says what was spent and what did not run.
    shown = " ".join(ran.stdout.split())  # the console wraps to its width
    assert "Budget 7 calls: spent 6 calls" in shown
    assert "5 cases did not run" in shown
    assert "5 cases did not run" in (root / "out" / "report.md").read_text()
    assert "Budget 7 calls: spent 6 calls" in (root / "out" / "report.html").read_text()
    junit = (root / "out" / "junit.xml").read_text()
    assert "incomplete" in junit and "budget" in junit

    # The next run resumes from the cache: the finished cases cost nothing again.
    resumed = promptloop(root, "run", ".", "-o", "out", "-q", "--max-calls", "100")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert requests(stub) == CASES * 2


def test_on_exceeded_inconclusive_is_honest_and_exits_zero(stub: Any, tmp_path: Path) -> None:
    extra = "budget: {max_calls: 4, on_exceeded: inconclusive}\n"
    root = write_project(tmp_path / "p", stub.base_url, extra=extra)
    ran = promptloop(root, "run", ".", "-o", "out")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    verdict = results(root)["verdict"]
    assert verdict["status"] == "inconclusive" and verdict["failed_checks"] == ["budget"]
    assert "Verdict: INCONCLUSIVE" in ran.stdout
    assert requests(stub) == 4


def test_a_dollar_budget_is_never_crossed_with_calls_in_flight(stub: Any, tmp_path: Path) -> None:
    # A model litellm prices, served by the stub (whose usage counts words as tokens). Each
    # case holds its worst case before it starts (every prompt byte a token, each answer at
    # its max_tokens), so small max_tokens keep that close to what a case really costs.
    root = write_project(
        tmp_path / "p",
        stub.base_url,
        model="openai/gpt-4o-mini",
        extra="max_tokens: 8\n",
        judge="{rubric: The answer repeats the word., max_tokens: 32}",
    )
    estimate = promptloop(root, "run", ".", "--estimate")
    cost = re.search(r"about \$([0-9]+\.[0-9]+)", estimate.stdout)
    assert cost is not None and float(cost.group(1)) > 0, estimate.stdout
    limit = 0.0004
    ran = promptloop(root, "run", ".", "-o", "out", "--max-usd", str(limit))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    data = results(root)
    budget = data["budget"]
    assert 0 < budget["spent_usd"] <= limit
    assert data["usage"]["cost_usd"] <= limit
    assert budget["refused"] and "could cost up to" in budget["refused"]
    # Cases waited for the calls in flight rather than being refused while room was coming.
    finished = len(data["suites"][0]["cases"])
    assert 3 < finished < CASES
    assert requests(stub) == 2 * finished


def test_a_bad_budget_is_one_line_naming_the_key(stub: Any, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", stub.base_url, extra="budget: {max_usd: -1}\n")
    ran = promptloop(root, "run", ".", "--estimate")
    assert ran.returncode == 2
    assert re.search(r"promptloop\.yaml:\d+: budget\.max_usd", ran.stderr), ran.stderr
