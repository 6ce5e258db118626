"""GitHub integration for ``promptloop ci``: reading (runtime, event, target, api over
transport), choosing the activity (activities), planning what to say (findings, placement,
review, run_figures, plan, reconcile, actions, replies) and writing it through the one
publisher (publish, apply, deliver).

``promptloop.github.transport`` is the only module that imports PyGithub, so import the
client (``api``) explicitly; the planning modules import no network code. May import report
and everything below it.
"""

from promptloop.github.diff import Hunk, PatchError, hunk_containing, parse_patch
from promptloop.github.event import (
    DispatchContext,
    EventContext,
    PullContext,
    PushContext,
    load_event,
    parse_event,
)
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.suggestions import (
    LineEdit,
    Suggestion,
    SuggestionPlan,
    line_edits,
    plan_suggestions,
    suggestion_block,
)
from promptloop.github.workflow import Annotation

__all__ = [
    "ActionsRuntime",
    "Annotation",
    "DispatchContext",
    "EventContext",
    "Hunk",
    "LineEdit",
    "PatchError",
    "PullContext",
    "PushContext",
    "Suggestion",
    "SuggestionPlan",
    "hunk_containing",
    "line_edits",
    "load_event",
    "parse_event",
    "parse_patch",
    "plan_suggestions",
    "suggestion_block",
]
