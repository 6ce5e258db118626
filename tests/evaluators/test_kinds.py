"""Evaluator kinds declare themselves: the schema `promptloop schema` prints holds each
kind's real arguments, and a kind written in one new module is found with nothing else
to edit."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

import promptloop.evaluators.kind as kind_module
import promptloop.evaluators.kinds as kinds_package
from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext
from promptloop.evaluators.registry import build_evaluator, kind_names, kinds
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.project.config.file import config_json_schema


def _item_validator() -> Any:
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    item = {"$defs": schema["$defs"], **schema["$defs"]["EvaluatorSpec"]}
    return jsonschema.Draft202012Validator(item)


GOOD = [
    "is-json",
    "not-is-json",
    "human",
    {"equals": "{{ expected }}"},
    {"equals": 42},
    {"equals": {"value": "billing", "case_sensitive": False}, "weight": 2},
    {"contains": ["refund", "sorry"]},
    {"not-icontains": {"values": ["a", "b"], "mode": "all"}, "name": "no-a-b"},
    {"regex": {"pattern": "^\\d+$", "flags": "im"}},
    {"starts-with": "Dear"},
    {"json-schema": "schema.json"},
    {"json-schema": {"type": "object", "required": ["label"]}},
    {"json-schema": {"schema": "schema.json", "allow_fence": True}},
    {"max-length": 100},
    {"min-length": {"words": 3}},
    {"python": "checks.py:is_polite"},
    {"python": {"function": "checks:near", "args": {"tolerance": 0.1}, "threshold": 0.7}},
    {"judge": "Polite and short."},
    {"judge": {"rubric": "Right team.", "error_types": ["wrong_label"], "threshold": 0.8}},
    {"tool-call": "refund"},
    {"tool-call": {"sequence": ["lookup", "refund"]}},
    {"tool-args": {"tool": "refund", "contains": {"amount": 120}, "if_called": True}},
]

BAD = [
    "equals",  # needs a value
    {"containz": "x"},
    {"contains": {"valus": ["a"]}},
    {"icontains": {"value": "a", "case_sensitive": True}},
    {"equals": {"value": "a", "strip": "yes"}},
    {"regex": {"pattern": "a", "flag": "i"}},
    {"max-length": -1},
    {"max-length": {"tokens": 3}},
    {"is-json": {"fence": True}},
    {"python": {"fn": "checks.py:f"}},
    {"judge": {"rubrik": "x"}},
    {"judge": {"rubric": "x", "threshold": 2}},
    {"tool-call": {"name": "x", "twice": True}},
    {"tool-args": {"tool": "refund", "equal": {}}},
    {"human": "x"},
    {"contains": "x", "wieght": 2},
]


@pytest.mark.parametrize("item", GOOD, ids=str)
def test_the_schema_accepts_what_promptloop_accepts(item: Any) -> None:
    assert list(_item_validator().iter_errors(item)) == []
    EvaluatorSpec.model_validate(item)  # and the config takes it too


@pytest.mark.parametrize("item", BAD, ids=str)
def test_the_schema_refuses_bad_arguments(item: Any) -> None:
    assert list(_item_validator().iter_errors(item)) != []


def test_each_kind_describes_its_arguments() -> None:
    variants = {v.get("title"): v for v in config_json_schema()["$defs"]["EvaluatorSpec"]["anyOf"]}
    assert set(kind_names()) <= set(variants)
    judge = variants["judge"]["properties"]["judge"]
    mapping = next(form for form in judge["anyOf"] if form.get("type") == "object")
    assert {"rubric", "error_types", "threshold", "show_prompt"} <= set(mapping["properties"])
    assert mapping["additionalProperties"] is False


SHOUTING = textwrap.dedent(
    '''
    from typing import ClassVar

    from promptloop.evaluators.deterministic import CheckKind, Finding


    class _Upper:
        def run(self, output, case):
            loud = output == output.upper()
            return Finding(loud, "output is in capitals", "output is in capitals, it must not")


    class Shouting(CheckKind):
        """The output is in capital letters."""

        kind: ClassVar[str] = "shouting"

        def check(self, context):
            return _Upper()
    '''
)


def test_a_kind_in_one_new_module_is_registered_negatable_and_in_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shouting.py").write_text(SHOUTING)
    monkeypatch.setattr(kinds_package, "__path__", [*kinds_package.__path__, str(tmp_path)])
    # Registered into a copy, so the kind is gone again after this test.
    monkeypatch.setattr(kind_module, "_KINDS", dict(kind_module._KINDS))
    try:
        assert "shouting" in kinds()
        assert {"shouting", "not-shouting"} <= set(kind_names())
        titles = [v.get("title") for v in config_json_schema()["$defs"]["EvaluatorSpec"]["anyOf"]]
        assert "shouting" in titles and "not-shouting" in titles
        spec = EvaluatorSpec.model_validate("not-shouting")
        evaluator = build_evaluator(spec, base_dir=tmp_path)
        ctx = EvalContext(judge=SimpleNamespace(), judge_model="none")  # type: ignore[arg-type]
        result = asyncio.run(evaluator.evaluate("calm", Case(id="c", vars={}), ctx))
        assert result.passed and result.evaluator == "not-shouting"
        with pytest.raises(ValueError, match="shouting: unknown key loud"):
            build_evaluator(SimpleNamespace(kind="shouting", args={"loud": 1}), base_dir=tmp_path)
    finally:
        sys.modules.pop(f"{kinds_package.__name__}.shouting", None)
