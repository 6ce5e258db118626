"""Eval cases: reading a dataset (JSONL, CSV, YAML, JSON or inline) into cases with stable ids."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from promptloop.bounds import MAX_DATASET_BYTES, check_file_size
from promptloop.dataset.conversation import Conversation, HistoryMessage
from promptloop.dataset.jsonl import json_lines
from promptloop.errors import UserError
from promptloop.yamlpos import Located, PathKey, load_data_file, suggest, validation_error


@dataclass(frozen=True)
class Case:
    id: str
    vars: Mapping[str, Any]
    expected: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # "evals/triage.jsonl:12": where the case was written, relative to the config; the
    # name a case without an id is shown and found by.
    source: str | None = None
    # The conversation so far (``messages:``), which the prompt continues; see
    # dataset.conversation and project.rendering.RenderedPrompt.conversation.
    messages: tuple[HistoryMessage, ...] = ()


# --- loading ---------------------------------------------------------------------------

# Keys of a case row that are not template variables.
RESERVED_KEYS = ("id", "expected", "metadata", "tags", "messages")
DATASET_SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml", ".json")


def case_id_for(
    vars: Mapping[str, Any], expected: Any, messages: Sequence[Mapping[str, Any]] = ()
) -> str:
    """Content hash used when a case has no explicit id: the first 12 hex chars of the
    SHA-256 of ``json.dumps([vars, expected])`` with sorted keys and compact separators
    (``[vars, expected, messages]`` for a case with earlier turns, so cases without them
    keep their ids). Editing a case's vars, expected or turns therefore makes it a new case."""
    content: list[Any] = [dict(vars), expected]
    if messages:
        content.append([dict(m) for m in messages])
    blob = json.dumps(
        content,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def _where(
    source_name: str, index: int, lines: Sequence[int | None] | None
) -> tuple[str, int | None]:
    line = lines[index] if lines is not None and index < len(lines) else None
    return (f"{source_name}:{line}" if line is not None else f"{source_name}[{index}]"), line


def _named(source: str, source_name: str, named_as: str | None) -> str:
    """``evals/x.jsonl:12`` from ``my-project/evals/x.jsonl:12``: the place relative to the
    config, the same wherever promptloop was started from."""
    return named_as + source[len(source_name) :] if named_as is not None else source


def value_paths(value: Any, prefix: PathKey = ()) -> Iterator[PathKey]:
    """The path of every key and item inside ``value`` (to look their lines up)."""
    children: Iterable[tuple[str | int, Any]] = ()
    if isinstance(value, Mapping):
        children = ((k, v) for k, v in value.items() if isinstance(k, str))
    elif isinstance(value, list):
        children = enumerate(value)
    for key, child in children:
        yield (*prefix, key)
        yield from value_paths(child, (*prefix, key))


def history_dicts(turns: Sequence[HistoryMessage]) -> list[dict[str, Any]]:
    """The turns in OpenAI's shape, as results.json records them."""
    shaped = [turn.model_dump(mode="json", exclude_none=True) for turn in turns]
    for turn in shaped:
        if not turn["tool_calls"]:
            del turn["tool_calls"]
    return shaped


def _parse_history(
    raw: Any, line: int | None, source_name: str, source: str, lines: Mapping[PathKey, int]
) -> tuple[HistoryMessage, ...]:
    if not isinstance(raw, list) or not raw:
        what = "is empty" if isinstance(raw, list) else f"is a {type(raw).__name__}"
        raise UserError(
            f"`messages` {what}: it holds the conversation's earlier turns, a list of "
            "{role, content} (a variable named messages goes inside `vars:`)",
            path=source_name if line is not None else source,
            line=lines.get(("messages",), line),
            key="messages",
        )
    located = Located(raw, {(): line, **lines} if line is not None else dict(lines))
    try:
        return Conversation.model_validate({"messages": raw}).messages
    except ValidationError as exc:
        error = validation_error(exc, located, source_name, Conversation)
        if error.line is None:
            # No line known (an inline list): the case's own place names it.
            error = UserError(error.message, path=source, key=error.key)
        raise error from None


def _parse_row(
    row: Any, source: str, line: int | None, source_name: str, key_lines: Mapping[PathKey, int]
) -> Case:
    def fail(message: str, key: str | None = None) -> UserError:
        at = key_lines.get((key,), line) if key is not None else line
        return (
            UserError(message, path=source_name, line=at, key=key)
            if at is not None
            else UserError(message, path=source, key=key)
        )

    if not isinstance(row, Mapping):
        raise fail(f"a case must be a mapping of variables, got {type(row).__name__}")
    bad = [k for k in row if not isinstance(k, str)]
    if bad:
        raise fail(f"case keys must be strings, got {bad[0]!r}")
    if "vars" in row:
        vars_ = row["vars"]
        if not isinstance(vars_, Mapping):
            raise fail(f"`vars` must be a mapping, got {type(vars_).__name__}", "vars")
        allowed = ("vars", *RESERVED_KEYS)
        for key in row:
            if key not in allowed:
                raise fail(
                    f"unknown key '{key}' in a case that has `vars`{suggest(key, allowed)} "
                    "(put variables inside `vars`)",
                    key,
                )
        variables = {str(k): v for k, v in vars_.items()}
    else:
        variables = {k: v for k, v in row.items() if k not in RESERVED_KEYS}
    expected = row.get("expected")
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise fail(f"`metadata` must be a mapping, got {type(metadata).__name__}", "metadata")
    tags_raw = row.get("tags") or ()
    if isinstance(tags_raw, str):
        tags_raw = [t.strip() for t in tags_raw.split(",") if t.strip()]
    if not isinstance(tags_raw, list | tuple) or not all(isinstance(t, str) for t in tags_raw):
        raise fail("`tags` must be a list of strings", "tags")
    history: tuple[HistoryMessage, ...] = ()
    if row.get("messages") is not None:
        history = _parse_history(row["messages"], line, source_name, source, key_lines)
    raw_id = row.get("id")
    if raw_id is None:
        case_id = case_id_for(variables, expected, history_dicts(history))
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id).strip():
        case_id = str(raw_id).strip()
    else:
        raise fail(f"`id` must be a non-empty string, got {raw_id!r}", "id")
    return Case(
        id=case_id,
        vars=variables,
        expected=expected,
        metadata=dict(metadata),
        tags=tuple(tags_raw),
        source=source,
        messages=history,
    )


