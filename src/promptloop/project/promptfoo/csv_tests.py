"""promptfoo's CSV test rows: the ``__expected`` mini-language and the other ``__`` columns.

A row becomes a raw test (``vars``, ``assert``, ``options``, ...) exactly as promptfoo's
``testCaseFromCsvRow`` builds it, so the assertions go on to the same evaluators as ones
written in YAML. A cell promptfoo would refuse is one ``file:line`` error naming the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from promptloop.errors import UserError

# promptfoo's assertion types (its BaseAssertionTypesSchema, 0.123): a cell names one of
# these, with an optional ``not-``, ``(threshold)`` and ``:value``.
_TYPE_NAMES = (
    "agent-rubric answer-relevance bleu classifier contains contains-all contains-any "
    "contains-html contains-json contains-sql contains-xml context-faithfulness "
    "context-recall context-relevance conversation-relevance cost equals factuality "
    "finish-reason g-eval gleu guardrails icontains icontains-all icontains-any is-html "
    "is-json is-refusal is-sql is-valid-function-call is-valid-openai-function-call "
    "is-valid-openai-tools-call is-xml javascript latency levenshtein llm-rubric pi meteor "
    "model-graded-closedqa model-graded-factuality moderation perplexity perplexity-score "
    "python regex rouge-n ruby similar similar:cosine similar:dot similar:euclidean "
    "starts-with tool-call-f1 skill-used trajectory:goal-success trajectory:tool-args-match "
    "trajectory:step-count trajectory:tool-sequence trajectory:tool-used trace-error-spans "
    "trace-span-count trace-span-duration search-rubric webhook word-count"
)
ASSERTION_TYPES = tuple(_TYPE_NAMES.split())

_CELL = re.compile(
    r"^(not-)?("
    + "|".join(re.escape(t) for t in ASSERTION_TYPES)
    + r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}
_THRESHOLD_TYPES = {
    "answer-relevance",
    "classifier",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "cost",
    "latency",
    "levenshtein",
    "perplexity-score",
    "perplexity",
    "rouge-n",
    "similar",
    "starts-with",
}
_JS_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts")


def finite_number(cell: str | None) -> float | None:
    """A cell holding a complete number, else None (a blank cell leaves a threshold unset)."""
    text = (cell or "").strip()
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def _list_items(value: str) -> list[str]:
    """``a, "b, c", d`` -> ``["a", "b, c", "d"]``: commas split, double quotes protect."""
    items: list[str] = []
    at = 0
    while at < len(value):
        while at < len(value) and (value[at].isspace() or value[at] == ","):
            at += 1
        if at >= len(value):
            break
        if value[at] == '"':
            at += 1
            item = ""
            closed = False
            while at < len(value):
                char = value[at]
                if char == "\\" and at + 1 < len(value) and value[at + 1] in '"\\':
                    item += value[at + 1]
                    at += 2
                elif char == '"' and at + 1 < len(value) and value[at + 1] == '"':
                    item += '"'
                    at += 2
                elif char == '"':
                    at += 1
                    closed = True
                    break
                else:
                    item += char
                    at += 1
            if not closed:
                raise ValueError("a quoted item is not closed")
            while at < len(value) and value[at].isspace():
                at += 1
            if at < len(value) and value[at] != ",":
                raise ValueError("a quoted item must be followed by a comma")
            items.append(item)
        else:
            end = value.find(",", at)
            end = len(value) if end < 0 else end
            items.append(value[at:end].strip())
            at = end
    return items


def assertion_from_cell(expected: str) -> dict[str, Any]:
    """One ``__expected`` cell as the raw assertion promptfoo makes of it."""
    if expected.startswith(("javascript:", "fn:", "eval:")) or (
        expected.startswith("file://") and expected[7:].endswith(_JS_SUFFIXES)
    ):
        cut = next((len(p) for p in ("javascript:", "fn:", "eval:") if expected.startswith(p)), 0)
        return {"type": "javascript", "value": expected[cut:].strip()}
    if expected.startswith(("grade:", "llm-rubric:")):
        cut = 6 if expected.startswith("grade:") else 11
        return {"type": "llm-rubric", "value": expected[cut:]}
    if expected.startswith("python:") or (
        expected.startswith("file://") and (expected.endswith(".py") or ".py:" in expected)
    ):
        # promptfoo cuts seven characters from both forms, so a file:// cell names the file
        # without its scheme (and promptfoo then reads that name as inline code).
        return {"type": "python", "value": expected[7:].strip()}
    found = _CELL.match(expected)
    if found is None:
        return {"type": "equals", "value": expected}
    negated, kind, threshold_text, value = found.groups()
    full = f"not-{kind}" if negated else kind
    if kind in _LIST_TYPES:
        return {"type": full, "value": _list_items(value) if value else value}
    if kind in ("contains-json", "is-json"):
        return _without_none({"type": full, "value": value})
    stripped = value.strip() if value is not None else None
    if kind in _THRESHOLD_TYPES:
        threshold = finite_number(threshold_text)
        default = 0.8 if kind == "similar" else 0.75
        return _without_none(
            {
                "type": full,
                "value": stripped,
                "threshold": default if threshold is None else threshold,
            }
        )
    return _without_none({"type": full, "value": stripped})


def _without_none(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if v is not None}


def csv_tests(text: str, shown: str) -> list[tuple[dict[str, Any], str]]:
    """A tests CSV's rows as raw tests (unnamed ones "Row #N"), each with its ``file:line``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    tests: list[tuple[dict[str, Any], str]] = []
    try:
        header = next(reader, None)
        if header is None:
            return []
        columns = [c.strip() for c in header]
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(columns):
                raise UserError(
                    f"this row has {len(row)} cells; the header has {len(columns)} columns",
                    path=shown,
                    line=line,
                )
            at = f"{shown}:{line}"
            test = test_from_row(dict(zip(columns, row, strict=True)), at)
            test.setdefault("description", f"Row #{len(tests) + 1}")
            tests.append((test, at))
    except csv.Error as error:
        raise UserError(f"invalid CSV: {error}", path=shown, line=reader.line_num) from None
    return tests


