"""Checks on the output's text: ``equals``, ``contains``, ``icontains``, ``starts-with``
and ``ends-with`` (each with its ``not-`` form); ``regex`` has a module of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, StrictBool, field_validator, model_validator

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import quote
from promptloop.evaluators.deterministic import CheckKind, Finding, Text
from promptloop.evaluators.kind import BuildContext, argument_error, as_mapping, text_template

if TYPE_CHECKING:
    from promptloop.evaluators.templating import TextTemplate

_STRING = {"type": ["string", "number"]}

# --- equals ---------------------------------------------------------------------------

_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'`*_()[]"


def _difference_hints(expected: str, got: str, case_sensitive: bool) -> list[str]:
    """Short words on *how* two texts differ, so the optimizer knows what to fix."""
    if not got.strip():
        return ["output is empty"]
    if case_sensitive and got.casefold() == expected.casefold():
        return ["differs only in letter case"]
    if " ".join(got.split()) == " ".join(expected.split()):
        return ["differs only in whitespace"]
    fold = (lambda s: s) if case_sensitive else str.casefold
    if fold(got.strip(_EDGE_PUNCTUATION)) == fold(expected.strip(_EDGE_PUNCTUATION)):
        return ["differs only in surrounding punctuation or quotes"]
    hints: list[str] = []
    got_words, expected_words = len(got.split()), len(expected.split())
    if got_words > expected_words:
        hints.append("extra words")
    elif got_words < expected_words:
        hints.append("missing words")
    if expected.casefold() in got.casefold():
        hints.append("contains the expected text")
    elif got.casefold() in expected.casefold():
        hints.append("is only part of the expected text")
    else:
        hints.append("wrong label" if expected_words <= 3 else "different text")
    return hints


@dataclass(frozen=True)
class EqualsCheck:
    value: TextTemplate
    case_sensitive: bool = True
    strip: bool = True

    def run(self, output: str, case: Case) -> Finding:
        expected = self.value.render(case)
        got = output.strip() if self.strip else output
        want = expected.strip() if self.strip else expected
        holds = got == want if self.case_sensitive else got.casefold() == want.casefold()
        shown = quote(want)
        nocase = " (ignoring case)" if not self.case_sensitive else ""
        if holds:
            return Finding(
                True,
                f"output equals {shown}{nocase}",
                f"output equals {shown}{nocase}, which it must not",
            )
        hints = ", ".join(_difference_hints(want, got, self.case_sensitive))
        return Finding(
            False,
            f"expected {shown}, got {quote(got)} ({hints})",
            f"output differs from {shown}{nocase}",
        )


class Equals(CheckKind):
    """The output equals a text (a template such as "{{ expected }}" serves a dataset)."""

    kind: ClassVar[str] = "equals"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (_STRING,)

    value: Text = Field(description="The text the output must equal.")
    case_sensitive: StrictBool = True
    strip: StrictBool = Field(default=True, description="Ignore surrounding whitespace.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return as_mapping(data, "value")

    def check(self, context: BuildContext) -> EqualsCheck:
        value = text_template(self.value, what="value")
        return EqualsCheck(value, case_sensitive=self.case_sensitive, strip=self.strip)


# --- contains / icontains ---------------------------------------------------------------


def _times(n: int) -> str:
    return "1 time" if n == 1 else f"{n} times"


def _list(quoted: Sequence[str], conj: str) -> str:
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {conj} " + quoted[-1]


@dataclass(frozen=True)
class ContainsCheck:
    values: tuple[TextTemplate, ...]
    mode: Literal["any", "all"] = "any"
    case_sensitive: bool = True

    def run(self, output: str, case: Case) -> Finding:
        needles = [v.render(case) for v in self.values]
        haystack = output if self.case_sensitive else output.casefold()
        counts = [
            haystack.count(n if self.case_sensitive else n.casefold()) if n else 0 for n in needles
        ]
        found = [f"{quote(n, 60)} ({_times(c)})" for n, c in zip(needles, counts, strict=True) if c]
        missing = [quote(n, 60) for n, c in zip(needles, counts, strict=True) if not c]
        nocase = " (ignoring case)" if not self.case_sensitive else ""
        got = quote(output)
        if self.mode == "any" or len(needles) == 1:
            if found:
                return Finding(
                    True,
                    f"output contains {_list(found, 'and')}{nocase}",
                    f"output contains {_list(found, 'and')}{nocase}, which it must not",
                )
            what = (
                f"does not contain {missing[0]}"
                if len(missing) == 1
                else f"contains none of {_list(missing, 'or')}"
            )
            return Finding(False, f"output {what}{nocase}; got {got}", f"output {what}{nocase}")
        if not missing:
            everything = _list([quote(n, 60) for n in needles], "and")
            return Finding(
                True,
                f"output contains all of {everything}{nocase}",
                f"output contains all of {everything}{nocase}, which it must not "
                "(at least one must be absent)",
            )
        has = f" (has {_list(found, 'and')})" if found else ""
        return Finding(
            False,
            f"output is missing {_list(missing, 'and')}{nocase}{has}; got {got}",
            f"output lacks {_list(missing, 'and')}{nocase}",
        )


class _Contains(CheckKind):
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (
        _STRING,
        {"type": "array", "items": _STRING, "minItems": 1},
    )
    value: Text | None = Field(default=None, description="One text to look for.")
    values: list[Text] | None = Field(default=None, description="Texts to look for.")
    mode: Literal["any", "all"] = Field(default="any", description="Any of values, or all.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return data
        return {"values": data if isinstance(data, list) else [data]}

    @field_validator("values", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise argument_error("values must be a list of strings")
        if not value:
            raise argument_error("needs at least one string to look for")
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _any_or_all(cls, value: Any) -> Any:
        if value not in ("any", "all"):
            raise argument_error(f"mode must be any or all, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_form_and_no_empty_text(self) -> _Contains:
        if (self.values is None) == (self.value is None):
            raise argument_error("give exactly one of value (a string) or values (a list)")
        if "" in self.needles:
            raise argument_error("an empty string is contained in every output; remove it")
        return self

    @property
    def needles(self) -> list[str]:
        return self.values if self.values is not None else [self.value or ""]

    def check(self, context: BuildContext) -> ContainsCheck:
        values = tuple(text_template(n, what="value") for n in self.needles)
        return ContainsCheck(values, mode=self.mode, case_sensitive=self.minds_case())

    def minds_case(self) -> bool:
        return True


class Contains(_Contains):
    """The output contains a text, any of several (mode: any) or all of them."""

    kind: ClassVar[str] = "contains"

    case_sensitive: StrictBool = True

    def minds_case(self) -> bool:
        return self.case_sensitive


class IContains(_Contains):
    """Like contains, ignoring letter case."""

    kind: ClassVar[str] = "icontains"

    def minds_case(self) -> bool:
        return False


# --- starts-with / ends-with --------------------------------------------------------------


@dataclass(frozen=True)
class AffixCheck:
    value: TextTemplate
    at: Literal["start", "end"] = "start"
    case_sensitive: bool = True
    strip: bool = True

    def run(self, output: str, case: Case) -> Finding:
        affix = self.value.render(case)
        if self.at == "start":
            text = output.lstrip() if self.strip else output
        else:
            text = output.rstrip() if self.strip else output
        a, t = (affix, text) if self.case_sensitive else (affix.casefold(), text.casefold())
        holds = t.startswith(a) if self.at == "start" else t.endswith(a)
        verb = "starts" if self.at == "start" else "ends"
        nocase = " (ignoring case)" if not self.case_sensitive else ""
        shown = quote(affix, 60)
        if holds:
            return Finding(
                True,
                f"output {verb} with {shown}{nocase}",
                f"output {verb} with {shown}{nocase}, which it must not",
            )
        width = max(len(affix) + 20, 40)
        edge = text[:width] if self.at == "start" else text[-width:]
        edge_shown = quote(edge, width) if len(text) <= width else _cut_quote(edge, self.at)
        return Finding(
            False,
            f"output should {verb[:-1]} with {shown}{nocase} but {verb} with {edge_shown}",
            f"output does not {verb[:-1]} with {shown}{nocase}",
        )


def _cut_quote(edge: str, at: str) -> str:
    body = quote(edge, 10**9)[1:-1]
    return f'"{body}…"' if at == "start" else f'"…{body}"'


class _Affix(CheckKind):
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (_STRING,)
    at: ClassVar[Literal["start", "end"]] = "start"

    value: Text
    case_sensitive: StrictBool = True
    strip: StrictBool = Field(default=True, description="Ignore surrounding whitespace.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return as_mapping(data, "value")

    @field_validator("value")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise argument_error("an empty string matches every output; give some text")
        return value

    def check(self, context: BuildContext) -> AffixCheck:
        value = text_template(self.value, what="value")
        return AffixCheck(value, self.at, case_sensitive=self.case_sensitive, strip=self.strip)


class StartsWith(_Affix):
    """The output starts with a text."""

    kind: ClassVar[str] = "starts-with"
    at: ClassVar[Literal["start", "end"]] = "start"


class EndsWith(_Affix):
    """The output ends with a text."""

    kind: ClassVar[str] = "ends-with"
    at: ClassVar[Literal["start", "end"]] = "end"
