"""promptfoo's tests expanded by promptloop exactly as promptfoo expanded them.

The truth is promptfoo 0.123's own record of every test it ran on the fixture configs
(tests/fixtures/promptfoo/verdicts, written by bench/promptfoo_truth.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptloop.errors import UserError
from promptloop.project.promptfoo import data_files, variables
from promptloop.project.promptfoo.csv_tests import assertion_from_cell
from promptloop.project.promptfoo.tests import PromptfooTest, expand_tests
from promptloop.yamlpos import load_located
from tests.promptfoo.support import Recorded, canonical, recorded

RECORDED = list(recorded())


def _expand(case: Recorded) -> list[PromptfooTest]:
    data = case.located.data
    return expand_tests(
        data.get("tests"),
        default_test=data.get("defaultTest"),
        scenarios=data.get("scenarios"),
        base_dir=case.base_dir,
        where=case.where(),
    )


def _ours(test: PromptfooTest) -> dict[str, Any]:
    return {
        "description": test.description,
        "assert": canonical(list(test.assertions)),
        "threshold": test.threshold,
        "metadata": dict(test.metadata),
        "options": dict(test.options),
        "vars": canonical(test.vars),
    }


def _theirs(row: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    case = row["test_case"]
    vars = {k: _content(v, base_dir) for k, v in (case.get("vars") or {}).items()}
    return {
        "description": case.get("description"),
        "assert": canonical(case.get("assert") or []),
        "threshold": None if case.get("threshold") is None else float(case["threshold"]),
        "metadata": case.get("metadata") or {},
        # an empty CSV __prefix/__suffix is no prefix to promptfoo (it falls back on the
        # defaultTest's): promptloop leaves it out
        "options": {
            k: v for k, v in (case.get("options") or {}).items() if v != "" or k not in _AFFIXES
        },
        "vars": canonical(vars),
    }


_AFFIXES = ("prefix", "suffix")


def _content(value: Any, base_dir: Path) -> Any:
    """What promptfoo renders for a ``file://`` var: the text, trimmed; YAML as JSON."""
    if not _is_file(value):
        return value
    path = base_dir / value.removeprefix("file://")
    if path.suffix in (".yaml", ".yml"):
        return json.dumps(yaml.safe_load(path.read_text()), separators=(",", ":"))
    return path.read_text().strip()


