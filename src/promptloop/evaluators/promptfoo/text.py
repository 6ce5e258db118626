"""promptfoo's text assertions: equals, the contains family, starts-with, regex,
levenshtein and word-count, with promptfoo's rules (case folding by ``toLowerCase``, no
trimming, comma-separated lists, levenshtein's threshold of 5, word-count's min/max).

Each ``build_*`` takes the parsed item and returns the grader; arguments that cannot work
raise ``UnsupportedAssertion`` when the config is loaded, as promptfoo's invariants would
fail every case.
"""

from __future__ import annotations

import csv
import json
import math
import re
from typing import Any

from rapidfuzz.distance import Levenshtein

from promptloop.bounds import regex_search
from promptloop.evaluators.base import EvalContext
from promptloop.evaluators.promptfoo.core import Grade, Grader, Seen
from promptloop.evaluators.promptfoo.spec import Spec
from promptloop.watchdog import TimeLimitExceeded


def js_string(value: Any) -> str:
    """``String(value)`` as JavaScript writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    if value is None:
        return "null"
    return str(value)


def comma_list(text: str) -> list[str]:
    """promptfoo's ``parseCommaSeparatedValues``: CSV fields, trimmed, quotes honoured."""
    rows = list(csv.reader([text], skipinitialspace=True))
    return [field.strip() for field in (rows[0] if rows else [])]


def _needles(spec: Spec, seen: Seen) -> list[str]:
    value = spec.value.render(seen.case)
    if isinstance(value, str):
        value = comma_list(value)
    if not isinstance(value, list) or not value:
        raise spec.problem("needs a list of strings (or one comma-separated string) as value")
    return [js_string(v) for v in value]


def build_contains(spec: Spec) -> Grader:
    fold = spec.base.startswith("i")
    family = spec.base.removeprefix("i")
    if family == "contains" and (
        spec.value.raw in (None, "") or isinstance(spec.value.raw, dict | list | bool)
    ):
        raise spec.problem("needs a string or number value")

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        text = seen.text.lower() if fold else seen.text

        def has(needle: str) -> bool:
            return (needle.lower() if fold else needle) in text

        not_ = "not " if spec.inverse else ""
        if family == "contains":
            needle = js_string(spec.value.render(seen.case))
            return Grade.of(
                has(needle) != spec.inverse, f'Expected output to {not_}contain "{needle}"'
            )
        needles = _needles(spec, seen)
        if family == "contains-any":
            return Grade.of(
                any(has(n) for n in needles) != spec.inverse,
                f'Expected output to {not_}contain one of "{", ".join(needles)}"',
            )
        missing = [n for n in needles if not has(n)]
        return Grade.of(
            (not missing) != spec.inverse,
            f"Expected output to {not_}contain all of [{', '.join(needles)}]. "
            f"Missing: [{', '.join(missing)}]",
        )

    return grade


def build_equals(spec: Spec) -> Grader:
    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        value = spec.value.render(seen.case)
        not_ = "not " if spec.inverse else ""
        if isinstance(value, dict | list):
            try:
                equal = _strict_json(seen.text) == value
            except ValueError:
                equal = False
            shown = json.dumps(value, separators=(",", ":"))
        else:
            shown = js_string(value)
            equal = seen.text == shown
        return Grade.of(
            equal != spec.inverse, f'Expected output "{seen.text}" to {not_}equal "{shown}"'
        )

    return grade


def build_starts_with(spec: Spec) -> Grader:
    if not isinstance(spec.value.raw, str) or not spec.value.raw:
        raise spec.problem("needs a string value")

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        prefix = str(spec.value.render(seen.case))
        not_ = "not " if spec.inverse else ""
        return Grade.of(
            seen.text.startswith(prefix) != spec.inverse,
            f'Expected output to {not_}start with "{prefix}"',
        )

    return grade


def python_pattern(source: str) -> str:
    """A JavaScript ``RegExp`` source (no flags) as the Python pattern that matches the same:
    ``\\w``, ``\\d`` and ``\\b`` are ASCII-only (``(?a)``), ``$`` is the very end of the
    text (Python's also matches before a final newline), ``(?<name>`` names a group."""
    out, i, in_class = ["(?a)"], 0, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            out.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"(?!.|\n)"
        elif source.startswith("(?<", i) and source[i + 3 : i + 4] not in ("=", "!"):
            char, i = "(?P<", i + 2
        out.append(char)
        i += 1
    return "".join(out)


def build_regex(spec: Spec) -> Grader:
    if not isinstance(spec.value.raw, str) or not spec.value.raw:
        raise spec.problem("needs a string value (the pattern)")

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        source = str(spec.value.render(seen.case))
        try:
            pattern = re.compile(python_pattern(source))
        except re.error as exc:
            return Grade(False, 0.0, f"Invalid regex pattern: {exc}")
        try:
            found = regex_search(pattern, seen.text) is not None
        except TimeLimitExceeded as exc:
            return Grade.failed(f"regex could not be evaluated: {exc}")
        not_ = "not " if spec.inverse else ""
        return Grade.of(found != spec.inverse, f'Expected output to {not_}match regex "{source}"')

    return grade


def build_levenshtein(spec: Spec) -> Grader:
    if not isinstance(spec.value.raw, str):
        raise spec.problem("needs a string value")
    limit = 5 if spec.threshold is None else spec.threshold

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        distance = Levenshtein.distance(seen.text, str(spec.value.render(seen.case)))
        within = distance <= limit
        return Grade.of(
            within != spec.inverse,
            f"Levenshtein distance {distance} is "
            f"{'at most' if spec.inverse else 'greater than'} threshold {js_string(limit)}",
        )

    return grade


def build_word_count(spec: Spec) -> Grader:
    raw = spec.value.raw
    low: float | None = None
    high: float | None = None
    exact: float | None = None
    if isinstance(raw, dict):
        low, high = raw.get("min"), raw.get("max")
        if low is None and high is None:
            raise spec.problem('needs "min" and/or "max" in its value')
        if low is not None and high is not None and low > high:
            raise spec.problem(f"min ({low}) must be less than or equal to max ({high})")
    else:
        try:
            exact = float(raw) if not isinstance(raw, bool) and raw is not None else None
        except (TypeError, ValueError):
            exact = None
        if exact is None:
            raise spec.problem("value must be a number or an object with min/max")

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        count = len(seen.text.split())
        if exact is not None:
            holds = count == exact
            wanted = f"equal {js_string(exact)}"
        else:
            holds = (low is None or count >= low) and (high is None or count <= high)
            wanted = (
                f"be between {low} and {high}"
                if low is not None and high is not None
                else (f"be at most {high}" if low is None else f"be at least {low}")
            )
        not_ = "not " if spec.inverse else ""
        return Grade.of(
            holds != spec.inverse, f"Expected word count to {not_}{wanted}, but got {count}"
        )

    return grade


def _strict_json(text: str) -> Any:
    """``JSON.parse``: no NaN or Infinity, which Python's parser would accept."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)
