"""Prompt files -> message templates that remember their source lines.

Two shapes:

* Text/Markdown (any extension but .yaml/.yml/.json): the body is one message, ``user``
  unless YAML front matter between ``---`` lines sets ``role: system``. Front matter may
  also set ``model``, ``temperature``, ``max_tokens``, ``description`` and the prompt's
  tools (``project.prompt_tools``).
* Chat (.yaml/.yml/.json): a list of ``{role, content}`` messages, or a mapping with a
  ``messages`` list plus the same settings (except ``role``).

Each message records the 1-based source lines of its content, and each tool the lines of
its description (``project.tool_source``), so review comments and optimizer suggestions
can target the exact lines of the file in a pull request. Each message's template is
syntax-checked as it is read (``project.prompt_syntax``); ``project.rendering`` renders
it for a case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.bounds import MAX_PROMPT_BYTES, check_file_size
from promptloop.errors import UserError
from promptloop.models.base import Role
from promptloop.project.hosted import PromptHost
from promptloop.project.prompt_syntax import check_syntax
from promptloop.project.prompt_tools import ToolSettings
from promptloop.project.tool_source import (
    ToolLines,
    front_matter_end,
    is_chat_path,
    tool_lines,
)
from promptloop.yamlpos import Located, load_data_file, load_with_node, node_at, validation_error


class PromptSettings(ToolSettings):
    """Front matter of a text prompt (also the settings of a chat prompt)."""

    model: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    role: Literal["system", "user"] = "user"
    description: str | None = None


class _ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str


class _ChatFile(ToolSettings):
    messages: list[_ChatMessage] = Field(min_length=1)
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    description: str | None = None


@dataclass(frozen=True)
class MessageTemplate:
    role: Role
    template: str
    # 1-based, inclusive: where this message's content sits in the prompt file.
    start_line: int
    end_line: int


@dataclass(frozen=True)
class PromptTemplate:
    path: str
    source: str
    settings: PromptSettings
    messages: tuple[MessageTemplate, ...]
    variables: frozenset[str]
    # Where each tool's description is written, in the order of ``settings.tools``.
    tool_lines: tuple[ToolLines, ...] = ()
    # Set when the prompt is written inside a larger file (``path``): ``source`` is then the
    # prompt's own text, and the host places it in the file.
    host: PromptHost | None = None

    def with_source(self, source: str) -> PromptTemplate:
        """The same prompt with new text (an optimizer candidate, the base's version),
        parsed the same way."""
        if self.host is not None:
            return parse_hosted(source, self.path, self.host, self.settings)
        return parse_prompt(source, self.path)

    def affixed(self, prefix: str, suffix: str) -> PromptTemplate:
        """The prompt with ``prefix`` before its first message and ``suffix`` after its
        last, as templates (they may use the case's variables); lines unchanged."""
        messages = list(self.messages)
        first, last = messages[0], messages[-1]
        messages[0] = dataclasses.replace(first, template=prefix + first.template)
        last = messages[-1]
        messages[-1] = dataclasses.replace(last, template=last.template + suffix)
        built = _build(self.path, self.source, self.settings, messages, self.tool_lines)
        return dataclasses.replace(built, host=self.host)

    @property
    def text_path(self) -> str:
        """A name that parses ``source`` alone as this prompt's shape: a prompt written
        inside a YAML file is text, whatever its file's suffix says."""
        return self.path if self.host is None else f"{self.path}.txt"

    def version_in(self, file_text: str) -> str | None:
        """This prompt's text in another version of its file (None: not there)."""
        return file_text if self.host is None else self.host.find_in(file_text)


def _build(
    path: str,
    source: str,
    settings: PromptSettings,
    messages: Sequence[MessageTemplate],
    tools: tuple[ToolLines, ...] = (),
) -> PromptTemplate:
    variables: frozenset[str] = frozenset()
    for message in messages:
        variables |= check_syntax(message.template, path, (message.start_line, message.end_line))
    return PromptTemplate(path, source, settings, tuple(messages), variables, tools)


def _split_front_matter(
    lines: list[str], path: str
) -> tuple[dict[str, Any], int, tuple[ToolLines, ...]]:
    """Front matter settings, the index of the first body line and the tools' lines."""
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return {}, 0, ()
    index = front_matter_end(lines)
    if index is None:
        raise UserError(
            "front matter opened with '---' is never closed by a '---' line", path=path, line=1
        )
    text = "".join(lines[1:index])
    root, located = load_with_node(text, path, line_offset=1)
    data = located.data
    if data is None:
        return {}, index + 1, ()
    if not isinstance(data, Mapping):
        raise UserError(
            "front matter must be a mapping such as `temperature: 0.2`",
            path=path,
            line=2,
        )
    try:
        PromptSettings.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, located, path, PromptSettings) from None
    return dict(data), index + 1, tool_lines(root, text, 1)


def _parse_text(source: str, path: str) -> PromptTemplate:
    lines = source.splitlines(keepends=True)
    settings_data, body_start, tools = _split_front_matter(lines, path)
    settings = PromptSettings.model_validate(settings_data)
    first, last = body_start, len(lines) - 1
    while first <= last and not lines[first].strip():
        first += 1
    while last >= first and not lines[last].strip():
        last -= 1
    if first > last:
        raise UserError("prompt is empty", path=path, line=body_start + 1 if body_start else None)
    body = "".join(lines[first : last + 1])
    body = body[:-2] if body.endswith("\r\n") else body.removesuffix("\n")
    message = MessageTemplate(settings.role, body, first + 1, last + 1)
    return _build(path, source, settings, [message], tools)


def _content_span(node: yaml.Node | None, fallback: int) -> tuple[int, int]:
    if not isinstance(node, yaml.ScalarNode):
        return fallback, fallback
    start = node.start_mark.line + 1
    if node.style in ("|", ">"):
        # A block scalar's text begins on the line after its ``|`` indicator, and its
        # end mark sits at column 0 of the line after the text.
        start += 1
    end = node.end_mark.line if node.end_mark.column == 0 else node.end_mark.line + 1
    return start, max(start, end)


def _parse_chat(source: str, path: str) -> PromptTemplate:
    root, located = load_data_file(source, path, is_json=PurePath(path).suffix.lower() == ".json")
    data = located.data
    prefix: tuple[str, ...] = ()
    if isinstance(data, list):
        # Validate a bare list as ``{messages: [...]}`` and shift its line map to match.
        prefix = ("messages",)
        data = {"messages": data}
        located = Located(data, {(*prefix, *k): v for k, v in located.lines.items()})
    elif not isinstance(data, Mapping):
        raise UserError(
            "a chat prompt must be a list of {role, content} messages or a mapping with "
            "`messages:`",
            path=path,
            line=located.line_for(()),
        )
    try:
        chat = _ChatFile.model_validate(data)
    except ValidationError as exc:
        error = validation_error(exc, located, path, _ChatFile)
        if prefix and error.key and error.key.startswith("messages"):
            # The user wrote a bare list: name items ``[0].role``, not ``messages[0].role``.
            error = UserError(
                error.message,
                path=path,
                line=error.line,
                key=error.key.removeprefix("messages") or None,
            )
        raise error from None
    messages = []
    for index, message in enumerate(chat.messages):
        doc_loc = (*(() if prefix else ("messages",)), index, "content")
        fallback = located.line_for(("messages", index)) or 1
        start, end = _content_span(node_at(root, doc_loc), fallback)
        messages.append(MessageTemplate(message.role, message.content, start, end))
    settings = PromptSettings(
        model=chat.model,
        temperature=chat.temperature,
        max_tokens=chat.max_tokens,
        description=chat.description,
        tools=chat.tools,
        tool_choice=chat.tool_choice,
    )
    return _build(path, source, settings, messages, tool_lines(root, source, 0))


def parse_hosted(
    text: str, path: str, host: PromptHost, settings: PromptSettings | None = None
) -> PromptTemplate:
    """A prompt written inside ``path`` (see ``project.hosted``): its text is one user
    message, taken as it is (no front matter), on the host's lines."""
    if not text.strip():
        raise UserError("prompt is empty", path=path, line=host.start_line)
    last = min(host.start_line + len(text.splitlines()) - 1, host.end_line)
    message = MessageTemplate("user", text, host.start_line, max(host.start_line, last))
    built = _build(path, text, settings or PromptSettings(), [message])
    return dataclasses.replace(built, host=host)


def parse_prompt(text: str, path: str) -> PromptTemplate:
    """Parse prompt text; ``path`` picks the shape (by suffix) and appears in errors."""
    if is_chat_path(path):
        return _parse_chat(text, path)
    return _parse_text(text, path)


def load_prompt(path: Path, display_path: str | None = None) -> PromptTemplate:
    shown = display_path or str(path)
    check_file_size(path, MAX_PROMPT_BYTES, "prompt file", shown)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("prompt file not found", path=shown) from None
    except IsADirectoryError:
        raise UserError("prompt file is a directory, not a file", path=shown) from None
    except OSError as error:
        raise UserError(f"cannot read prompt file: {error.strerror}", path=shown) from None
    if b"\x00" in raw:
        raise UserError("prompt file is not a text file", path=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("prompt file is not a text file (not valid UTF-8)", path=shown) from None
    return parse_prompt(text, shown)


def template_variables(text: str, path: str = "prompt.md") -> frozenset[str]:
    """Variables a prompt's source uses, parsed exactly as ``parse_prompt`` would."""
    return parse_prompt(text, path).variables