def parse_cases(
    rows: Sequence[Any],
    source_name: str,
    *,
    lines: Sequence[int | None] | None = None,
    key_lines: Mapping[tuple[str | int, ...], int] | None = None,
    named_as: str | None = None,
) -> list[Case]:
    """Validate rows (one mapping per case) into cases. ``lines[i]`` is the line row ``i``
    was written on; ``Case.source`` becomes ``source_name:line``. ``key_lines[(i, key,
    ...)]``, when known (YAML), lets an error about a key (or a value inside it, such as
    one turn of ``messages``) point at its own line. ``named_as``, the file as the config
    writes it, is what ``Case.source`` names instead of ``source_name`` (which errors keep,
    so they stay clickable from where promptloop was started)."""
    if not rows:
        raise UserError("dataset has no cases", path=source_name)
    cases: list[Case] = []
    first_seen: dict[str, str] = {}
    # Grouped once by row: filtering all key lines per row made big datasets quadratic.
    lines_by_row: dict[int, dict[PathKey, int]] = {}
    for (row_index, *path), key_line in (key_lines or {}).items():
        if isinstance(row_index, int) and path:
            lines_by_row.setdefault(row_index, {})[tuple(path)] = key_line
    for index, row in enumerate(rows):
        source, line = _where(source_name, index, lines)
        own = lines_by_row.get(index, {})
        case = _parse_row(row, source, line, source_name, own)
        case = replace(case, source=_named(source, source_name, named_as))
        if case.id in first_seen:
            explicit = isinstance(row, Mapping) and row.get("id") is not None
            if explicit:
                message = f"duplicate case id '{case.id}' (first at {first_seen[case.id]})"
            else:
                message = (
                    f"duplicate case: same vars and expected as {first_seen[case.id]}; "
                    "give one an `id` or remove it"
                )
            raise UserError(message, path=source)
        first_seen[case.id] = source
        cases.append(case)
    return cases


