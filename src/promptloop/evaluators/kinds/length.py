"""Checks on the output's size: ``max-length`` and ``min-length`` (each with its ``not-``
form), counted in characters, words or lines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import quote
from promptloop.evaluators.deterministic import CheckKind, Finding
from promptloop.evaluators.kind import BuildContext, argument_error

Unit = Literal["chars", "words", "lines"]
_UNIT_NAMES = {
    "chars": ("character", "characters"),
    "words": ("word", "words"),
    "lines": ("line", "lines"),
}


def _measure(text: str, unit: Unit) -> int:
    text = text.strip()
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    return len(text.splitlines())


def _count(n: int, unit: Unit) -> str:
    singular, plural = _UNIT_NAMES[unit]
    return f"{n} {singular if n == 1 else plural}"


@dataclass(frozen=True)
class LengthCheck:
    limit: int
    unit: Unit = "chars"
    bound: Literal["max", "min"] = "max"

    def run(self, output: str, case: Case) -> Finding:
        n = _measure(output, self.unit)
        has = f"output has {_count(n, self.unit)}"
        if self.bound == "max":
            if n <= self.limit:
                return Finding(
                    True,
                    f"{has} (at most {self.limit} allowed)",
                    f"{has}; it must have more than {self.limit}",
                )
            return Finding(
                False,
                f"{has}; at most {self.limit} allowed",
                f"{has} (more than {self.limit}, as required)",
            )
        if n >= self.limit:
            return Finding(
                True,
                f"{has} (at least {self.limit} required)",
                f"{has}; it must have fewer than {self.limit}",
            )
        return Finding(
            False,
            f"{has}; at least {self.limit} required; got {quote(output)}",
            f"{has} (fewer than {self.limit}, as required)",
        )


_COUNT = {"type": "integer", "minimum": 0}


class _Length(CheckKind):
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (
        {**_COUNT, "description": "A number of characters."},
    )
    bound: ClassVar[Literal["max", "min"]] = "max"

    chars: int | None = Field(default=None, ge=0)
    words: int | None = Field(default=None, ge=0)
    lines: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return data if isinstance(data, Mapping) else {"chars": data}

    @model_validator(mode="after")
    def _one_unit(self) -> _Length:
        if [self.chars, self.words, self.lines].count(None) != 2:
            raise argument_error("give exactly one of chars, words or lines")
        return self

    @field_validator("chars", "words", "lines", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise argument_error(
                "expected a whole number >= 0 (characters) or {chars|words|lines: n}, "
                f"got {value!r}"
            )
        return value

    def check(self, context: BuildContext) -> LengthCheck:
        unit: Unit = (
            "words" if self.words is not None else "lines" if self.lines is not None else "chars"
        )
        limit = {"chars": self.chars, "words": self.words, "lines": self.lines}[unit]
        return LengthCheck(limit or 0, unit, self.bound)


class MaxLength(_Length):
    """The output is at most this long."""

    kind: ClassVar[str] = "max-length"
    bound: ClassVar[Literal["max", "min"]] = "max"


class MinLength(_Length):
    """The output is at least this long."""

    kind: ClassVar[str] = "min-length"
    bound: ClassVar[Literal["max", "min"]] = "min"
