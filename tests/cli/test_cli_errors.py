"""Every way a user's files or the world can be wrong: one clear line, the documented exit code,
no traceback, and whatever was already computed is kept."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import read_results
from promptloop.models.scripted import register_script, script_calls
from tests.support import cli_env, copy_project, load_stub, run_promptloop

NEGATIVE_WORDS = ("Terrible", "Broke", "battery", "ignored")


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("sentiment", tmp_path)


def classifier(call: dict[str, Any]) -> str:
    text = str(call["messages"][-1]["content"])
    return "negative" if any(w in text for w in NEGATIVE_WORDS) else "positive"


def run_cli(project: Path, *extra: str) -> Any:
    register_script("sentiment", classifier)
    return CliRunner().invoke(cli, ["run", str(project), "-o", str(project / "out"), *extra])


def assert_one_line_error(res: Any, *fragments: str) -> str:
    """Exit 2 with exactly one stderr line naming what is wrong; no traceback, no reports."""
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith("promptloop: error: ")
    assert "Traceback" not in res.output
    for fragment in fragments:
        assert fragment in line
    return line


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_malformed_yaml_names_file_and_line(project: Path) -> None:
    (project / "promptloop.yaml").write_text("model: scripted/x\nsuites:\n  - name: [oops\n")
    assert_one_line_error(run_cli(project), "promptloop.yaml:", "invalid YAML")
    assert not (project / "out").exists()
    assert script_calls("sentiment") == []


def test_unknown_evaluator_names_line_and_suggests(project: Path) -> None:
    edit(project / "promptloop.yaml", "max-length: {words: 3}", "max-lenght: {words: 3}")
    line = assert_one_line_error(run_cli(project), "promptloop.yaml:12", "max-lenght")
    assert "did you mean 'max-length'" in line


def test_missing_dataset_file(project: Path) -> None:
    edit(project / "promptloop.yaml", "evals/reviews.jsonl", "evals/nope.jsonl")
    assert_one_line_error(run_cli(project), "evals/nope.jsonl", "not found")


def test_case_missing_a_template_variable_names_the_case_line(project: Path) -> None:
    with (project / "evals" / "reviews.jsonl").open("a") as f:
        f.write(json.dumps({"id": "r09", "txt": "typo", "label": "positive"}) + "\n")
    assert_one_line_error(
        run_cli(project), "evals/reviews.jsonl:9", "'r09'", "'text'", "prompts/classify.md"
    )
    assert script_calls("sentiment") == []  # checked before any model call


def test_empty_dataset(project: Path) -> None:
    (project / "evals" / "reviews.jsonl").write_text("")
    assert_one_line_error(run_cli(project), "evals/reviews.jsonl", "no cases")


def test_binary_prompt_file(project: Path) -> None:
    (project / "prompts" / "classify.md").write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(run_cli(project), "prompts/classify.md", "not a text file")


def test_unknown_baseline_ref_is_a_usage_error(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert_one_line_error(run_cli(project, "--baseline", "no-such-ref"), "--baseline no-such-ref")


def test_a_baseline_outside_git_says_what_to_do(project: Path) -> None:
    assert_one_line_error(
        run_cli(project, "--baseline", "HEAD"),
        f"--baseline needs a git repository, and {project.resolve()} is not inside one: ",
        "git init, commit the project",
    )


def test_a_baseline_in_a_repository_without_commits_says_to_commit_first(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert_one_line_error(
        run_cli(project, "--baseline", "HEAD"),
        "--baseline HEAD: ",
        "has no commit yet; commit the project first (git add -A && git commit)",
    )


def test_bad_shard_is_a_usage_error(project: Path) -> None:
    res = run_cli(project, "--shard", "5/4")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "5/4" in res.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [("run", "--model"), ("run", "-m"), ("optimize", "--model"), ("optimize", "--optimizer-model")],
)
def test_an_empty_model_option_is_refused_by_name(project: Path, command: str, option: str) -> None:
    """`--model ""` used to read as no option at all: the config's model ran without a word."""
    register_script("sentiment", classifier)
    args = [command, "--dir", str(project), "-o", str(project / "out"), option, " "]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    [error] = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    named = "--model" if option == "-m" else option
    assert error.startswith(f"Error: Invalid value for '{named}'")
    assert "empty; name a model, e.g. openai/gpt-4o-mini" in error
    assert script_calls("sentiment") == [] and not (project / "out").exists()


