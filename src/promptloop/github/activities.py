"""Which activity a `promptloop ci` run performs, chosen from the event alone (pure).

Adding an event is a line here, and an activity in ``commands`` if no existing one fits.
"""

from __future__ import annotations

from typing import Literal

from promptloop.errors import UserError
from promptloop.github.comment_commands import COMMENT_EVENTS
from promptloop.github.event import DISPATCH_EVENTS, PULL_EVENTS, SUPPORTED_EVENTS

# "pull_request": evaluate the head against its base and say so on the pull request;
# "push" and "dispatch" (a manual run, a schedule): evaluate and report through the check
# run and the runner only (on the default branch, leaving the baseline pull requests
# restore); "merge_group": evaluate a merge queue's group and conclude its one check run;
# "publish": post what a fork's read-only run decided, from its artifact;
# "comment": answer a reviewer's `/promptloop` commands.
Activity = Literal["pull_request", "push", "dispatch", "merge_group", "publish", "comment"]


def find_activity(event_name: str) -> Activity:
    if event_name in COMMENT_EVENTS:
        return "comment"
    if event_name in PULL_EVENTS:
        return "pull_request"
    if event_name == "push":
        return "push"
    if event_name in DISPATCH_EVENTS:
        return "dispatch"
    if event_name == "merge_group":
        return "merge_group"
    if event_name == "workflow_run":
        return "publish"
    raise UserError(
        f"event {event_name!r} is not supported; use one of "
        f"{', '.join(sorted(SUPPORTED_EVENTS | COMMENT_EVENTS))}",
        key="GITHUB_EVENT_NAME",
    )
