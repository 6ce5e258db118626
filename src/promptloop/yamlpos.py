"""YAML loading that remembers where every value was written.

Validation errors are only useful when they point at a line, so we compose the
document to nodes (which carry start marks), record ``path -> line`` for every
node, and then construct plain Python data from the same nodes.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from promptloop.bounds import MAX_ALIAS_EXPANSION
from promptloop.errors import UserError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """Plain data plus the 1-based line of every mapping key and list item."""

    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_for(self, loc: PathKey) -> int | None:
        """Line of ``loc``, or of its nearest written ancestor (a missing key's parent)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


def format_loc(loc: PathKey) -> str:
    """``("suites", 0, "evaluators", 1)`` -> ``suites[0].evaluators[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _AliasBomb(yaml.YAMLError):
    """Aliases that would expand the document past ``MAX_ALIAS_EXPANSION`` values, or an
    alias inside the value it names (a document that never ends)."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects repeated mapping keys instead of keeping the last one, and
    counts what aliases expand to while composing, before anything is expanded: a few
    hundred bytes of nested aliases (a "billion laughs") would otherwise take gigabytes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._open: set[str] = set()
        self._expanded = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _AliasBomb(
                    f"the alias *{event.anchor} is inside the value it names", event.start_mark
                )
            target = self.anchors.get(event.anchor)
            if target is not None:
                self._expanded += _expanded_size(target, self._sizes)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise _AliasBomb(
                        f"YAML aliases expand this document past {MAX_ALIAS_EXPANSION:,} "
                        "values; write the repeated values out, or repeat less",
                        event.start_mark,
                    )
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.discard(anchor)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias in it is written out."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    return size


def _check_duplicate_keys(node: yaml.MappingNode, path: str, line_offset: int) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        key = key_node.value
        line = key_node.start_mark.line + 1 + line_offset
        if key in seen:
            raise UserError(
                f"duplicate key '{key}' (first written at line {seen[key]})",
                path=path,
                line=line,
            )
        seen[key] = line


def _record(
    node: yaml.Node, loc: PathKey, lines: dict[PathKey, int], path: str, offset: int
) -> None:
    if isinstance(node, yaml.MappingNode):
        _check_duplicate_keys(node, path, offset)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1 + offset
            _record(value_node, child, lines, path, offset)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item.start_mark.line + 1 + offset
            _record(item, child, lines, path, offset)


def _quote_opened_before(text: str, error: yaml.YAMLError) -> int | None:
    """The 0-based line where a quoted value opened, when it ran on over several lines and
    closed on the line the error is on: the quote left open earlier is the likely mistake
    (its "closing" quote belongs to a later value)."""
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return None
    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            if isinstance(token, yaml.ScalarToken):
                last = token
    except yaml.YAMLError:
        pass
    if last is None or last.style not in ('"', "'"):
        return None
    spans_lines = last.end_mark.line > last.start_mark.line
    return last.start_mark.line if spans_lines and last.end_mark.line == mark.line else None


def _plain_hint(problem: str) -> str | None:
    """What PyYAML's words for the commonest slips mean, for someone who has not read its
    grammar: a tab, a line indented out of step, a colon inside an unquoted value."""
    if "'\\t'" in problem:
        return "indent with spaces: YAML does not allow a tab here"
    if problem.startswith("expected <block end>"):
        return "this line is not indented in step with the lines above it"
    if problem == "mapping values are not allowed here":
        return "this line is indented too far, or a value holding ': ' needs quotes"
    return None


def yaml_error(
    error: yaml.YAMLError, path: str, line_offset: int = 0, source: str | None = None
) -> UserError:
    """Turn a PyYAML error into one line pointing at the offending mark."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    # An unclosed quote or bracket is noticed where the scanner gives up (often the end of
    # the file); the culprit is where it opened.
    opened = getattr(error, "context_mark", None)
    if opened is not None and str(context).startswith(("while scanning", "while parsing a flow")):
        mark = opened
    said = f"{problem} ({context})" if context else str(problem)
    hint = _plain_hint(str(problem))
    message = f"invalid YAML: {hint}; the parser says: {said}" if hint else f"invalid YAML: {said}"
    line = mark.line + 1 + line_offset if mark is not None else None
    opened = _quote_opened_before(source, error) if source is not None else None
    if opened is not None and line is not None:
        message += f"; the quote opened here runs on to line {line}"
        line = opened + 1 + line_offset
    return UserError(message, path=path, line=line)


def yaml_node(text: str, path: str, line_offset: int = 0) -> yaml.Node | None:
    """Compose one YAML document to nodes; malformed YAML becomes a ``UserError``."""
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_node()
    except _AliasBomb as error:
        raise UserError(error.message, path=path, line=error.mark.line + 1 + line_offset) from None
    except yaml.YAMLError as error:
        raise yaml_error(error, path, line_offset, source=text) from None
    except RecursionError:
        raise UserError("YAML nested too deeply to read", path=path) from None
    finally:
        loader.dispose()


def construct(node: yaml.Node | None, path: str, line_offset: int = 0) -> Any:
    if node is None:
        return None
    loader = _UniqueKeyLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise yaml_error(error, path, line_offset) from None
    finally:
        loader.dispose()


def load_plain(text: str, path: str) -> Any:
    """YAML (or JSON) text to plain data, without line numbers, under the same alias bound
    as every other YAML promptloop reads; malformed YAML or an alias bomb is a ``UserError``."""
    return construct(yaml_node(text, path), path)


def load_located(text: str, path: str, line_offset: int = 0) -> Located:
    """Parse YAML (or JSON) text into data plus a ``path -> line`` map.

    ``line_offset`` shifts every line, for YAML embedded after other lines (front matter).
    """
    return _load_node_and_lines(text, path, line_offset)[1]


def load_with_node(text: str, path: str, line_offset: int = 0) -> tuple[yaml.Node | None, Located]:
    """``load_located`` that also returns the composed node (whose marks are relative to
    ``text``, unshifted by ``line_offset``)."""
    return _load_node_and_lines(text, path, line_offset)


def _load_node_and_lines(
    text: str, path: str, line_offset: int = 0
) -> tuple[yaml.Node | None, Located]:
    node = yaml_node(text, path, line_offset)
    lines: dict[PathKey, int] = {}
    try:
        if node is not None:
            lines[()] = node.start_mark.line + 1 + line_offset
            _record(node, (), lines, path, line_offset)
        return node, Located(construct(node, path, line_offset), lines)
    except RecursionError:
        raise UserError("YAML nested too deeply to read", path=path) from None


def load_data_file(text: str, path: str, *, is_json: bool) -> tuple[yaml.Node | None, Located]:
    """A data file's composed node and its data with line numbers, parsed once.

    JSON is read by ``json`` (its errors name JSON's line and column); its line numbers come
    from reading it as YAML too, which it nearly always is. When it is not (tabs), the data
    still loads, without line numbers or a node.
    """
    if not is_json:
        return _load_node_and_lines(text, path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise UserError("JSON nested too deeply to read", path=path) from None
    except json.JSONDecodeError as error:
        raise UserError(
            f"invalid JSON: {error.msg} (column {error.colno})", path=path, line=error.lineno
        ) from None
    try:
        node, located = _load_node_and_lines(text, path)
    except UserError:
        return None, Located(data, {})
    return node, Located(data, located.lines)


def node_at(node: yaml.Node | None, loc: PathKey) -> yaml.Node | None:
    """The node at ``loc`` in a composed document, or None."""
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            current = next(
                (v for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                None,
            )
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            current = current.value[part] if 0 <= part < len(current.value) else None
        else:
            return None
    return current


# --- pydantic errors -> one line -----------------------------------------------------


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside ``X | None`` / ``list[X]`` annotations, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, Sequence):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (list indexes skipped)."""
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap_model(info.annotation)
    return current


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_loc(loc: Sequence[str | int]) -> PathKey:
    # Pydantic inserts union-branch names such as ``str`` or ``list[dict[str,any]]``.
    return tuple(
        part
        for part in loc
        if not (isinstance(part, str) and (part in ("str", "list", "dict") or "[" in part))
    )


_SHOW_INPUT = (
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "literal_error",
    "string_too_short",
    "too_short",
)


def _describe(error: Mapping[str, Any], root: type[BaseModel]) -> tuple[PathKey, str]:
    loc = _clean_loc(error["loc"])
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        model = model_at(root, parent)
        allowed = list(model.model_fields) if model is not None else []
        return loc, f"unknown key '{key}'{suggest(key, allowed)}"
    if kind == "missing":
        return loc, "required key is missing"
    message = str(error["msg"])
    if "at" in ctx:
        # Our own errors may point below the field that raised them.
        return (*loc, *ctx["at"]), message
    if kind == "value_error":
        message = str(ctx.get("error", message))
    if kind.endswith("_type") or kind.endswith("_parsing") or kind in _SHOW_INPUT:
        message = f"{message}, got {_short(error.get('input'))}"
    return loc, message


def validation_error(
    exc: ValidationError, located: Located, path: str, root: type[BaseModel]
) -> UserError:
    """The first pydantic error as one ``file:line: key: message`` line."""
    # A misspelt key also makes its correct spelling "missing"; the typo is the real cause.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc, message = _describe(errors[0], root)
    if errors[0]["type"] == "string_pattern_mismatch" and loc[-1:] == ("name",):
        message = "a name may only use letters, digits, '_', '.' and '-'"
    others = len({_clean_loc(e["loc"]) for e in errors} - {_clean_loc(errors[0]["loc"])})
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return UserError(message, path=path, line=located.line_for(loc), key=format_loc(loc) or None)