_Rows = tuple[list[Any], list[int | None], dict[tuple[str | int, ...], int]]


def _read_jsonl(text: str, display: str) -> _Rows:
    rows: list[Any] = []
    lines: list[int | None] = []
    for number, row in json_lines(text, display):
        rows.append(row)
        lines.append(number)
    return rows, lines, {}


def _read_csv(text: str, display: str) -> _Rows:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[Any] = []
    lines: list[int | None] = []
    header = reader.fieldnames
    if header is None:
        return rows, lines, {}
    blank = [i for i, name in enumerate(header) if not name.strip()]
    if blank:
        raise UserError(f"column {blank[0] + 1} has no name in the header", path=display, line=1)
    start = reader.line_num + 1
    for record in reader:
        if None in record:
            raise UserError(
                f"row has more cells than the header's {len(header)} columns",
                path=display,
                line=start,
            )
        short = [name for name, value in record.items() if value is None]
        if short:
            cells = len(header) - len(short)
            raise UserError(
                f"row has {cells} cells but the header has {len(header)} columns "
                f"(no value for '{short[0]}')",
                path=display,
                line=start,
            )
        row: dict[str, Any] = dict(record)
        for key, what in (("metadata", "a JSON object"), ("messages", "a JSON list of turns")):
            if row.get(key):
                try:
                    row[key] = json.loads(row[key])
                except json.JSONDecodeError:
                    raise UserError(
                        f"`{key}` must be {what}", path=display, line=start, key=key
                    ) from None
        for key in RESERVED_KEYS:
            if row.get(key) == "":
                # An empty reserved cell means "not given", not the empty string.
                del row[key]
        rows.append(row)
        lines.append(start)
        start = reader.line_num + 1
    return rows, lines, {}


def _read_structured(text: str, display: str, suffix: str) -> _Rows:
    _, located = load_data_file(text, display, is_json=suffix == ".json")
    data = located.data
    if data is None:
        return [], [], {}
    if not isinstance(data, list):
        raise UserError(
            f"a {suffix} dataset must be a list of cases, got {type(data).__name__}",
            path=display,
            line=located.line_for(()),
        )
    key_lines = {
        loc: line
        for loc, line in located.lines.items()
        if len(loc) >= 2 and isinstance(loc[0], int) and isinstance(loc[1], str)
    }
    return data, [located.lines.get((i,)) for i in range(len(data))], key_lines


def load_dataset(path: Path, display_path: str, named_as: str | None = None) -> list[Case]:
    """Cases from a .jsonl, .csv, .yaml/.yml or .json file."""
    suffix = path.suffix.lower()
    if suffix not in DATASET_SUFFIXES:
        raise UserError(
            f"unsupported dataset format '{suffix or path.name}' "
            f"(use {', '.join(DATASET_SUFFIXES)})",
            path=display_path,
        )
    check_file_size(path, MAX_DATASET_BYTES, "dataset file", display_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("dataset file not found", path=display_path) from None
    except OSError as error:
        raise UserError(f"cannot read dataset: {error.strerror}", path=display_path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(
            f"dataset is not UTF-8 text (byte {error.start})", path=display_path
        ) from None
    if suffix == ".jsonl":
        rows, lines, key_lines = _read_jsonl(text, display_path)
    elif suffix == ".csv":
        rows, lines, key_lines = _read_csv(text, display_path)
    else:
        rows, lines, key_lines = _read_structured(text, display_path, suffix)
    return parse_cases(rows, display_path, lines=lines, key_lines=key_lines, named_as=named_as)
