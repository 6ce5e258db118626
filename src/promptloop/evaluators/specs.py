"""How a promptloop.yaml evaluator item is written: its shape and its JSON Schema.

The config validates items with ``EvaluatorSpec`` (one known kind, weight, name); the
kind's own arguments are validated by its class when the project is loaded
(``registry.build_evaluator``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from promptloop.evaluators.kind import NEGATION_PREFIX
from promptloop.evaluators.registry import kind_names, kinds
from promptloop.yamlpos import suggest

# Keys an evaluator list item may carry besides its single evaluator kind.
_EVALUATOR_OPTIONS = ("weight", "name")


class EvaluatorSpec(BaseModel):
    """One evaluator list item. Users write ``{<kind>: <args>, weight?, name?}``."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    args: Any = None
    weight: float = Field(default=1.0, ge=0)
    name: str | None = None
    line: int | None = Field(default=None, description="Line in promptloop.yaml (set by us).")

    @model_validator(mode="before")
    @classmethod
    def _from_user_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            # A bare kind such as ``- is-json`` for evaluators that need no arguments.
            data = {data: None}
        if not isinstance(data, Mapping):
            raise PydanticCustomError(
                "evaluator_shape",
                'an evaluator must be a mapping like `contains: "text"`, got {got}',
                {"got": type(data).__name__},
            )
        if "kind" in data and set(data) <= {"kind", "args", "weight", "name", "line"}:
            kind = data["kind"]
            if isinstance(kind, str):
                _check_kind(kind)
            return data
        kinds = [k for k in data if k not in _EVALUATOR_OPTIONS]
        if not kinds:
            raise PydanticCustomError(
                "evaluator_kind_missing",
                "evaluator has no kind; write one of: {kinds}",
                {"kinds": ", ".join(kind_names())},
            )
        names = kind_names()
        if len(kinds) > 1:
            known = [str(k) for k in kinds if str(k) in names]
            if len(known) > 1:
                raise PydanticCustomError(
                    "evaluator_kind_many",
                    "one evaluator per list item, found {found}; start a new `- ` item for each",
                    {"found": ", ".join(repr(k) for k in known)},
                )
            # One real kind plus a stray key: report the stray key precisely.
            stray = next(str(k) for k in kinds if str(k) not in names)
            raise PydanticCustomError(
                "evaluator_extra_key",
                "unknown key '{key}' in an evaluator (allowed besides the kind: weight, "
                "name){hint}",
                {
                    "key": stray,
                    "hint": suggest(stray, [*names, *_EVALUATOR_OPTIONS]),
                    "at": (stray,),
                },
            )
        kind = str(kinds[0])
        _check_kind(kind)
        out: dict[str, Any] = {"kind": kind, "args": data[kinds[0]]}
        for option in _EVALUATOR_OPTIONS:
            if option in data:
                out[option] = data[option]
        return out

    @property
    def label(self) -> str:
        """How results name this evaluator: its ``name``, else its kind."""
        return self.name or self.kind


def _check_kind(kind: str) -> None:
    kinds = kind_names()
    if kind not in kinds:
        raise PydanticCustomError(
            "evaluator_kind_unknown",
            "unknown evaluator '{kind}'{hint}",
            {"kind": kind, "hint": suggest(kind, kinds)},
        )


def evaluator_item_schema() -> dict[str, Any]:
    """The JSON Schema of one evaluator item, with each kind's real arguments."""
    options = {
        "weight": {
            "type": "number",
            "minimum": 0,
            "default": 1,
            "description": "Weight in the case score.",
        },
        "name": {"type": "string", "description": "Label shown in reports."},
    }
    declared = kinds()
    variants: list[dict[str, Any]] = []
    names = kind_names()
    for name in names:
        cls = declared.get(name) or declared[name.removeprefix(NEGATION_PREFIX)]
        arguments = cls.argument_schema()
        if name not in declared:
            arguments = {**arguments, "description": f"The opposite of {cls.kind}."}
        variants.append(
            {
                "type": "object",
                "title": name,
                "required": [name],
                "properties": {name: arguments, **options},
                "additionalProperties": False,
            }
        )
    bare = [name for name in names if _takes_no_value(declared, name)]
    variants.append(
        {"type": "string", "enum": bare, "description": "An evaluator that takes no arguments."}
    )
    return {
        "description": "One evaluator: exactly one kind key plus optional weight and name.",
        "anyOf": variants,
    }


def _takes_no_value(declared: Mapping[str, Any], name: str) -> bool:
    cls = declared.get(name) or declared[name.removeprefix(NEGATION_PREFIX)]
    try:
        cls.model_validate(None)
    except ValueError:
        return False
    return True


def __getattr__(name: str) -> Any:
    # ``EVALUATOR_KINDS``: every name a user may write, ``not-`` forms included, asked of
    # the registry each time (the kinds declare themselves, so the list is never stale).
    if name == "EVALUATOR_KINDS":
        return kind_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
