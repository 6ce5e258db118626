"""Where a case's earlier turns meet the prompt: checked before any model call.

The dataset checks a conversation on its own (``dataset.conversation``); what it cannot
know is the prompt it will continue. Here: a tool call in the history must name a tool
the prompt declares (a provider refuses a call to a tool it was not given), and when the
prompt has no ``user`` message to follow the history, the history's last turn must be one
a model answers (a user turn or a tool result).
"""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.dataset.cases import Case, history_dicts
from promptloop.errors import UserError
from promptloop.models.base import Message
from promptloop.project.prompts import PromptTemplate


def history_messages(case: Case) -> tuple[Message, ...]:
    """The case's earlier turns as the model is sent them."""
    return tuple(Message.from_dict(turn) for turn in history_dicts(case.messages))


def check_conversations(prompt: PromptTemplate, cases: Sequence[Case]) -> None:
    """Raise at the first case whose earlier turns do not fit ``prompt``."""
    declared = [tool.function.name for tool in prompt.settings.tools]
    continues = any(message.role == "user" for message in prompt.messages)
    for case in cases:
        if not case.messages:
            continue
        for index, turn in enumerate(case.messages):
            for number, call in enumerate(turn.tool_calls):
                if call.function.name in declared:
                    continue
                tools = (
                    f"its tools are {', '.join(declared)}" if declared else "it declares no tools"
                )
                raise UserError(
                    f"case '{case.id}' calls `{call.function.name}`, which {prompt.path} does "
                    f"not declare ({tools})",
                    path=case.source,
                    key=f"messages[{index}].tool_calls[{number}].function.name",
                )
        last = len(case.messages) - 1
        role = case.messages[last].role
        if not continues and role not in ("user", "tool"):
            article = "an" if role == "assistant" else "a"
            raise UserError(
                f"case '{case.id}' ends its conversation with {article} {role} "
                f"turn, and {prompt.path} has no user message to follow it: end `messages` "
                "with the user turn (or tool result) the model should answer",
                path=case.source,
                key=f"messages[{last}]",
            )
