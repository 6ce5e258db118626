from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from promptloop.errors import UserError
from promptloop.project.choices import choose_models
from promptloop.project.config.file import Config, config_json_schema
from promptloop.project.config.parse import parse_config
from promptloop.project.loaded import find_config, load_config

FIXTURE = Path(__file__).parents[1] / "fixtures" / "config" / "project"


BASE = """\
model: m
suites:
  - name: taglines
    prompt: prompts/tagline.md
    dataset: evals/taglines.jsonl
    evaluators:
      - icontains: "{{ product }}"
      - contains: "!"
        weight: 2
"""


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        parse_config(text, "promptloop.yaml")
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_config_has_defaults_specs_and_lines() -> None:
    config = parse_config(BASE, "promptloop.yaml")
    assert config.model == "m"
    assert config.concurrency == 8 and config.retries == 4 and config.repeat == 1
    assert config.splits.ratios() == (0.5, 0.25, 0.25)
    assert config.gate.critical_tags == ["critical"] and config.gate.on_error == "fail"
    assert config.optimizer.feedback == "critiques"
    suite = config.suites[0]
    assert suite.case_threshold == 1.0 and suite.threshold is None
    first, second = suite.evaluators
    assert (first.kind, first.args, first.weight, first.line) == (
        "icontains",
        "{{ product }}",
        1.0,
        7,
    )
    assert (second.kind, second.args, second.weight, second.line) == ("contains", "!", 2.0, 8)
    assert config.line_of(("suites", 0, "prompt")) == 4


def test_models_fall_back_in_order() -> None:
    def chosen(text: str) -> tuple[str, str, str]:
        models = choose_models(parse_config(text, "promptloop.yaml"), "promptloop.yaml", {})
        return models.model, models.judge_model, models.optimizer_model

    assert chosen(BASE.replace("model: m\n", "")) == ("local/smollm2",) * 3
    assert chosen(BASE + "judge_model: j\n") == ("m", "j", "j")


def test_unknown_evaluator_kind_names_line_key_and_suggestion() -> None:
    text = BASE.replace('contains: "!"', 'containz: "!"')
    assert error_of(text) == (
        "promptloop.yaml:8: suites[0].evaluators[1]: "
        "unknown evaluator 'containz' — did you mean 'contains'?"
    )


def test_unknown_top_level_key_suggests_spelling() -> None:
    assert error_of("modle: x\n" + BASE) == (
        "promptloop.yaml:1: modle: unknown key 'modle' — did you mean 'model'?"
    )


def test_misspelt_suite_key_is_reported_rather_than_the_missing_one() -> None:
    message = error_of(BASE.replace("    prompt:", "    promt:"))
    assert message.startswith(
        "promptloop.yaml:4: suites[0].promt: unknown key 'promt' — did you mean 'prompt'?"
    )


def test_unknown_nested_key_in_gate() -> None:
    message = error_of(BASE + "gate:\n  max_regresion_pp: 3\n")
    assert message == (
        "promptloop.yaml:11: gate.max_regresion_pp: unknown key 'max_regresion_pp'"
        " — did you mean 'max_regression_pp'?"
    )


def test_stray_key_next_to_an_evaluator_points_at_that_key() -> None:
    message = error_of(BASE.replace("weight: 2", "wieght: 2"))
    assert message.startswith("promptloop.yaml:9: suites[0].evaluators[1].wieght: unknown key")
    assert message.endswith("did you mean 'weight'?")


def test_two_kinds_in_one_item() -> None:
    message = error_of(BASE.replace("weight: 2", "icontains: x"))
    assert message.startswith("promptloop.yaml:8: suites[0].evaluators[1]: one evaluator per")
    assert "'contains'" in message and "'icontains'" in message


def test_evaluator_without_kind() -> None:
    message = error_of(BASE.replace('- contains: "!"\n        weight: 2', "- weight: 2"))
    assert message.startswith("promptloop.yaml:8: suites[0].evaluators[1]: evaluator has no kind")
    assert "icontains" in message


def test_malformed_yaml_reports_the_line_the_bracket_opens() -> None:
    # PyYAML gives up on line 6; the unclosed "[" that is the mistake is on line 5.
    message = error_of(BASE.replace("    dataset: evals/taglines.jsonl", "    dataset: [a"))
    assert message.startswith("promptloop.yaml:5: invalid YAML:")


def test_wrong_type_shows_key_line_and_value() -> None:
    assert error_of("concurrency: zero\n" + BASE) == (
        "promptloop.yaml:1: concurrency: Input should be a valid integer, unable to parse "
        "string as an integer, got 'zero'"
    )


def test_out_of_range_value() -> None:
    message = error_of(BASE + "repeat: 0\n")
    assert message.startswith("promptloop.yaml:10: repeat: Input should be greater than or equal")


def test_bad_literal_lists_choices() -> None:
    message = error_of(BASE + "gate: {on_error: boom}\n")
    assert message == (
        "promptloop.yaml:10: gate.on_error: Input should be 'fail', 'neutral' or 'ignore', "
        "got 'boom'"
    )


@pytest.mark.parametrize("text", ["model: m\n", "model: m\nsuites: []\n"])
def test_missing_or_empty_suites(text: str) -> None:
    message = error_of(text)
    assert ": suites: needs at least one suite" in message
    assert message.startswith("promptloop.yaml:")


