"""`promptloop run` end to end, as a user runs it: tables, three report files, exit codes, cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import read_results
from promptloop.models.scripted import register_script, script_calls
from tests.support import copy_project

NEGATIVE_WORDS = ("Terrible", "Broke", "battery", "ignored")


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("sentiment", tmp_path)


def last_user_text(call: dict[str, Any]) -> str:
    return str(call["messages"][-1]["content"])


def classifier(wrong_on: tuple[str, ...] = ()) -> Any:
    """Answers the right label, except for reviews containing one of ``wrong_on``."""

    def answer(call: dict[str, Any]) -> str:
        text = last_user_text(call)
        negative = any(w in text for w in NEGATIVE_WORDS)
        if any(w in text for w in wrong_on):
            negative = not negative
        return "negative" if negative else "positive"

    return answer


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_prints_tables_writes_reports_and_passes(project: Path) -> None:
    register_script("sentiment", classifier())
    out = project / "out"
    res = invoke("run", str(project), "-o", str(out), "--quiet")
    assert res.exit_code == 0, res.output
    assert "promptloop results" in res.output
    assert "sentiment: evaluators" in res.output
    assert "Model calls 8" in res.output
    assert "Verdict: PASS" in res.output
    assert {p.name for p in out.iterdir()} >= {"results.json", "junit.xml", "report.md"}
    result = read_results(out / "results.json")
    suite = result.suites[0]
    assert [c.status for c in suite.cases] == ["pass"] * 8
    assert {e.name: (e.passed, e.failed) for e in suite.evaluators} == {
        "label": (8, 0),
        "short": (8, 0),
    }
    assert result.usage.model_calls == 8
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens == 8
    assert result.verdict is not None and result.verdict.status == "pass"


def test_failing_cases_are_listed_with_reasons_and_threshold_fails_the_gate(
    project: Path,
) -> None:
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace("evaluators:", "threshold: 0.9\n    evaluators:", 1)
    )
    register_script("sentiment", classifier(wrong_on=("loved", "Broke", "Best", "battery")))
    out = project / "out"
    res = invoke("run", str(project), "-o", str(out), "-q")
    assert res.exit_code == 1, res.output
    assert "failing cases (4)" in res.output
    assert "r01" in res.output and "r04" in res.output
    assert "Verdict: FAIL" in res.output
    # As on the pull request: verdict and next step before the tables.
    assert res.output.index("Verdict: FAIL") < res.output.index("Next: ")
    assert res.output.index("Next: ") < res.output.index("promptloop results")
    result = read_results(out / "results.json")
    failing = {c.id: c for c in result.suites[0].cases if c.status == "fail"}
    assert set(failing) == {"r01", "r04", "r05", "r06"}
    # The reason names the evaluator and what it saw.
    assert failing["r01"].reasons.startswith("label:")
    assert "negative" in failing["r01"].reasons
    assert result.verdicts["sentiment"].status == "fail"
    assert "50.0%" in result.verdicts["sentiment"].reason


def test_second_identical_run_is_served_from_cache(project: Path) -> None:
    register_script("sentiment", classifier())
    first = invoke("run", str(project), "-o", str(project / "one"), "-q")
    assert first.exit_code == 0, first.output
    calls_after_first = len(script_calls("sentiment"))
    second = invoke("run", str(project), "-o", str(project / "two"), "-q")
    assert second.exit_code == 0, second.output
    assert len(script_calls("sentiment")) == calls_after_first
    usage = read_results(project / "two" / "results.json").usage
    assert usage.model_calls == 0
    assert usage.cache_hits == 8
    assert all(c.cached for c in read_results(project / "two" / "results.json").suites[0].cases)
    # --no-cache really calls the model again.
    third = invoke("run", str(project), "-o", str(project / "three"), "-q", "--no-cache")
    assert third.exit_code == 0
    assert read_results(project / "three" / "results.json").usage.model_calls == 8


def test_repeat_runs_every_case_k_times(project: Path) -> None:
    register_script("sentiment", classifier())
    res = invoke("run", str(project), "-o", str(project / "out"), "-q", "--repeat", "3")
    assert res.exit_code == 0, res.output
    cases = read_results(project / "out" / "results.json").suites[0].cases
    assert len(cases) == 24
    assert sorted({c.repeat for c in cases}) == [0, 1, 2]
    seeds = {call["seed"] for call in script_calls("sentiment")}
    assert len(seeds) == 3


def test_suite_filter_rejects_an_unknown_suite(project: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(project), "-s", "nope"])
    assert res.exit_code == 2
    assert "no suite named 'nope'" in res.output
    assert "sentiment" in res.output


# A wrapper run in a fresh interpreter: registers the scripted model, runs the console entry
# point, and reports whether litellm got imported. Exit code passes through.
WRAPPER = textwrap.dedent(
    """
    import atexit, json, sys
    from promptloop.models.scripted import register_script

    NEGATIVE = ("Terrible", "Broke", "battery", "ignored")

    def answer(call):
        text = call["messages"][-1]["content"]
        return "negative" if any(w in text for w in NEGATIVE) else "positive"

    register_script("sentiment", answer)
    register_script(
        "judge", lambda call: json.dumps({"critique": "ok", "passed": True, "score": 1.0})
    )
    report = sys.argv.pop(1)

    @atexit.register
    def _report():
        with open(report, "w") as f:
            json.dump({"litellm": "litellm" in sys.modules}, f)

    from promptloop.cli import main
    sys.argv[0] = "promptloop"
    main()
    """
)


def _run_wrapped(project: Path, out: str, report: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), "run", ".", "-o", out, "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cached_rerun_in_a_fresh_process_does_not_import_litellm(project: Path) -> None:
    # With a judge too: its calls must be answered from the cache as well.
    config = project / "promptloop.yaml"
    text = config.read_text().replace("seed: 7", "seed: 7\njudge_model: scripted/judge")
    config.write_text(text + '      - judge: "The label is right."\n        name: judge\n')
    first = _run_wrapped(project, "one", project / "first.json")
    assert first.returncode == 0, first.stderr
    assert json.loads((project / "first.json").read_text())["litellm"] is True
    second = _run_wrapped(project, "two", project / "second.json")
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    usage = read_results(project / "two" / "results.json").usage
    assert (usage.model_calls, usage.cache_hits) == (0, 16)
    judged = read_results(project / "two" / "results.json").suites[0].evaluators
    assert {e.name: e.passed for e in judged}["judge"] == 8
    assert json.loads((project / "second.json").read_text())["litellm"] is False


def test_console_script_runs_and_prints_documented_exit_codes(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("promptloop")
    assert exe.exists(), "the promptloop console script is not installed in this environment"
    proc = subprocess.run(
        [str(exe), "run", "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0
    for code in (
        "0  every suite passed",
        "1  a suite failed",
        "2  usage or configuration error, or an evaluator could not judge",
        "3  infrastructure",
    ):
        assert code in proc.stdout


def test_console_script_reports_a_config_error_in_one_line(project: Path) -> None:
    exe = Path(sys.executable).with_name("promptloop")
    (project / "promptloop.yaml").write_text("suites: [\n")
    proc = subprocess.run(
        [str(exe), "run", str(project), "-o", str(project / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "promptloop.yaml:" in lines[0] and "invalid YAML" in lines[0]
    assert not (project / "out" / "results.json").exists()
