"""Deterministic checks: equals, contains, regex, JSON, length, and their ``not-`` forms.

Each check reports a ``Finding``: whether its condition holds, with one reason worded
for the plain kind and one for the negated kind, because "output does not contain
"refund"" is a failure for ``contains`` and the explanation of a pass for
``not-contains`` — a negated reason must never read as the opposite of the verdict.

String arguments are templates (see ``templating``), rendered per case.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from promptloop.bounds import TimeLimitExceeded, bounded_schema_validator, regex_search
from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult, EvaluatorFileError, quote
from promptloop.evaluators.specs import DETERMINISTIC_KINDS as DETERMINISTIC_KINDS
from promptloop.evaluators.specs import NEGATION_PREFIX as NEGATION_PREFIX
from promptloop.evaluators.templating import TemplateRenderError, TextTemplate


@dataclass(frozen=True)
class Finding:
    holds: bool
    # Reason shown for the plain kind (``contains``) and for the negated one (``not-contains``).
    reason: str
    negated_reason: str


class Check(Protocol):
    def run(self, output: str, case: Case) -> Finding: ...


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class DeterministicEvaluator:
    """One check, possibly negated; scores 1.0 or 0.0."""

    name: str
    check: Check
    negate: bool = False
    weight: float = 1.0

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        return self.evaluate_sync(output, case)

    def evaluate_sync(self, output: str, case: Case) -> EvalResult:
        try:
            finding = self.check.run(output, case)
        except (TemplateRenderError, TimeLimitExceeded) as exc:
            return EvalResult(
                evaluator=self.name,
                passed=False,
                score=0.0,
                reason=f"{self.name} could not be evaluated: {exc}",
                error=str(exc),
                weight=self.weight,
            )
        passed = finding.holds != self.negate
        return EvalResult(
            evaluator=self.name,
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=finding.negated_reason if self.negate else finding.reason,
            weight=self.weight,
        )


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


# --- regex ----------------------------------------------------------------------------

_FLAG_LETTERS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_FLAG_NAMES = {
    "ignorecase": "i",
    "multiline": "m",
    "dotall": "s",
    "verbose": "x",
}


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
        match = regex_search(regex, output)  # bounded: the output may be hostile
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


# --- is-json / json-schema ------------------------------------------------------------------

_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\r?\n(?P<body>.*?)\r?\n?```\Z", re.DOTALL)


def _parse_json(output: str, allow_fence: bool) -> tuple[Any, str | None]:
    """``(value, None)`` or ``(None, problem)``."""
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced is not None and allow_fence:
        text = fenced.group("body").strip()
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        if fenced is not None and not allow_fence:
            problem += " (the output is wrapped in a ``` code fence; allow_fence: true accepts it)"
        return None, problem


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


@dataclass(frozen=True)
class IsJsonCheck:
    allow_fence: bool = False

    def run(self, output: str, case: Case) -> Finding:
        value, problem = _parse_json(output, self.allow_fence)
        if problem is None:
            kind = _json_kind(value)
            return Finding(
                True,
                f"output is valid JSON ({kind})",
                f"output is valid JSON ({kind}), which it must not be",
            )
        return Finding(
            False,
            f"output is not valid JSON: {problem}; got {quote(output)}",
            f"output is not valid JSON ({problem})",
        )


def _jsonschema() -> Any:
    # Imported by name: jsonschema ships no type stubs, and only this check needs it.
    return importlib.import_module("jsonschema")


@dataclass(frozen=True)
class JsonSchemaCheck:
    schema: Mapping[str, Any]
    validator: Any
    allow_fence: bool = False

    def run(self, output: str, case: Case) -> Finding:
        value, problem = _parse_json(output, self.allow_fence)
        if problem is not None:
            return Finding(
                False,
                f"output is not valid JSON, so it cannot match the schema: {problem}; "
                f"got {quote(output)}",
                f"output is not valid JSON ({problem}), so it does not match the schema",
            )
        errors = list(self.validator.iter_errors(value))
        if not errors:
            return Finding(
                True,
                "output matches the JSON schema",
                "output matches the JSON schema, which it must not",
            )
        best = _jsonschema().exceptions.best_match(errors)
        message = str(best.message)
        if len(message) > 200:
            message = message[:200] + "…"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        detail = f"at {best.json_path}: {message}{more}"
        return Finding(
            False,
            f"output does not match the JSON schema {detail}",
            f"output does not match the JSON schema ({detail})",
        )


# --- max-length / min-length ---------------------------------------------------------------

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


# --- building checks from config arguments ------------------------------------------------


def _mapping(
    args: Any, kind: str, allowed: Sequence[str], required: Sequence[str]
) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise ValueError(f"{kind}: expected a mapping with keys {', '.join(allowed)}")
    unknown = sorted(str(k) for k in args if k not in allowed)
    if unknown:
        raise ValueError(
            f"{kind}: unknown key {', '.join(unknown)}; allowed keys: {', '.join(allowed)}"
        )
    absent = [k for k in required if k not in args]
    if absent:
        raise ValueError(f"{kind}: missing key {', '.join(absent)}")
    return dict(args)


def _text(value: Any, kind: str, what: str) -> TextTemplate:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{kind}: {what} must be a string, got {value!r} (quote it in YAML)")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{kind}: {what} must be a string, got {type(value).__name__}")
    return TextTemplate.compile(value, what=f"{kind}: {what}")


def _flag(value: Any, kind: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{kind}: {key} must be true or false, got {value!r}")
    return value


def _build_equals(args: Any) -> EqualsCheck:
    if isinstance(args, Mapping):
        opts = _mapping(args, "equals", ("value", "case_sensitive", "strip"), ("value",))
        return EqualsCheck(
            _text(opts["value"], "equals", "value"),
            case_sensitive=_flag(opts.get("case_sensitive", True), "equals", "case_sensitive"),
            strip=_flag(opts.get("strip", True), "equals", "strip"),
        )
    return EqualsCheck(_text(args, "equals", "value"))


def _build_contains(args: Any, kind: str) -> ContainsCheck:
    insensitive = kind == "icontains"
    mode: Any = "any"
    raw: Any = args
    if isinstance(args, Mapping):
        allowed = (
            ("values", "value", "mode")
            if insensitive
            else ("values", "value", "mode", "case_sensitive")
        )
        opts = _mapping(args, kind, allowed, ())
        if ("values" in opts) == ("value" in opts):
            raise ValueError(f"{kind}: give exactly one of value (a string) or values (a list)")
        raw = opts["values"] if "values" in opts else opts["value"]
        if "values" in opts and not isinstance(raw, list):
            raise ValueError(f"{kind}: values must be a list of strings")
        mode = opts.get("mode", "any")
        if mode not in ("any", "all"):
            raise ValueError(f"{kind}: mode must be any or all, got {mode!r}")
        if not insensitive:
            insensitive = not _flag(opts.get("case_sensitive", True), kind, "case_sensitive")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueError(f"{kind}: needs at least one string to look for")
    values = tuple(_text(item, kind, "value") for item in items)
    if any(v.is_literal and not v.source for v in values):
        raise ValueError(f"{kind}: an empty string is contained in every output; remove it")
    return ContainsCheck(values, mode=mode, case_sensitive=not insensitive)


def _parse_flags(value: Any) -> str:
    items: list[str]
    if isinstance(value, str):
        items = [value] if value.lower() in _FLAG_NAMES else list(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ValueError(f'regex: flags must be letters like "im" or a list, got {value!r}')
    letters: list[str] = []
    for item in items:
        letter = _FLAG_NAMES.get(item.lower(), item.lower())
        if letter not in _FLAG_LETTERS:
            raise ValueError(
                f"regex: unknown flag {item!r}; use i (ignorecase), m (multiline), "
                "s (dotall) or x (verbose)"
            )
        if letter not in letters:
            letters.append(letter)
    return "".join(sorted(letters))


def _build_regex(args: Any) -> RegexCheck:
    flags = ""
    raw = args
    if isinstance(args, Mapping):
        opts = _mapping(args, "regex", ("pattern", "flags"), ("pattern",))
        raw = opts["pattern"]
        flags = _parse_flags(opts.get("flags", ""))
    pattern = _text(raw, "regex", "pattern")
    compiled = None
    if pattern.is_literal:
        try:
            compiled = re.compile(pattern.source, _flag_bits(flags))
        except re.error as exc:
            raise ValueError(f"regex: invalid pattern {pattern.source!r}: {exc}") from exc
    return RegexCheck(pattern, flags, compiled)


def _build_affix(args: Any, kind: str) -> AffixCheck:
    at: Literal["start", "end"] = "start" if kind == "starts-with" else "end"
    if isinstance(args, Mapping):
        opts = _mapping(args, kind, ("value", "case_sensitive", "strip"), ("value",))
        value = _text(opts["value"], kind, "value")
        check = AffixCheck(
            value,
            at=at,
            case_sensitive=_flag(opts.get("case_sensitive", True), kind, "case_sensitive"),
            strip=_flag(opts.get("strip", True), kind, "strip"),
        )
    else:
        value = _text(args, kind, "value")
        check = AffixCheck(value, at=at)
    if value.is_literal and not value.source:
        raise ValueError(f"{kind}: an empty string matches every output; give some text")
    return check


def _build_is_json(args: Any) -> IsJsonCheck:
    if args is None or args is True:
        return IsJsonCheck()
    if isinstance(args, Mapping):
        opts = _mapping(args, "is-json", ("allow_fence",), ())
        return IsJsonCheck(_flag(opts.get("allow_fence", False), "is-json", "allow_fence"))
    if args is False:
        raise ValueError("is-json: false is not a check; use not-is-json to require non-JSON")
    raise ValueError(f"is-json: takes no value or {{allow_fence: true}}, got {args!r}")


def _load_schema_file(raw: str, base_dir: Path) -> Any:
    path = Path(raw)
    if not path.is_absolute():
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"json-schema: cannot read schema file {raw} ({path}): {exc.strerror or exc}"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvaluatorFileError(
            f"json-schema: schema file {raw} is not valid JSON: {exc.msg} (column {exc.colno})",
            file=raw,
            line=exc.lineno,
        ) from exc


def _build_json_schema(args: Any, base_dir: Path) -> JsonSchemaCheck:
    allow_fence = False
    raw = args
    # ``{schema: ..., allow_fence: ...}`` is our options form; "schema" is no JSON Schema keyword.
    if isinstance(args, Mapping) and "schema" in args and set(args) <= {"schema", "allow_fence"}:
        raw = args["schema"]
        allow_fence = _flag(args.get("allow_fence", False), "json-schema", "allow_fence")
    if isinstance(raw, str):
        raw = _load_schema_file(raw, base_dir)
    if not isinstance(raw, Mapping):
        raise ValueError(
            "json-schema: expected a JSON Schema mapping or the path of a .json schema file"
        )
    schema = dict(raw)
    jsonschema = _jsonschema()
    cls = bounded_schema_validator(jsonschema.validators.validator_for(schema))
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else "the top level"
        raise ValueError(f"json-schema: invalid schema at {where}: {exc.message}") from exc
    return JsonSchemaCheck(schema, cls(schema, format_checker=cls.FORMAT_CHECKER), allow_fence)


def _build_length(args: Any, kind: str) -> LengthCheck:
    bound: Literal["max", "min"] = "max" if kind == "max-length" else "min"
    unit: Unit = "chars"
    raw = args
    if isinstance(args, Mapping):
        opts = _mapping(args, kind, ("chars", "words", "lines"), ())
        if len(opts) != 1:
            raise ValueError(f"{kind}: give exactly one of chars, words or lines")
        ((key, raw),) = opts.items()
        unit = "chars" if key == "chars" else "words" if key == "words" else "lines"
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError(
            f"{kind}: expected a whole number >= 0 (characters) or {{chars|words|lines: n}}, "
            f"got {raw!r}"
        )
    return LengthCheck(raw, unit, bound)


def build_check(kind: str, args: Any, *, base_dir: Path) -> Check:
    """The check for a plain (non-negated) deterministic kind; ``ValueError`` on bad args."""
    if kind == "equals":
        return _build_equals(args)
    if kind in ("contains", "icontains"):
        return _build_contains(args, kind)
    if kind == "regex":
        return _build_regex(args)
    if kind in ("starts-with", "ends-with"):
        return _build_affix(args, kind)
    if kind == "is-json":
        return _build_is_json(args)
    if kind == "json-schema":
        return _build_json_schema(args, base_dir)
    if kind in ("max-length", "min-length"):
        return _build_length(args, kind)
    raise ValueError(f"unknown deterministic evaluator {kind!r}")


def build_deterministic(
    kind: str, args: Any, *, base_dir: Path, name: str | None = None, weight: float = 1.0
) -> DeterministicEvaluator:
    """``kind`` may carry the ``not-`` prefix; the default name is the kind as written."""
    negate = kind.startswith(NEGATION_PREFIX)
    plain = kind[len(NEGATION_PREFIX) :] if negate else kind
    try:
        check = build_check(plain, args, base_dir=base_dir)
    except ValueError as exc:
        message = str(exc)
        # Name the kind as the user wrote it (not-contains), not the plain one.
        if negate and message.startswith(f"{plain}:"):
            message = kind + message[len(plain) :]
        if isinstance(exc, EvaluatorFileError):
            raise EvaluatorFileError(message, file=exc.file, line=exc.line) from exc
        raise ValueError(message) from exc
    return DeterministicEvaluator(name or kind, check, negate=negate, weight=weight)
