"""Where each tool's description is written in a prompt file, and rewriting just that text.

Tools live in YAML: a Markdown prompt's front matter, or a chat prompt (``.yaml``/``.yml``,
and ``.json``, which is read as YAML for its positions). A description's lines let review
comments and suggestions land on it; replacing a description touches only the characters of
its scalar, so every other byte of the file stays as the author wrote it.

A JSON chat prompt that YAML cannot compose (tabs) has no description lines, and its
descriptions cannot be rewritten; it still loads and runs.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from promptloop.errors import UserError
from promptloop.yamlpos import construct, node_at, yaml_node

CHAT_SUFFIXES = (".yaml", ".yml", ".json")
# A folded description is re-wrapped to the width the author used, and never narrower.
_MIN_WRAP = 60


@dataclass(frozen=True)
class ToolLines:
    """1-based, inclusive lines of one tool's description text (None: it has none)."""

    name: str
    description: tuple[int, int] | None


@dataclass(frozen=True)
class _Region:
    """The YAML holding the tools: its text, where it starts in the file, and its node."""

    text: str
    char_offset: int
    line_offset: int
    root: yaml.Node | None


def front_matter_end(lines: list[str]) -> int | None:
    """Index of the ``---`` line closing a leading front matter block, or None."""
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return None
    return next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)


def is_chat_path(path: str) -> bool:
    return PurePath(path).suffix.lower() in CHAT_SUFFIXES


def _region(source: str, path: str) -> _Region | None:
    if is_chat_path(path):
        try:
            return _Region(source, 0, 0, yaml_node(source, path))
        except UserError:
            return None
    lines = source.splitlines(keepends=True)
    end = front_matter_end(lines)
    if end is None:
        return None
    text = "".join(lines[1:end])
    return _Region(text, len(lines[0]), 1, yaml_node(text, path, line_offset=1))


def _tool_nodes(root: yaml.Node | None) -> list[tuple[str, yaml.Node | None]]:
    tools = node_at(root, ("tools",))
    if not isinstance(tools, yaml.SequenceNode):
        return []
    out = []
    for index in range(len(tools.value)):
        name = node_at(tools, (index, "function", "name"))
        if isinstance(name, yaml.ScalarNode):
            out.append((name.value, node_at(tools, (index, "function", "description"))))
    return out


def _block_lines(node: yaml.ScalarNode, text_lines: list[str]) -> tuple[int, int]:
    """0-based first and last content lines of a block scalar (``|``/``>``), trailing blank
    lines left out: they separate the next key, they are not the description."""
    first = node.start_mark.line + 1
    last = node.end_mark.line - 1 if node.end_mark.column == 0 else node.end_mark.line
    last = min(last, len(text_lines) - 1)
    while last > first and not text_lines[last].strip():
        last -= 1
    return first, max(first, last)


def _span(node: yaml.Node | None, text_lines: list[str]) -> tuple[int, int] | None:
    """0-based lines of a scalar's text within its YAML."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.style in ("|", ">"):
        return _block_lines(node, text_lines)
    return node.start_mark.line, node.end_mark.line


def tool_lines(root: yaml.Node | None, text: str, line_offset: int) -> tuple[ToolLines, ...]:
    """Each tool's description lines, in file lines, from the composed YAML holding them."""
    text_lines = text.splitlines()
    out = []
    for name, node in _tool_nodes(root):
        span = _span(node, text_lines)
        lines = None if span is None else (span[0] + 1 + line_offset, span[1] + 1 + line_offset)
        out.append(ToolLines(name, lines))
    return tuple(out)


def _renderings(node: yaml.ScalarNode, text: str, new: str) -> list[tuple[int, int, str]]:
    """Ways to write ``new`` in place of ``node`` (start, end, replacement in ``text``), the
    closest to the author's style first; a double-quoted string (valid YAML and JSON) last."""
    text_lines = text.splitlines(keepends=True)
    quoted = json.dumps(new, ensure_ascii=False)
    if node.style in ("|", ">"):
        first, last = _block_lines(node, [line.rstrip("\r\n") for line in text_lines])
        line_start = sum(len(line) for line in text_lines[:first])
        content_end = sum(len(line) for line in text_lines[: last + 1])
        ending = text_lines[last][len(text_lines[last].rstrip("\r\n")) :]
        body = text_lines[first].rstrip("\r\n")
        indent = body[: len(body) - len(body.lstrip(" "))]
        width = max(_MIN_WRAP, *(len(line.rstrip("\r\n")) for line in text_lines[first : last + 1]))
        wrapped = (
            textwrap.wrap(
                new,
                width=width - len(indent),
                break_long_words=False,
                break_on_hyphens=False,
            )
            if node.style == ">"
            else [new]
        )
        block = (ending or "\n").join(indent + line for line in wrapped) + ending
        # The fallback keeps the key's line and drops the block: ``description: "..."``.
        last_text_end = content_end - len(ending)
        return [
            (line_start, content_end, block),
            (node.start_mark.index, last_text_end, quoted),
        ]
    ways = [(node.start_mark.index, node.end_mark.index, quoted)]
    if node.style is None:
        ways.insert(0, (node.start_mark.index, node.end_mark.index, new))
    return ways


def _descriptions(data: object) -> dict[str, str | None]:
    tools = data.get("tools") if isinstance(data, Mapping) else None
    out: dict[str, str | None] = {}
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            description = function.get("description")
            out[function["name"]] = description if isinstance(description, str) else None
    return out


def _without_descriptions(data: object) -> object:
    """The data with every tool description blanked, to compare everything else."""
    if not isinstance(data, Mapping):
        return data
    tools = data.get("tools")
    if not isinstance(tools, list):
        return data
    blanked = []
    for tool in tools:
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
            function = {k: v for k, v in tool["function"].items() if k != "description"}
            tool = {**tool, "function": function}
        blanked.append(tool)
    return {**data, "tools": blanked}


def _replace_one(text: str, path: str, line_offset: int, name: str, new: str) -> str:
    root = yaml_node(text, path, line_offset)
    before = construct(root, path, line_offset)
    nodes = dict(_tool_nodes(root))
    if name not in nodes:
        known = ", ".join(f"`{n}`" for n in nodes)
        raise UserError(f"no tool is named `{name}` (the tools are {known})", path=path)
    node = nodes[name]
    if not isinstance(node, yaml.ScalarNode):
        raise UserError(f"tool `{name}` has no description to replace", path=path)
    for start, end, replacement in _renderings(node, text, new):
        candidate = text[:start] + replacement + text[end:]
        try:
            after = construct(yaml_node(candidate, path, line_offset), path, line_offset)
        except UserError:
            continue
        written = _descriptions(after).get(name)
        if (
            written is not None
            and written.strip() == new.strip()
            and _without_descriptions(after) == _without_descriptions(before)
        ):
            return candidate
    raise UserError(f"cannot write the new description of tool `{name}` back", path=path)


def replace_descriptions(source: str, path: str, new: Mapping[str, str]) -> str:
    """``source`` with each named tool's description replaced by ``new[name]`` (one line;
    whitespace is collapsed) and every other character untouched.

    Raises ``UserError`` when the file holds no such tool, or it has no description to
    replace (adding one would mean inventing where the key goes)."""
    region = _region(source, path)
    if region is None:
        raise UserError("the prompt file declares no tools", path=path)
    text = region.text
    for name, description in new.items():
        text = _replace_one(text, path, region.line_offset, name, " ".join(description.split()))
    start = region.char_offset
    return source[:start] + text + source[start + len(region.text) :]
