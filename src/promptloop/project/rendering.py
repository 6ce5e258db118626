"""A prompt rendered for one case, and the check that a dataset has a prompt's variables.

Variables: a variable the template uses but a case lacks is an error naming the case.
A variable every case has but no template uses is only reported by ``check_variables``
as a warning: datasets legitimately carry fields used elsewhere (by evaluators such as
``equals: "{{ label }}"``), which the runner passes as ``also_used``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import UndefinedError
from jinja2.exceptions import TemplateError

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.evaluators.templating import render_bounded
from promptloop.models.base import Message
from promptloop.project.prompt_syntax import compiled
from promptloop.project.prompts import PromptTemplate
from promptloop.watchdog import TimeLimitExceeded


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


def _template_line(error: BaseException) -> int | None:
    # Jinja rewrites tracebacks so template frames carry the template's own line numbers.
    lines = [
        f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def _lacking(prompt: PromptTemplate, variables: Iterable[str]) -> str | None:
    """The end of the sentence ("has no variable 'x', used by t.md") naming the variables
    the prompt uses but ``variables`` lacks; None when it lacks none."""
    missing = sorted(prompt.variables - set(variables))
    if not missing:
        return None
    names = ", ".join(f"'{name}'" for name in missing)
    plural = "s" if len(missing) > 1 else ""
    return f"has no variable{plural} {names}, used by {prompt.path}"


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
    where = f"case {case_source}" if case_source else "the case"
    if lacking := _lacking(prompt, variables):
        raise UserError(f"case {lacking}", path=case_source)
    rendered: list[Message] = []
    for message in prompt.messages:
        try:
            content = render_bounded(compiled(message.template), variables, f"rendering {where}")
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
        if lacking := _lacking(prompt, case.vars):
            raise UserError(f"case '{case.id}' {lacking}", path=case.source)
    if not cases:
        return []
    shared = set(cases[0].vars)
    for case in cases[1:]:
        shared &= set(case.vars)
    unused = sorted(shared - prompt.variables - set(also_used))
    return [f"case variable '{name}' is never used by {prompt.path}" for name in unused]