def test_judge_answering_garbage_is_an_evaluator_error_never_a_pass(project: Path) -> None:
    config = project / "promptloop.yaml"
    edit(config, "model: scripted/sentiment", "model: scripted/sentiment\njudge_model: scripted/j")
    config.write_text(
        config.read_text() + '      - judge: "The answer is the right sentiment."\n'
        "        name: judge\n"
    )

    def judge(call: dict[str, Any]) -> str:
        text = str(call["messages"][-1]["content"])
        if "Terrible" in text or "loved" in text:
            return "Looks fine to me!"  # not the JSON verdict asked for
        return json.dumps({"critique": "Right label.", "passed": True, "score": 1.0})

    register_script("j", judge)
    register_script("sentiment", classifier)
    res = CliRunner().invoke(cli, ["run", str(project), "-o", str(project / "out"), "-q"])
    # Could not evaluate: exit 2, the two cases errors, never a pass nor a prompt failure.
    assert res.exit_code == 2, res.output
    assert "the evaluator `judge` could not judge 2 case runs" in " ".join(res.stdout.split())
    cases = {c.id: c for c in read_results(project / "out" / "results.json").suites[0].cases}
    for bad in ("r01", "r02"):
        judged = next(e for e in cases[bad].evaluations if e.evaluator == "judge")
        assert judged.error is not None and not judged.passed
        assert cases[bad].status == "error" and cases[bad].unevaluated
        assert "unusable" in cases[bad].reasons
    assert all(cases[c].status == "pass" for c in cases if c not in ("r01", "r02"))
    summary = read_results(project / "out" / "results.json").suites[0].evaluators
    assert {e.name: (e.passed, e.failed, e.errored) for e in summary}["judge"] == (6, 0, 2)
    assert "judge" in res.stdout and "unusable" in res.stdout


def test_provider_answering_500_makes_errors_completes_and_exits_3(project: Path) -> None:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig(error_rate=1.0, error_status=500))
    url = server.start()
    try:
        edit(
            project / "promptloop.yaml",
            "model: scripted/sentiment",
            f"model: openai/stub\napi_base: {url}\nretries: 1\ntimeout: 10",
        )
        proc = run_promptloop(
            project, "run", ".", "-o", "out", "-q", env=cli_env(OPENAI_API_KEY="sk-test")
        )
    finally:
        server.stop()
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "errored cases (8)" in proc.stdout
    assert "failing cases" not in proc.stdout
    result = read_results(project / "out" / "results.json")
    cases = result.suites[0].cases
    assert [c.status for c in cases] == ["error"] * 8
    assert all("500" in (c.error or "") for c in cases)
    assert result.suites[0].counts == (0, 0, 8)
    assert result.verdict is not None and result.verdict.failed_checks == ["errors"]
    report = (project / "out" / "report.md").read_text()
    assert "8 cases not evaluated (errors)" in report
    assert "failing case" not in report
    assert (project / "out" / "junit.xml").exists()


def test_on_error_neutral_keeps_errors_from_blocking(project: Path) -> None:
    edit(project / "promptloop.yaml", "seed: 7", "seed: 7\ngate:\n  on_error: neutral")
    from promptloop.models.base import ModelCallError

    def flaky(call: dict[str, Any]) -> str | BaseException:
        text = str(call["messages"][-1]["content"])
        if "Terrible" in text:
            return ModelCallError("provider down", kind="server")
        return classifier(call)

    register_script("sentiment", flaky)
    res = CliRunner().invoke(
        cli, ["run", str(project), "-o", str(project / "out"), "-q", "--no-cache"]
    )
    assert res.exit_code == 0, res.output
    cases = {c.id: c for c in read_results(project / "out" / "results.json").suites[0].cases}
    assert cases["r02"].status == "error"
    assert sum(c.status == "pass" for c in cases.values()) == 7


def test_no_config_found(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(tmp_path)])
    line = assert_one_line_error(res, "no promptloop.yaml found")
    assert "--config" in line


def test_missing_config_file_given_with_config(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", "--config", str(tmp_path / "nope.yaml")])
    assert_one_line_error(res, "nope.yaml")


def test_unusable_output_dir_fails_before_any_model_call(project: Path) -> None:
    (project / "afile").write_text("not a folder")
    register_script("sentiment", classifier)
    res = CliRunner().invoke(cli, ["run", str(project), "-o", str(project / "afile" / "out")])
    assert_one_line_error(res, "afile/out", "cannot write reports")
    assert script_calls("sentiment") == []


def test_optimize_checks_the_output_dir_before_optimizing(project: Path) -> None:
    (project / "afile").write_text("not a folder")
    register_script("sentiment", classifier)
    res = CliRunner().invoke(
        cli, ["optimize", "--dir", str(project), "-o", str(project / "afile" / "out")]
    )
    assert_one_line_error(res, "afile/out", "cannot write reports")
    assert script_calls("sentiment") == []


def test_judge_provider_failing_makes_errors_not_fails(project: Path) -> None:
    config = project / "promptloop.yaml"
    edit(config, "model: scripted/sentiment", "model: scripted/sentiment\njudge_model: scripted/j")
    edit(config, "seed: 7", "seed: 7\nretries: 0")
    config.write_text(config.read_text() + '      - judge: "The label is right."\n')
    from promptloop.models.base import ModelCallError

    def judge(call: dict[str, Any]) -> str | BaseException:
        if "Terrible" in str(call["messages"][-1]["content"]):
            return ModelCallError("judge provider down", kind="server")
        return json.dumps({"critique": "Right label.", "passed": True, "score": 1.0})

    register_script("j", judge)
    register_script("sentiment", classifier)
    res = CliRunner().invoke(cli, ["run", str(project), "-o", str(project / "out"), "-q"])
    assert res.exit_code == 3, res.output
    cases = {c.id: c for c in read_results(project / "out" / "results.json").suites[0].cases}
    assert cases["r02"].status == "error"
    assert "judge provider down" in (cases["r02"].error or "")
    assert cases["r02"].output == "negative"  # what was computed is kept
    assert [c.status for i, c in cases.items() if i != "r02"] == ["pass"] * 7
