"""Prompt files -> message templates that remember their source lines.

Two shapes:

* Text/Markdown (any extension but .yaml/.yml/.json): the body is one message, ``user``
  unless YAML front matter between ``---`` lines sets ``role: system``. Front matter may
  also set ``model``, ``temperature``, ``max_tokens`` and ``description``.
* Chat (.yaml/.yml/.json): a list of ``{role, content}`` messages, or a mapping with a
  ``messages`` list plus the same settings (except ``role``).

Each message records the 1-based source lines of its content, and each tool the lines of
its description (``project.tool_source``), so review comments and optimizer suggestions
can target the exact lines of the file in a pull request.
Templates render in a Jinja2 sandbox (prompt files arrive in pull requests) with
``StrictUndefined`` so a missing variable is an error, never an empty string.

Variables: a variable the template uses but a case lacks is an error naming the case.
A variable every case has but no template uses is only reported by ``check_variables``
as a warning: datasets legitimately carry fields used elsewhere (by evaluators such as
``equals: "{{ label }}"``), which the runner passes as ``also_used``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import re
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import TemplateError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from promptloop.bounds import MAX_PROMPT_BYTES, check_file_size
from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.evaluators.templating import BoundedSandbox, render_bounded
from promptloop.models.base import Message, Role
from promptloop.project.hosted import PromptHost
from promptloop.project.tool_source import (
    ToolLines,
    front_matter_end,
    is_chat_path,
    tool_lines,
)
from promptloop.watchdog import TimeLimitExceeded
from promptloop.yamlpos import Located, load_data_file, load_with_node, node_at, validation_error

_ENV = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _dump(value: Any, indent: int | None = None) -> str:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, default=str)


# promptfoo's Nunjucks filters, so its prompts render the same here: ``load`` parses JSON,
# ``dump`` writes it as JavaScript's JSON.stringify does (compact unless indented).
_ENV.filters["load"] = json.loads
_ENV.filters["dump"] = _dump


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_is_valid(self) -> ToolFunction:
        # Imported here: a prompt without tools must not pay for loading jsonschema.
        jsonschema = importlib.import_module("jsonschema")
        try:
            jsonschema.Draft202012Validator.check_schema(self.parameters)
        except jsonschema.SchemaError as exc:
            raise PydanticCustomError(
                "tool_schema",
                "parameters is not a valid JSON Schema: {error}",
                {"error": exc.message, "at": ("parameters",)},
            ) from None
        return self


class ToolSpec(BaseModel):
    """A tool in OpenAI's function-calling shape: ``{type: function, function: {...}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["function"] = "function"
    function: ToolFunction


