"""The ``regex`` check (and ``not-regex``): the output matches a regular expression."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr, field_validator, model_validator

from promptloop.bounds import regex_search
from promptloop.dataset.cases import Case
from promptloop.evaluators.base import TemplateRenderError, is_template, quote
from promptloop.evaluators.deterministic import CheckKind, Finding, Text
from promptloop.evaluators.kind import BuildContext, argument_error, as_mapping, text_template

if TYPE_CHECKING:
    from promptloop.evaluators.templating import TextTemplate

_FLAG_LETTERS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_FLAG_NAMES = {"ignorecase": "i", "multiline": "m", "dotall": "s", "verbose": "x"}


@dataclass(frozen=True)
class RegexCheck:
    pattern: TextTemplate
    flags: str = ""
    compiled: re.Pattern[str] | None = None

    def _regex(self, case: Case) -> re.Pattern[str]:
        if self.compiled is not None:
            return self.compiled
        source = self.pattern.render(case)
        try:
            return re.compile(source, _flag_bits(self.flags))
        except re.error as exc:
            raise TemplateRenderError(
                f"pattern rendered for case {case.id} is not a valid regex: {source!r}: {exc}"
            ) from exc

    def run(self, output: str, case: Case) -> Finding:
        regex = self._regex(case)
        shown = f"/{regex.pattern}/{self.flags}"
        match = regex_search(regex, output)
        if match is None:
            return Finding(
                False,
                f"output does not match {shown}; got {quote(output)}",
                f"output does not match {shown}",
            )
        where = (
            f"at {quote(match.group(0), 60)}"
            if match.group(0)
            else f"(empty match at char {match.start()})"
        )
        return Finding(
            True,
            f"output matches {shown} {where}",
            f"output matches {shown} {where}, which it must not",
        )


def _flag_bits(flags: str) -> int:
    bits = 0
    for letter in flags:
        bits |= _FLAG_LETTERS[letter]
    return bits


class Regex(CheckKind):
    """The output matches a regular expression (Python syntax, searched anywhere)."""

    kind: ClassVar[str] = "regex"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = ({"type": ["string", "number"]},)

    pattern: Text
    flags: str | list[str] = Field(
        default="", description='Letters like "im", or names: ignorecase, multiline, ...'
    )
    _compiled: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return as_mapping(data, "pattern")

    @field_validator("flags", mode="before")
    @classmethod
    def _letters(cls, value: Any) -> str:
        items: list[str]
        if isinstance(value, str):
            items = [value] if value.lower() in _FLAG_NAMES else list(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            raise argument_error(f'flags must be letters like "im" or a list, got {value!r}')
        letters: list[str] = []
        for item in items:
            letter = _FLAG_NAMES.get(item.lower(), item.lower())
            if letter not in _FLAG_LETTERS:
                raise argument_error(
                    f"unknown flag {item!r}; use i (ignorecase), m (multiline), "
                    "s (dotall) or x (verbose)"
                )
            if letter not in letters:
                letters.append(letter)
        return "".join(sorted(letters))

    @model_validator(mode="after")
    def _compiles(self) -> Regex:
        # A literal pattern is checked now; a template only once rendered for a case.
        if not is_template(self.pattern):
            try:
                self._compiled = re.compile(self.pattern, _flag_bits(str(self.flags)))
            except re.error as exc:
                raise argument_error(f"invalid pattern {self.pattern!r}: {exc}") from None
        return self

    def check(self, context: BuildContext) -> RegexCheck:
        pattern = text_template(self.pattern, what="pattern")
        return RegexCheck(pattern, str(self.flags), self._compiled)
