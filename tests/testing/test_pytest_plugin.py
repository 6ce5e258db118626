"""`pytest --promptloop`: suites as test items, driven through pytest itself (pytester).

The project under test answers through the OpenAI-compatible stub on loopback, which
echoes the rendered prompt: a case passes exactly when its `answer` equals its `want`.
"""

from __future__ import annotations

import importlib.metadata
import json
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT

pytest_plugins = ["pytester"]

# Where promptloop is installed from this checkout the entry point loads the plugin; where
# an older install is on the path (a developer's worktree), load it by name.
_INSTALLED = any(
    ep.value == "promptloop.testing.plugin"
    for ep in importlib.metadata.entry_points(group="pytest11")
)
PLUGIN = [] if _INSTALLED else ["-p", "promptloop.testing.plugin"]

ROWS = [
    {"id": "yes-1", "answer": "yes", "want": "yes"},
    {"id": "yes-2", "answer": "yes", "want": "yes"},
    {"id": "wrong", "answer": "no", "want": "yes"},
    {"id": "yes-3", "answer": "yes", "want": "yes", "tags": ["smoke"]},
]


def write_project(
    root: Path,
    base_url: str,
    *,
    threshold: float = 0.5,
    judge: bool = False,
    rows: list[dict[str, Any]] = ROWS,
) -> Path:
    project = root / "proj"
    (project / "prompts").mkdir(parents=True)
    (project / "evals").mkdir()
    (project / "prompts" / "answer.md").write_text("{{ answer }}\n")
    (project / "evals" / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    judge_item = (
        "      - judge: {rubric: The answer is yes.}\n        name: judge\n" if judge else ""
    )
    (project / "promptloop.yaml").write_text(
        textwrap.dedent(
            f"""\
            model: openai/stub
            api_base: {base_url}
            suites:
              - name: answers
                prompt: prompts/answer.md
                dataset: evals/cases.jsonl
                threshold: {threshold}
                evaluators:
                  - equals: "{{{{ want }}}}"
                    name: says-what-was-wanted
            """
        )
        + judge_item
    )
    return project


@pytest.fixture
def stub(serve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return serve()


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_the_entry_point_is_declared() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "promptloop": "promptloop.testing.plugin"
    }


def test_cases_are_collected_as_items_named_suite_and_case(pytester, stub):
    server, url = stub
    project = write_project(pytester.path, url)
    result = run(pytester, "--collect-only", "-q", f"--promptloop={project}")
    result.assert_outcomes()
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "proj/promptloop.yaml::answers::yes-1",
        "proj/promptloop.yaml::answers::yes-2",
        "proj/promptloop.yaml::answers::wrong",
        "proj/promptloop.yaml::answers::yes-3",
        "proj/promptloop.yaml::answers::threshold",
    ]
    assert server.snapshot()["requests"] == 0  # collecting calls no model