def _is_file(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("file://")


def _key(view: dict[str, Any]) -> str:
    return json.dumps(view, sort_keys=True, default=str)


@pytest.mark.parametrize("case", RECORDED, ids=[c.name for c in RECORDED])
def test_expansion_matches_promptfoo(case: Recorded) -> None:
    ours = _expand(case)
    rows: dict[int, dict[str, Any]] = {}
    for row in case.results:
        rows.setdefault(row["test"], row)
    theirs = [rows[i] for i in sorted(rows)]
    assert len(ours) == len(theirs)
    # promptfoo lists a var glob's files in the file system's order, promptloop sorted:
    # the tests compare as a multiset, and their order by description.
    assert [t.description for t in ours] == [r["test_case"].get("description") for r in theirs]
    assert sorted(_key(_ours(t)) for t in ours) == sorted(
        _key(_theirs(r, case.base_dir)) for r in theirs
    )


@pytest.mark.parametrize("case", RECORDED, ids=[c.name for c in RECORDED])
def test_file_vars_hold_what_promptfoo_rendered(case: Recorded) -> None:
    """A ``file://`` var is the file's text (a YAML file's data as compact JSON): the
    truth configs echo ``out``, so promptfoo's output is what it rendered from it."""
    ours = _expand(case)
    loaded = [t for t in ours if "out" in t.vars and isinstance(t.vars["out"], str)]
    rendered = {
        (r["test_case"].get("description"), r["model_output"])
        for r in case.results
        if _is_file((r["test_case"].get("vars") or {}).get("out"))
    }
    for description, output in rendered:
        assert any(t.description == description and t.vars["out"] == output for t in loaded)
    for test in ours:
        assert not any(_is_file(v) for v in test.vars.values())


def test_the_recorded_truth_covers_every_expansion_feature() -> None:
    names = {c.name for c in RECORDED}
    assert {"truth-csv-expected", "truth-test-files", "truth-scenarios", "simple-csv"} <= names
    files = next(c for c in RECORDED if c.name == "truth-test-files")
    tests = _expand(files)
    assert [t.vars["out"] for t in tests[:4]] == ["one fish", "two fish", "one fish", "two fish"]
    assert tests[0].vars["sizes"] == [1, 2]  # an array of numbers stays one value
    data = next(t for t in tests if "data" in t.vars)
    assert data.vars["data"] == '{"key":"value","list":[1,2]}'


# --- bad input: one line naming the file, the line and the key ---------------------------


def _config(tmp_path: Path, text: str) -> tuple[dict[str, Any], Any]:
    (tmp_path / "promptfooconfig.yaml").write_text(text)
    located = load_located(text, "promptfooconfig.yaml")

    def where(loc: tuple[str | int, ...]) -> str:
        return f"promptfooconfig.yaml:{located.line_for(loc)}"

    return located.data, where


def _run(tmp_path: Path, text: str) -> list[PromptfooTest]:
    data, where = _config(tmp_path, text)
    return expand_tests(
        data.get("tests"),
        default_test=data.get("defaultTest"),
        scenarios=data.get("scenarios"),
        base_dir=tmp_path,
        where=where,
    )


def test_a_glob_that_matches_nothing_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "prompts: [x]\ntests:\n  - vars: {a: 1}\n  - file://cases/*.yaml\n")
    assert str(raised.value) == (
        "promptfooconfig.yaml:4: tests[1]: cases/*.yaml matches no file (looked in ./)"
    )


def test_a_var_computed_by_python_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "var.py").write_text("def get_var(*a): return {'output': 'x'}\n")
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests:\n  - vars:\n      doc: file://var.py\n")
    message = str(raised.value)
    assert message.startswith("promptfooconfig.yaml:2: vars.doc: a var computed by code (var.py)")
    assert "\n" not in message


def test_a_csv_row_with_too_many_cells_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text('q,__expected\n"multi\nline",x\nb,y,z\n')
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests: file://t.csv\n")
    assert str(raised.value) == "t.csv:4: this row has 3 cells; the header has 2 columns"


def test_a_bad_config_column_names_the_column(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("q,__expected,__config:__expected:weight\na,x,2\n")
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests: file://t.csv\n")
    assert str(raised.value) == (
        "t.csv:2: __config:__expected:weight: 'weight' cannot be set from a __config column; "
        "threshold can"
    )


def test_a_test_key_promptloop_does_not_support_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests:\n  - vars: {a: 1}\n    providerOutput: canned\n")
    assert str(raised.value) == (
        "promptfooconfig.yaml:3: tests[0].providerOutput: a fixed output instead of calling "
        "the model is not supported: remove 'providerOutput'"
    )


def test_a_misspelt_test_key_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests:\n  - vars: {a: 1}\n    asert: []\n")
    assert "tests[0].asert: unknown key" in str(raised.value)
    assert "assert" in str(raised.value).split("unknown key", 1)[1]


def test_expansion_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(variables, "MAX_TESTS", 50)
    values = ", ".join(f"v{i}" for i in range(8))
    text = f"tests:\n  - vars:\n      a: [{values}]\n      b: [{values}]\n"
    with pytest.raises(UserError) as raised:
        _run(tmp_path, text)
    assert "expand to more than 50 runs (this one's vars alone to 64)" in str(raised.value)
    assert str(raised.value).startswith("promptfooconfig.yaml:2: vars:")


def test_a_var_file_over_the_prompt_limit_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * ((1 << 20) + 10))
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests:\n  - vars:\n      doc: file://big.txt\n")
    assert str(raised.value).startswith(
        "big.txt: var file is 1.0 MB; promptloop reads var files of up to 1.0 MB"
    )