def test_from_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A CSV row (column -> cell) as the raw test promptfoo builds from it.

    ``where`` is the row's ``file:line`` for the errors.
    """
    vars: dict[str, Any] = {}
    asserts: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    configs: dict[int, dict[str, float]] = {}
    test: dict[str, Any] = {}
    metric: str | None = None
    for raw_key, cell in row.items():
        key = raw_key.strip()
        value = "" if cell is None else str(cell)
        if key.startswith("__expected"):
            if value.strip():
                try:
                    asserts.append(assertion_from_cell(value.strip()))
                except ValueError as error:
                    raise UserError(f"{error} in {value.strip()!r}", path=where, key=key) from None
        elif key in ("__prefix", "__suffix"):
            # promptfoo reads an empty cell as no prefix (``prefix || defaultTest's``)
            if value:
                options[key[2:]] = value
        elif key == "__description":
            if value:
                test["description"] = value
        elif key == "__providerOutput":
            raise UserError(
                "promptloop calls the model for every test; a fixed __providerOutput is not "
                "supported: remove the column",
                path=where,
                key=key,
            )
        elif key == "__metric":
            metric = value
        elif key == "__threshold":
            threshold = finite_number(value)
            if threshold is not None:
                test["threshold"] = threshold
        elif key.startswith("__metadata:"):
            name = key[len("__metadata:") :]
            if name.endswith("[]") and value.strip():
                parts = re.split(r"(?<!\\),", value)
                metadata[name[:-2]] = [p.strip().replace("\\,", ",") for p in parts]
            elif not name.endswith("[]") and value.strip():
                metadata[name] = value
        elif key == "__metadata":
            continue  # promptfoo ignores it too: the column needs a key, "__metadata:topic"
        elif key.startswith("__config:"):
            index, setting, number = _config_cell(key, value, where)
            configs.setdefault(index, {})[setting] = number
        else:
            vars[key] = value
    for index, assertion in enumerate(asserts):
        if metric is not None:
            assertion["metric"] = metric
        for setting, number in configs.get(index, {}).items():
            assertion[setting] = number
            metadata[setting] = number
    test.update({"vars": vars, "assert": asserts, "options": options})
    if metadata:
        test["metadata"] = metadata
    return test


def _config_cell(key: str, value: str, where: str) -> tuple[int, str, float]:
    parts = key[len("__config:") :].split(":")
    if len(parts) != 2:
        raise UserError(
            "a __config column is written __config:__expected:threshold or "
            "__config:__expected<N>:threshold",
            path=where,
            key=key,
        )
    expected, setting = parts
    index: int | None = 0 if expected == "__expected" else None
    numbered = re.fullmatch(r"__expected(\d+)", expected)
    if numbered and int(numbered.group(1)) >= 1:
        index = int(numbered.group(1)) - 1
    if index is None:
        raise UserError(
            f"{expected!r} is not __expected or __expected<N> (N from 1)", path=where, key=key
        )
    if setting != "threshold":
        raise UserError(
            f"{setting!r} cannot be set from a __config column; threshold can",
            path=where,
            key=key,
        )
    number = finite_number(value)
    if number is None:
        raise UserError(f"{value!r} is not a number", path=where, key=key)
    return index, setting, number