def test_duplicate_suite_names_point_at_the_second() -> None:
    text = BASE + "  - name: taglines\n    prompt: p.md\n    dataset: d.jsonl\n"
    assert error_of(text) == (
        "promptloop.yaml:10: suites[1].name: duplicate suite name 'taglines' (also suites[0])"
    )


def test_splits_must_sum_to_one() -> None:
    message = error_of(BASE + "splits: {train: 0.5, val: 0.5, test: 0.5}\n")
    assert message == "promptloop.yaml:10: splits: train + val + test must add up to 1, got 1.5"


def test_splits_within_tolerance_are_accepted() -> None:
    config = parse_config(BASE + "splits: {train: 0.7, val: 0.2, test: 0.1}\n", "p.yaml")
    assert config.splits.ratios() == (0.7, 0.2, 0.1)


def test_duplicate_yaml_key() -> None:
    assert error_of("model: a\nmodel: b\n" + BASE.replace("model: m\n", "")) == (
        "promptloop.yaml:2: duplicate key 'model' (first written at line 1)"
    )


def test_empty_file_and_non_mapping() -> None:
    assert "the file is empty" in error_of("")
    assert error_of("- a\n- b\n").startswith("promptloop.yaml:1: expected a mapping")


def test_bad_suite_name_and_empty_inline_dataset() -> None:
    message = error_of(BASE.replace("name: taglines", "name: 'tag lines'"))
    assert message.startswith("promptloop.yaml:3: suites[0].name: a name may only use")
    message = error_of(BASE.replace("dataset: evals/taglines.jsonl", "dataset: []"))
    assert message == "promptloop.yaml:5: suites[0].dataset: inline dataset has no cases"


def test_bare_string_evaluator_is_a_kind_without_args() -> None:
    config = parse_config(BASE.replace('- contains: "!"\n        weight: 2', "- is-json"), "p.yaml")
    assert config.suites[0].evaluators[1].kind == "is-json"
    assert config.suites[0].evaluators[1].args is None
    assert config.suites[0].evaluators[1].line == 8


def test_find_config_walks_up(tmp_path: Path) -> None:
    (tmp_path / "promptloop.yml").write_text(BASE)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep).resolve() == (tmp_path / "promptloop.yml").resolve()


def test_find_config_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        find_config(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "promptloop init" in message


def test_load_config_resolves_paths_and_loads_cases_and_prompts() -> None:
    loaded = load_config(FIXTURE / "promptloop.yaml")
    assert loaded.root == FIXTURE
    assert loaded.config.splits.ratios() == (0.6, 0.2, 0.2)
    taglines, inline = loaded.config.suites
    assert loaded.resolve(taglines.prompt) == FIXTURE / "prompts" / "tagline.md"
    assert taglines.evaluators[1].label == "no-shouting"

    cases = loaded.load_cases(taglines)
    assert [c.id for c in cases][1] == "globex"
    assert cases[1].source is not None and cases[1].source.endswith("evals/taglines.jsonl:2")

    inline_cases = loaded.load_cases(inline)
    assert [c.vars["product"] for c in inline_cases] == ["Acme", "Globex"]
    # Inline cases point at their lines in promptloop.yaml.
    assert inline_cases[0].source is not None and inline_cases[0].source.endswith(
        "promptloop.yaml:18"
    )
    assert inline_cases[1].source is not None and inline_cases[1].source.endswith(
        "promptloop.yaml:19"
    )
    assert inline_cases[1].tags == ("critical",)

    prompt = loaded.load_prompt(taglines)
    assert prompt.settings.max_tokens == 40 and prompt.variables == {"product"}


def test_display_paths_follow_the_given_config_path() -> None:
    loaded = load_config(FIXTURE / "promptloop.yaml")
    assert loaded.display("evals/x.jsonl") == str(FIXTURE / "evals" / "x.jsonl")


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "promptloop.yaml")


def test_json_schema_accepts_the_fixture_and_rejects_typos() -> None:
    import yaml

    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load((FIXTURE / "promptloop.yaml").read_text())
    assert list(validator.iter_errors(data)) == []
    bad = dict(data, modle="x")
    assert any("modle" in e.message for e in validator.iter_errors(bad))
    bad_eval = yaml.safe_load(BASE.replace('contains: "!"', 'containz: "!"'))
    assert list(validator.iter_errors(bad_eval)) != []
    described = schema["$defs"]["EvaluatorSpec"]
    assert "exactly one kind" in described["description"]


def test_config_validates_from_python_too() -> None:
    config = Config.model_validate(
        {
            "suites": [
                {
                    "name": "s",
                    "prompt": "p.md",
                    "dataset": "d.jsonl",
                    "evaluators": [{"contains": "x", "name": "has-x"}],
                }
            ]
        }
    )
    assert config.suites[0].evaluators[0].label == "has-x"


def test_inline_case_errors_point_at_the_key_in_promptloop_yaml(tmp_path: Path) -> None:
    text = BASE.replace(
        "dataset: evals/taglines.jsonl",
        "dataset:\n      - product: A\n      - vars: {product: B}\n        tgas: [x]",
    )
    (tmp_path / "promptloop.yaml").write_text(text)
    loaded = load_config(tmp_path / "promptloop.yaml")
    with pytest.raises(UserError) as info:
        loaded.load_cases(loaded.config.suites[0])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'promptloop.yaml'}:8: tgas: unknown key 'tgas'")
    assert "did you mean 'tags'?" in message
