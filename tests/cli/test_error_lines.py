"""Each mistake is one line pointing at the culprit: the line where a quote or block opens,
the config key that names an unreadable file, the line inside a broken schema or module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import read_results
from promptloop.models.scripted import register_script, script_calls
from tests.cli.test_cli_errors import assert_one_line_error, edit, run_cli
from tests.support import copy_project


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("sentiment", tmp_path)


def config_of(project: Path) -> Path:
    return project / "promptloop.yaml"


def test_evaluator_template_typo_is_a_config_error_before_any_call(project: Path) -> None:
    edit(config_of(project), 'equals: "{{ label }}"', 'equals: "{{ lable }}"')
    assert_one_line_error(
        run_cli(project),
        "promptloop.yaml:10: suites[0].evaluators[0].equals: undefined variable 'lable' "
        "— did you mean 'label'?",
    )
    assert script_calls("sentiment") == []
    assert not (project / "out").exists()


def test_evaluator_may_use_expected_when_cases_have_it(project: Path) -> None:
    rows = (project / "evals" / "reviews.jsonl").read_text().replace('"label"', '"expected"')
    (project / "evals" / "reviews.jsonl").write_text(rows)
    edit(config_of(project), 'equals: "{{ label }}"', 'equals: "{{ expected }}"')
    res = run_cli(project, "-q")
    assert res.exit_code == 0, res.output
    # Exit 0 alone would not tell: with nothing to gate on, a run whose every case failed
    # (say, ``expected`` rendered empty) exits 0 too. Every label is compared and right.
    [suite] = read_results(project / "out" / "results.json").suites
    assert [c.status for c in suite.cases] == ["pass"] * 8
    labels = [next(e for e in c.evaluations if e.evaluator == "label") for c in suite.cases]
    assert all(e.passed for e in labels)
    assert sorted({c.output for c in suite.cases}) == ["negative", "positive"]


def test_csv_row_with_fewer_cells_than_the_header(project: Path) -> None:
    (project / "evals" / "r.csv").write_text("id,text,label\nr1,good,positive\nr2,bad\n")
    edit(config_of(project), "evals/reviews.jsonl", "evals/r.csv")
    assert_one_line_error(
        run_cli(project), "evals/r.csv:3: row has 2 cells but the header has 3 columns"
    )
    assert script_calls("sentiment") == []


def test_unclosed_quote_points_at_its_own_line(project: Path) -> None:
    edit(config_of(project), "seed: 7", 'seed: "7')
    assert_one_line_error(run_cli(project), "promptloop.yaml:4: invalid YAML:")


@pytest.mark.parametrize(
    ("old", "new", "line", "hint"),
    [
        (
            "    dataset: evals/reviews.jsonl",
            "   dataset: evals/reviews.jsonl",
            8,
            "this line is not indented in step with the lines above it",
        ),
        (
            "    dataset: evals/reviews.jsonl",
            "      dataset: evals/reviews.jsonl",
            8,
            "this line is indented too far, or a value holding ': ' needs quotes",
        ),
        (
            "        name: short",
            "        name: short: yes",
            13,
            "a value holding ': ' needs quotes",
        ),
        ("    evaluators:", "\tevaluators:", 9, "indent with spaces: YAML does not allow a tab"),
    ],
)
def test_an_indentation_slip_is_said_in_plain_words(
    project: Path, old: str, new: str, line: int, hint: str
) -> None:
    edit(config_of(project), old, new)
    message = assert_one_line_error(run_cli(project), f"promptloop.yaml:{line}: invalid YAML: ")
    assert hint in message and "the parser says: " in message


def test_front_matter_error_points_inside_the_front_matter(project: Path) -> None:
    prompt = project / "prompts" / "classify.md"
    prompt.write_text('---\nrole: system\ntemperature: "0\n---\n' + prompt.read_text())
    assert_one_line_error(run_cli(project), "prompts/classify.md:3: invalid YAML:")


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("Review:\n{{ text\nAnswer.\nWith one word.\n", 2),
        ("Review:\n{% if text %}\n{{ text }}\n{% for w in [1] %}{% endfor %}\nAnswer.\n", 2),
        ("---\nrole: user\n---\nA\n{% if text %}{% if 1 %}{% endif %}\n{{ text }}\n", 5),
    ],
)
def test_template_errors_point_where_the_tag_opens(project: Path, body: str, line: int) -> None:
    (project / "prompts" / "classify.md").write_text(body)
    assert_one_line_error(run_cli(project), f"prompts/classify.md:{line}: template error")


def test_missing_prompt_names_the_config_key(project: Path) -> None:
    edit(config_of(project), "prompts/classify.md", "prompts/p.md")
    assert_one_line_error(
        run_cli(project), "promptloop.yaml:7: suites[0].prompt: ", "prompts/p.md not found"
    )


def test_missing_dataset_and_unsupported_format_name_the_config_key(project: Path) -> None:
    edit(config_of(project), "evals/reviews.jsonl", "evals/nope.jsonl")
    assert_one_line_error(
        run_cli(project), "promptloop.yaml:8: suites[0].dataset: ", "evals/nope.jsonl not found"
    )
    (project / "evals" / "cases.txt").write_text("hi\n")
    edit(config_of(project), "evals/nope.jsonl", "evals/cases.txt")
    assert_one_line_error(
        run_cli(project),
        "promptloop.yaml:8: suites[0].dataset: ",
        "evals/cases.txt: unsupported dataset format",
    )


def test_non_utf8_prompt_names_the_config_key(project: Path) -> None:
    (project / "prompts" / "classify.md").write_bytes(b"Review: \xff\xfe {{ text }}\n")
    assert_one_line_error(
        run_cli(project),
        "promptloop.yaml:7: suites[0].prompt: ",
        "prompts/classify.md is not a text file",
    )


def test_schema_file_that_is_not_json_points_inside_it(project: Path) -> None:
    (project / "schema.json").write_text('{\n  "type": "object",\n  "properties": {,}\n}\n')
    edit(
        config_of(project),
        "      - max-length:",
        "      - json-schema: schema.json\n      - max-length:",
    )
    line = assert_one_line_error(run_cli(project), "schema.json:3: ", "not valid JSON")
    assert "promptloop.yaml:12 suites[0].evaluators[1].json-schema" in line


@pytest.mark.parametrize(
    ("module", "fragments"),
    [
        ("import os\nimport no_such_module_here\n", ["checks.py:2: ", "no_such_module_here"]),
        ("def ok(output, case):\n    return (\n\n", ["checks.py:2: ", "SyntaxError"]),
    ],
)
def test_python_check_that_fails_to_import_points_inside_it(
    project: Path, module: str, fragments: list[str]
) -> None:
    (project / "checks.py").write_text(module)
    edit(
        config_of(project),
        "      - max-length:",
        "      - python: checks.py:ok\n      - max-length:",
    )
    line = assert_one_line_error(run_cli(project), *fragments)
    assert "promptloop.yaml:12 suites[0].evaluators[1].python" in line


def test_inline_dataset_item_that_is_not_a_mapping(project: Path) -> None:
    edit(config_of(project), "dataset: evals/reviews.jsonl", 'dataset:\n      - "just text"')
    line = assert_one_line_error(
        run_cli(project),
        "promptloop.yaml:9: suites[0].dataset[0]: an inline case must be a mapping",
    )
    assert "valid string" not in line


def test_config_that_is_a_directory_or_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a" / "promptloop.yaml").mkdir(parents=True)
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "a")])
    assert_one_line_error(res, "promptloop.yaml: is a directory, not a file")
    (tmp_path / "b").mkdir()
    os.symlink("promptloop.yaml", tmp_path / "b" / "promptloop.yaml")
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "b")])
    line = assert_one_line_error(res, "promptloop.yaml: is a symbolic link that leads to no file")
    assert "no promptloop.yaml found" not in line


def test_optimize_unknown_suite_suggests_the_nearest(tmp_path: Path) -> None:
    project = copy_project("greetings", tmp_path)
    register_script("greeter", lambda call: "Hello")
    res = CliRunner().invoke(cli, ["optimize", "greeting", "--dir", str(project)])
    line = assert_one_line_error(res, "no suite named 'greeting' — did you mean 'greetings'?")
    assert "name the suite" not in line