class _ChoiceName(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


class ToolChoiceFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["function"] = "function"
    function: _ChoiceName


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction


class _ToolSettings(BaseModel):
    """``tools`` and ``tool_choice``, which both prompt shapes take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None

    @model_validator(mode="after")
    def _names(self) -> _ToolSettings:
        names = [tool.function.name for tool in self.tools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise PydanticCustomError(
                    "tool_duplicate",
                    "two tools are named {name}",
                    {"name": repr(name), "at": ("tools", index, "function", "name")},
                )
        choice = self.tool_choice
        if choice is not None and not self.tools:
            raise PydanticCustomError(
                "tool_choice_alone",
                "tool_choice is set but no tools are declared",
                {"at": ("tool_choice",)},
            )
        if isinstance(choice, ToolChoiceFunction) and choice.function.name not in names:
            raise PydanticCustomError(
                "tool_choice_unknown",
                "tool_choice names {name}, which is not one of the tools ({known})",
                {
                    "name": repr(choice.function.name),
                    "known": ", ".join(names),
                    "at": ("tool_choice", "function", "name"),
                },
            )
        return self

    def tool_dicts(self) -> tuple[dict[str, Any], ...]:
        return tuple(tool.model_dump(exclude_none=True) for tool in self.tools)

    def tool_choice_value(self) -> str | dict[str, Any] | None:
        choice = self.tool_choice
        return choice.model_dump() if isinstance(choice, ToolChoiceFunction) else choice


class PromptSettings(_ToolSettings):
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


class _ChatFile(_ToolSettings):
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


@dataclass(frozen=True)
class RenderedPrompt:
    messages: tuple[Message, ...]
    # Source line range (1-based, inclusive) of each rendered message.
    line_spans: tuple[tuple[int, int], ...]
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    # The case's earlier turns (data, never rendered as a template).
    history: tuple[Message, ...] = ()

    @property
    def conversation(self) -> tuple[Message, ...]:
        """What the model is sent. The case's earlier turns go right before the prompt's
        last ``user`` message, which is the turn being answered: after the system message
        (and any example turns the prompt writes), before the customer's new message. A
        prompt without a ``user`` message (a system prompt alone) comes first, and the
        model answers the conversation's last turn."""
        if not self.history:
            return self.messages
        at = continuing_turn(self.messages)
        return (*self.messages[:at], *self.history, *self.messages[at:])

    @property
    def text(self) -> str:
        """The prompt as one string (for judges and reports)."""
        if len(self.messages) == 1:
            return self.messages[0].content
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> Template:
    return _ENV.from_string(text)


_DELIMITERS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
_BLOCK_TAG = re.compile(r"{%[-+]?\s*(end)?(\w+)")
_INNERMOST = re.compile(r"innermost block that needs to be closed is '(\w+)'")


def _culprit_line(template: str, error: TemplateSyntaxError) -> int:
    """Where the mistake is, not where Jinja gave up: the ``{{`` never closed, or the
    ``{% if %}`` whose ``{% endif %}`` is missing (Jinja reports the end of the file)."""
    reported = error.lineno or 1
    for opening, closing in _DELIMITERS:
        start = template.find(opening)
        while start != -1:
            end = template.find(closing, start + 2)
            following = template.find(opening, start + 2)
            if end == -1 or (following != -1 and following < end):
                return min(template.count("\n", 0, start) + 1, reported)
            start = following
    innermost = _INNERMOST.search(error.message or "")
    if innermost:
        open_lines: list[int] = []
        for match in _BLOCK_TAG.finditer(template):
            if match.group(2) != innermost.group(1):
                continue
            if match.group(1):
                if open_lines:
                    open_lines.pop()
            else:
                open_lines.append(template.count("\n", 0, match.start()) + 1)
        if open_lines:
            return open_lines[-1]
    return reported


def _syntax_check(message: MessageTemplate, path: str) -> frozenset[str]:
    try:
        ast = _ENV.parse(message.template)
    except TemplateSyntaxError as error:
        line = min(
            message.start_line + _culprit_line(message.template, error) - 1, message.end_line
        )
        raise UserError(f"template error: {error.message}", path=path, line=line) from None
    return frozenset(meta.find_undeclared_variables(ast))


def _build(
    path: str,
    source: str,
    settings: PromptSettings,
    messages: Sequence[MessageTemplate],
    tools: tuple[ToolLines, ...] = (),
) -> PromptTemplate:
    variables: frozenset[str] = frozenset()
    for message in messages:
        variables |= _syntax_check(message, path)
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


def _template_line(error: BaseException) -> int | None:
    # Jinja rewrites tracebacks so template frames carry the template's own line numbers.
    lines = [
        f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def continuing_turn(messages: Sequence[Message]) -> int:
    """Where a case's earlier turns go: the index of the last ``user`` message, or the end."""
    users = [i for i, message in enumerate(messages) if message.role == "user"]
    return users[-1] if users else len(messages)


def render_prompt(
    prompt: PromptTemplate,
    variables: Mapping[str, Any],
    *,
    case_source: str | None = None,
    history: Sequence[Message] = (),
) -> RenderedPrompt:
    """Render every message for one case's variables; ``history`` (the case's earlier
    turns) is carried along as it is (see ``RenderedPrompt.conversation``)."""
    missing = sorted(prompt.variables - set(variables))
    where = f"case {case_source}" if case_source else "the case"
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise UserError(
            f"case has no variable{plural} {names}, used by {prompt.path}",
            path=case_source,
        )
    rendered: list[Message] = []
    for message in prompt.messages:
        try:
            content = render_bounded(_compile(message.template), variables, f"rendering {where}")
        except TimeLimitExceeded as error:
            raise UserError(
                f"cannot render for {where}: the template took longer than {error.seconds:g} s "
                "and was stopped",
                path=prompt.path,
                line=message.start_line,
            ) from None
        except (UndefinedError, TemplateError, TypeError, ValueError, ArithmeticError) as error:
            relative = _template_line(error)
            line = message.start_line + relative - 1 if relative else message.start_line
            detail = getattr(error, "message", None) or str(error)
            raise UserError(
                f"cannot render for {where}: {detail}", path=prompt.path, line=line
            ) from None
        rendered.append(Message(message.role, content))
    spans = tuple((m.start_line, m.end_line) for m in prompt.messages)
    settings = prompt.settings
    return RenderedPrompt(
        tuple(rendered),
        spans,
        settings.tool_dicts(),
        settings.tool_choice_value(),
        tuple(history),
    )


def check_variables(
    prompt: PromptTemplate, cases: Sequence[Case], *, also_used: Iterable[str] = ()
) -> list[str]:
    """Check a dataset against a prompt before any model call.

    Raises ``UserError`` (at the first offending case) when the prompt uses a variable a
    case lacks. Returns warnings, one per variable that every case defines but neither the
    prompt nor ``also_used`` (e.g. evaluator templates) mentions — usually a typo or a
    prompt that forgot a placeholder.
    """
    for case in cases:
        missing = sorted(prompt.variables - set(case.vars))
        if missing:
            names = ", ".join(f"'{name}'" for name in missing)
            plural = "s" if len(missing) > 1 else ""
            raise UserError(
                f"case '{case.id}' has no variable{plural} {names}, used by {prompt.path}",
                path=case.source,
            )
    if not cases:
        return []
    shared = set(cases[0].vars)
    for case in cases[1:]:
        shared &= set(case.vars)
    unused = sorted(shared - prompt.variables - set(also_used))
    return [f"case variable '{name}' is never used by {prompt.path}" for name in unused]
