"""GitHub integration for ``promptloop ci``: reading (runtime, event, api), planning what
to say (review, plan, reconcile) and writing it (publish, session).

``promptloop.github.api`` is the only module that imports PyGithub, so import it explicitly;
the planning modules import no network code. May import report and everything below it.
"""

from promptloop.github.diff import Hunk, PatchError, hunk_containing, lines_in_hunks, parse_patch
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
    ChangedRange,
    Suggestion,
    SuggestionPlan,
    changed_ranges,
    plan_suggestions,
    suggestion_block,
)
from promptloop.github.workflow import Annotation

__all__ = [
    "ActionsRuntime",
    "Annotation",
    "ChangedRange",
    "DispatchContext",
    "EventContext",
    "Hunk",
    "PatchError",
    "PullContext",
    "PushContext",
    "Suggestion",
    "SuggestionPlan",
    "changed_ranges",
    "hunk_containing",
    "lines_in_hunks",
    "load_event",
    "parse_event",
    "parse_patch",
    "plan_suggestions",
    "suggestion_block",
]