def test_a_failing_case_fails_with_the_evaluators_reason(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    result = run(pytester, f"--promptloop={project}", "-rA")
    result.assert_outcomes(passed=4, failed=1)
    out = result.stdout.str()
    assert "FAILED proj/promptloop.yaml::answers::wrong" in out
    assert "case wrong (evals/cases.jsonl:3): fail (score 0.00)" in out
    assert "output: no" in out
    assert "says-what-was-wanted:" in out
    # pytest's failure text is promptloop's message, not a traceback into the plugin.
    assert "plugin.py" not in out


def test_the_judges_critique_is_in_the_failure(pytester, serve, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    _, url = serve(judge_passed=False)
    project = write_project(pytester.path, url, judge=True)
    result = run(pytester, f"--promptloop={project}", "-k", "yes-1")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.re_match_lines([r"judge: stub judge read \d+ words"])


def test_below_the_threshold_the_suite_item_fails(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url, threshold=0.9)
    result = run(pytester, f"--promptloop={project}", "-k", "threshold or wrong or yes-1")
    result.assert_outcomes(passed=1, failed=2, deselected=2)
    assert "FAILED proj/promptloop.yaml::answers::threshold" in result.stdout.str()


def test_selection_runs_only_the_selected_cases(pytester, stub):
    server, url = stub
    project = write_project(pytester.path, url)
    result = run(pytester, f"--promptloop={project}", "-k", "yes-2")
    result.assert_outcomes(passed=1, deselected=4)
    assert server.snapshot()["requests"] == 1


def test_markers_from_the_plugin_select_every_item(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = run(pytester, "test_plain.py", f"--promptloop={project}", "-m", "promptloop")
    result.assert_outcomes(passed=4, failed=1, deselected=1)


def test_exitfirst_stops_at_the_first_failing_case(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    result = run(pytester, f"--promptloop={project}", "-x")
    result.assert_outcomes(passed=2, failed=1)


def test_a_second_run_answers_from_the_cache(pytester, stub):
    server, url = stub
    project = write_project(pytester.path, url)
    run(pytester, f"--promptloop={project}").assert_outcomes(passed=4, failed=1)
    first = server.snapshot()["requests"]
    assert first == len(ROWS)
    run(pytester, f"--promptloop={project}").assert_outcomes(passed=4, failed=1)
    assert server.snapshot()["requests"] == first


def test_last_failed_reruns_only_the_failing_case(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    args = (*PLUGIN, f"--promptloop={project}")
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=4, failed=1)
    again = pytester.runpytest_subprocess(*args, "--lf")
    again.assert_outcomes(failed=1, deselected=4)


def test_pytests_junit_xml_names_each_case(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    run(pytester, f"--promptloop={project}", "--junitxml=out.xml")
    xml = (pytester.path / "out.xml").read_text()
    assert 'name="wrong"' in xml and "says-what-was-wanted" in xml
    assert 'name="output" value="no"' in xml


def test_the_reports_of_promptloop_run_are_written_when_asked(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    run(pytester, f"--promptloop={project}", "--promptloop-output=reports")
    results = json.loads((pytester.path / "reports" / "results.json").read_text())
    statuses = {c["id"]: c["status"] for c in results["suites"][0]["cases"]}
    assert statuses == {"yes-1": "pass", "yes-2": "pass", "wrong": "fail", "yes-3": "pass"}
    assert (pytester.path / "reports" / "junit.xml").is_file()


def test_xdist_runs_each_suite_once_on_one_worker(pytester, stub):
    pytest.importorskip("xdist")
    server, url = stub
    project = write_project(pytester.path, url)
    result = run(pytester, f"--promptloop={project}", "-n", "2")
    result.assert_outcomes(passed=4, failed=1)
    assert server.snapshot()["requests"] == len(ROWS)


def test_without_promptloop_nothing_extra_is_collected(pytester, stub):
    _, url = stub
    write_project(pytester.path, url)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "answers" not in result.stdout.str()


def test_an_ini_option_turns_it_on(pytester, stub):
    _, url = stub
    write_project(pytester.path, url)
    pytester.makeini("[pytest]\npromptloop = proj\n")
    result = run(pytester, "proj")
    result.assert_outcomes(passed=4, failed=1)


def test_a_mistake_in_the_config_is_one_line(pytester, stub):
    _, url = stub
    project = write_project(pytester.path, url)
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().replace("equals:", "equalz:"))
    result = run(pytester, f"--promptloop={project}")
    out = result.stdout.str()
    assert (
        "promptloop: proj/promptloop.yaml:9: suites[0].evaluators[0]: unknown evaluator "
        "'equalz' — did you mean 'equals'?"
    ) in out
    assert "Traceback" not in out and "UserError" not in out
    assert result.ret != 0


def test_the_baseline_adds_a_gate_item(pytester, stub):
    import subprocess

    _, url = stub
    rows = [{"id": f"c{i}", "answer": "yes", "want": "yes"} for i in range(12)]
    project = write_project(pytester.path, url, rows=rows)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=pytester.path, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    (project / "prompts" / "answer.md").write_text("no\n")  # head now answers "no" to all
    result = run(pytester, f"--promptloop={project}", "--promptloop-baseline=HEAD", "-k", "gate")
    result.assert_outcomes(failed=1, deselected=12)
    assert "FAILED proj/promptloop.yaml::answers::gate" in result.stdout.str()


def test_promptloop_check_in_an_ordinary_test(pytester, stub):
    _, url = stub
    write_project(pytester.path, url)
    pytester.makepyfile(
        test_prompt="""
        from pathlib import Path

        def test_says_yes(promptloop_check):
            result = promptloop_check(
                "proj/prompts/answer.md",
                vars={"answer": "yes"},
                evaluators=[{"equals": "yes"}],
                model="openai/stub",
            )
            assert result.passed, result.message
            assert result.output == "yes"

        def test_says_no(promptloop_check):
            result = promptloop_check(
                "proj/prompts/answer.md",
                vars={"answer": "no"},
                evaluators=[{"equals": "yes", "name": "wants-yes"}],
                model="openai/stub",
            )
            assert result.passed, result.message
        """
    )
    pytester.makefile(".yaml", promptloop=f"api_base: {url}\nsuites: []\n")
    result = run(pytester, "test_prompt.py")
    result.assert_outcomes(passed=1, failed=1)
    assert "wants-yes:" in result.stdout.str()


@pytest.mark.embedded
def test_the_example_runs_as_tests_on_the_embedded_model(pytester, monkeypatch):
    """`pytest --promptloop examples/taglines`, as the README shows it (two cases here)."""
    import shutil

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    shutil.copytree(REPO_ROOT / "examples" / "taglines", pytester.path / "taglines")
    cases = (pytester.path / "taglines" / "evals" / "products.jsonl").read_text().count("\n")
    result = run(pytester, "--promptloop", "taglines", "-k", "brewly", "-rA")
    outcomes = result.parseoutcomes()
    out = result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 1, out
    # The other cases, the threshold item and the example's own prompt-check test.
    assert outcomes.get("deselected") == cases + 1
    assert "taglines/promptloop.yaml::taglines::brewly" in out
    # The embedded model answered: a failure quotes its output and reasons, never an error.
    assert "): error (" not in out


@pytest.mark.embedded
def test_the_examples_prompt_check_passes_on_the_embedded_model(pytester, monkeypatch):
    import shutil

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    shutil.copytree(REPO_ROOT / "examples" / "taglines", pytester.path / "taglines")
    result = run(pytester, "taglines/tests")
    result.assert_outcomes(passed=1)


def test_a_models_escape_sequences_cannot_drive_the_terminal(pytester, stub):
    _, url = stub
    rows = [{"id": "esc", "answer": "\u001b]0;pwned\u0007\u001b[2Jno", "want": "yes"}]
    project = write_project(pytester.path, url, rows=rows)
    result = run(pytester, f"--promptloop={project}", "-k", "esc")
    result.assert_outcomes(failed=1, deselected=1)
    out = result.stdout.str()
    assert "\x1b" not in out and "\x07" not in out
    assert "output: ?]0;pwned??[2Jno" in out
