"""Where a promptfoo prompt is written, so it can be critiqued and revised in place: a YAML
scalar in the config (an inline prompt) or a section of a text file split by ``---`` lines.
Both are ``project.hosted.PromptHost``s."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

from promptloop.errors import UserError
from promptloop.yamlpos import PathKey, node_at, yaml_node

_SEPARATOR = "---"


@dataclass(frozen=True)
class Section:
    text: str
    start_line: int
    end_line: int


def split_sections(text: str) -> list[Section]:
    """promptfoo's reading of a prompt text file: a line ``---`` ends a prompt, each prompt
    is trimmed, empty ones are dropped."""
    sections: list[Section] = []
    buffer: list[tuple[int, str]] = []

    def flush() -> None:
        filled = [(n, line) for n, line in buffer if line.strip()]
        if filled:
            body = "\n".join(line for _, line in buffer).strip()
            sections.append(Section(body, filled[0][0], filled[-1][0]))
        buffer.clear()

    for number, line in enumerate(re.split(r"\r?\n", text), start=1):
        if line.strip() == _SEPARATOR:
            flush()
        else:
            buffer.append((number, line))
    flush()
    return sections


@dataclass(frozen=True)
class SectionHost:
    """The ``index``-th prompt of a text file split by ``---`` lines."""

    file_text: str
    index: int
    start_line: int
    end_line: int

    def embed(self, text: str) -> str:
        lines = self.file_text.splitlines(keepends=True)
        newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        new = [line + newline for line in text.strip("\n").split("\n")]
        return "".join([*lines[: self.start_line - 1], *new, *lines[self.end_line :]])

    def find_in(self, file_text: str) -> str | None:
        sections = split_sections(file_text)
        return sections[self.index].text if self.index < len(sections) else None


def section_hosts(file_text: str) -> list[tuple[str, SectionHost]]:
    """Each prompt of a text file with its host."""
    return [
        (s.text, SectionHost(file_text, i, s.start_line, s.end_line))
        for i, s in enumerate(split_sections(file_text))
    ]


@dataclass(frozen=True)
class YamlScalarHost:
    """A string written in the YAML config at ``loc`` (``prompts[0]``, ``prompts[1].raw``)."""

    file_text: str
    path: str
    loc: PathKey
    start_line: int
    end_line: int

    def _node(self, text: str) -> yaml.ScalarNode | None:
        node = node_at(yaml_node(text, self.path), self.loc)
        return node if isinstance(node, yaml.ScalarNode) else None

    def find_in(self, file_text: str) -> str | None:
        try:
            node = self._node(file_text)
        except UserError:  # a version that does not parse holds no prompt to compare
            return None
        return None if node is None else str(node.value)

    def embed(self, text: str) -> str:
        node = self._node(self.file_text)
        if node is None:  # pragma: no cover - the host was built from this very node
            raise ValueError(f"no string at {self.loc} in {self.path}")
        before = self.file_text[: node.start_mark.index]
        after = self.file_text[node.end_mark.index :]
        if node.style in ("|", ">"):
            indent = _block_indent(self.file_text, node)
            block = _block(text, indent)
            if block is not None:
                # Blank lines that ended the old block stay, so nothing else moves.
                segment = self.file_text[node.start_mark.index : node.end_mark.index]
                blank = max(segment[len(segment.rstrip()) :].count("\n") - 1, 0)
                return before + block + "\n" * blank + after
            return before + json.dumps(text, ensure_ascii=False) + "\n" + after
        if "\n" not in text.rstrip("\n"):
            one_line = text.rstrip("\n")
            if node.style == '"':
                return before + json.dumps(one_line, ensure_ascii=False) + after
            return before + "'" + one_line.replace("'", "''") + "'" + after
        # A one-line string that became several lines turns into a block scalar; a
        # comment after it moves onto the indicator line.
        rest, _, tail = after.partition("\n")
        block = _block(text, node.start_mark.column)
        if block is None or (rest.strip() and not rest.strip().startswith("#")):
            return before + json.dumps(text, ensure_ascii=False) + after
        head, _, body = block.partition("\n")
        comment = f" {rest.strip()}" if rest.strip() else ""
        return before + head + comment + "\n" + body + tail


def _block_indent(text: str, node: yaml.ScalarNode) -> int:
    lines = text[node.start_mark.index : node.end_mark.index].split("\n")[1:]
    for line in lines:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return node.start_mark.column + 2


def _block(text: str, indent: int) -> str | None:
    """``text`` as a literal block scalar indented by ``indent``, ending with a newline;
    None when a literal block cannot hold it as it is (leading spaces, a tab, a BOM)."""
    body = text.rstrip("\n")
    if not body or body[0] in " \t\ufeff" or "\t" in body:
        return None
    chomp = "" if text.endswith("\n") else "-"
    pad = " " * max(indent, 1)
    lines = [pad + line if line.strip() else "" for line in body.split("\n")]
    return f"|{chomp}\n" + "\n".join(lines) + "\n"


def yaml_host(file_text: str, path: str, root: yaml.Node | None, loc: PathKey) -> YamlScalarHost:
    """The host of the string at ``loc`` in the config: its text's own lines."""
    node = node_at(root, loc)
    if not isinstance(node, yaml.ScalarNode):  # pragma: no cover - the caller read a string there
        raise ValueError(f"no string at {loc}")
    start = node.start_mark.line + 1
    if node.style in ("|", ">"):
        # The text begins on the line after the indicator; blank lines after it are not it.
        start += 1
        segment = file_text[node.start_mark.index : node.end_mark.index].rstrip()
        end = node.start_mark.line + 1 + segment.count("\n")
    else:
        end = node.end_mark.line + 1
    return YamlScalarHost(file_text, path, loc, start, max(start, end))