def test_defaults_and_scenarios_merge_like_promptfoo(tmp_path: Path) -> None:
    text = (
        "defaultTest:\n  vars: {lang: en}\n  threshold: 0.5\n"
        "  assert: [{type: contains, value: d}]\n"
        "scenarios:\n  - config:\n      - vars: {lang: fr}\n"
        "        assert: [{type: contains, value: c}]\n"
        "    tests:\n      - vars: {q: [a, b]}\n        assert: [{type: contains, value: t}]\n"
    )
    tests = _run(tmp_path, text)
    assert [t.vars for t in tests] == [{"lang": "fr", "q": "a"}, {"lang": "fr", "q": "b"}]
    assert [a["value"] for a in tests[0].assertions] == ["d", "c", "t"]
    assert tests[0].threshold == 0.5
    assert tests[0].metadata == {"conversationId": "__scenario_0__"}
    assert tests[0].source == "promptfooconfig.yaml:10"


def test_csv_cells_in_promptfoos_mini_language() -> None:
    assert assertion_from_cell("contains: x ") == {"type": "contains", "value": "x"}
    assert assertion_from_cell('contains-all:"a, b",c') == {
        "type": "contains-all",
        "value": ["a, b", "c"],
    }
    assert assertion_from_cell("not-levenshtein(2):abc") == {
        "type": "not-levenshtein",
        "value": "abc",
        "threshold": 2,
    }
    assert assertion_from_cell("similar:hello") == {
        "type": "similar",
        "value": "hello",
        "threshold": 0.8,
    }
    assert assertion_from_cell("grade: polite") == {"type": "llm-rubric", "value": " polite"}
    assert assertion_from_cell("Just text: here") == {"type": "equals", "value": "Just text: here"}
    with pytest.raises(ValueError, match="quoted item is not closed"):
        assertion_from_cell('contains-any:"open')


def test_a_scenario_with_an_empty_tests_list_runs_nothing(tmp_path: Path) -> None:
    text = (
        "tests:\n  - vars: {q: plain}\n"
        "scenarios:\n  - config: [{vars: {lang: fr}}]\n    tests: []\n"
        "  - config: [{vars: {lang: de}}]\n"
    )
    assert [t.vars for t in _run(tmp_path, text)] == [{"q": "plain"}, {"lang": "de"}]


def test_jsonl_rows_are_named_only_when_the_file_is_the_tests(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text(
        '{"vars": {"q": 1}, "description": "mine"}\n\n{"vars": {"q": 2}}\n'
    )
    alone = _run(tmp_path, "tests: file://rows.jsonl\n")
    listed = _run(tmp_path, "tests:\n  - file://rows.jsonl\n")
    # promptfoo's standalone reader names every JSONL row, over its own description
    assert [t.description for t in alone] == ["Row #1", "Row #2"]
    assert [t.description for t in listed] == ["mine", None]
    assert [t.source for t in listed] == ["rows.jsonl:1", "rows.jsonl:3"]


def test_a_vars_file_is_read_with_or_without_its_scheme(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("q: from the file\n")
    for written in ("v.yaml", "file://v.yaml", "[file://v.yaml]"):
        (test,) = _run(tmp_path, f"tests:\n  - vars: {written}\n")
        assert test.vars == {"q": "from the file"}


def test_var_expansion_can_be_turned_off(tmp_path: Path) -> None:
    text = "tests:\n  - vars: {q: [a, b]}\n    options: {disableVarExpansion: true}\n"
    (test,) = _run(tmp_path, text)
    assert test.vars == {"q": ["a", "b"]}


def test_the_files_of_one_config_are_read_up_to_a_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_files, "MAX_TOTAL_BYTES", 100)
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text("q\n" + "x" * 60 + "\n")
    with pytest.raises(UserError) as raised:
        _run(tmp_path, "tests: [file://a.csv, file://b.csv]\n")
    assert str(raised.value) == (
        "b.csv: the tests' files hold more than 0 MB together; promptloop stops reading here"
    )
