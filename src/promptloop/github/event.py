"""Turn the webhook payload at GITHUB_EVENT_PATH into the few facts ``promptloop ci`` needs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import UserError

PULL_EVENTS = frozenset({"pull_request", "pull_request_target"})
# Evaluated like a manual dispatch: every suite at GITHUB_SHA.
DISPATCH_EVENTS = frozenset({"workflow_dispatch", "schedule"})
SUPPORTED_EVENTS = PULL_EVENTS | DISPATCH_EVENTS | {"push", "merge_group", "workflow_run"}
_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class PullContext:
    event_name: str
    number: int
    base_sha: str
    base_ref: str
    # The PR's head commit; GITHUB_SHA on pull_request is a throwaway merge commit.
    head_sha: str
    head_ref: str
    # None when the fork the PR came from has been deleted.
    head_repo_full_name: str | None
    base_repo_full_name: str
    is_fork: bool
    html_url: str | None = None


@dataclass(frozen=True)
class PushContext:
    event_name: str
    ref: str
    # None for the first push of a new branch (GitHub sends forty zeros).
    before: str | None
    after: str
    repo_full_name: str
    default_branch: str | None = None

    @property
    def on_default_branch(self) -> bool:
        return self.default_branch is not None and self.ref == f"refs/heads/{self.default_branch}"


@dataclass(frozen=True)
class DispatchContext:
    event_name: str
    ref: str
    sha: str | None
    repo_full_name: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    default_branch: str | None = None

    @property
    def on_default_branch(self) -> bool:
        return self.default_branch is not None and self.ref == f"refs/heads/{self.default_branch}"


@dataclass(frozen=True)
class MergeGroupContext:
    """A merge queue's group: its head (the base plus the queued pull requests) is
    evaluated against its base, and the check run concluded on the head."""

    event_name: str
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    repo_full_name: str


@dataclass(frozen=True)
class WorkflowRunContext:
    """A finished run of another workflow (a fork's read-only pull request run): what its
    artifact must be bound to."""

    event_name: str
    run_id: int
    run_url: str | None
    # The workflow run's head commit and the pull request it ran for (None: it ran for
    # none that GitHub could name, as for a push).
    head_sha: str
    number: int | None
    # The pull request's head as GitHub listed it with the run (it may have moved on).
    pull_head_sha: str | None
    conclusion: str | None
    repo_full_name: str
    # Where the run's head came from: GitHub lists no pull request with a fork's run, so
    # it is found by its branch.
    head_repo_full_name: str | None = None
    head_branch: str | None = None

    @property
    def head_owner(self) -> str | None:
        name = self.head_repo_full_name
        return name.split("/", 1)[0] if name and "/" in name else None


EventContext = PullContext | PushContext | DispatchContext | MergeGroupContext | WorkflowRunContext


class _Reader:
    def __init__(self, payload: Mapping[str, Any], source: str) -> None:
        self.payload = payload
        self.source = source

    def get(self, dotted: str, *, optional: bool = False) -> Any:
        node: Any = self.payload
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or node.get(part) is None:
                if optional:
                    return None
                raise UserError("missing from the event payload", path=self.source, key=dotted)
            node = node[part]
        return node

    def text(self, dotted: str) -> str:
        value = self.get(dotted)
        if not isinstance(value, str) or not value:
            raise UserError("expected a non-empty string", path=self.source, key=dotted)
        return value

    def optional_text(self, dotted: str) -> str | None:
        value = self.get(dotted, optional=True)
        return value if isinstance(value, str) and value else None


def parse_event(
    event_name: str,
    payload: Mapping[str, Any],
    *,
    source: str = "GITHUB_EVENT_PATH",
    sha: str | None = None,
    repository: str | None = None,
    ref_env: str | None = None,
) -> EventContext:
    """``sha``/``repository``/``ref_env``: GITHUB_SHA/GITHUB_REPOSITORY/GITHUB_REF, used where
    the payload lacks them."""
    if event_name not in SUPPORTED_EVENTS:
        raise UserError(
            f"event {event_name!r} is not supported; "
            f"use one of {', '.join(sorted(SUPPORTED_EVENTS))}",
            key="GITHUB_EVENT_NAME",
        )
    r = _Reader(payload, source)
    repo_name = r.optional_text("repository.full_name") or repository
    if event_name in PULL_EVENTS:
        number = r.get("pull_request.number")
        if not isinstance(number, int) or isinstance(number, bool):
            raise UserError("expected an integer", path=source, key="pull_request.number")
        base_repo = r.text("pull_request.base.repo.full_name")
        head_repo = r.optional_text("pull_request.head.repo.full_name")
        return PullContext(
            event_name=event_name,
            number=number,
            base_sha=r.text("pull_request.base.sha"),
            base_ref=r.text("pull_request.base.ref"),
            head_sha=r.text("pull_request.head.sha"),
            head_ref=r.text("pull_request.head.ref"),
            head_repo_full_name=head_repo,
            base_repo_full_name=base_repo,
            is_fork=head_repo is None or head_repo.lower() != base_repo.lower(),
            html_url=r.optional_text("pull_request.html_url"),
        )
    if repo_name is None:
        raise UserError("missing from the event payload", path=source, key="repository.full_name")
    default_branch = r.optional_text("repository.default_branch")
    if event_name == "push":
        before = r.optional_text("before")
        return PushContext(
            event_name=event_name,
            ref=r.text("ref"),
            before=None if before is None or before == _ZERO_SHA else before,
            after=r.text("after"),
            repo_full_name=repo_name,
            default_branch=default_branch,
        )
    if event_name == "merge_group":
        return MergeGroupContext(
            event_name=event_name,
            head_sha=r.text("merge_group.head_sha"),
            head_ref=r.text("merge_group.head_ref"),
            base_sha=r.text("merge_group.base_sha"),
            base_ref=r.text("merge_group.base_ref"),
            repo_full_name=repo_name,
        )
    if event_name == "workflow_run":
        return _workflow_run(r, repo_name)
    raw_inputs = r.get("inputs", optional=True)
    inputs = (
        {str(k): "" if v is None else str(v) for k, v in raw_inputs.items()}
        if isinstance(raw_inputs, Mapping)
        else {}
    )
    # A schedule's payload names no ref: it runs on the default branch (GITHUB_REF).
    ref = r.text("ref") if event_name == "workflow_dispatch" else ref_env or ""
    if not ref and default_branch:
        ref = f"refs/heads/{default_branch}"
    return DispatchContext(
        event_name=event_name,
        ref=ref,
        sha=sha,
        repo_full_name=repo_name,
        inputs=inputs,
        default_branch=default_branch,
    )


def _workflow_run(r: _Reader, repo_name: str) -> WorkflowRunContext:
    run_id = r.get("workflow_run.id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        raise UserError("expected an integer", path=r.source, key="workflow_run.id")
    head_sha = r.text("workflow_run.head_sha")
    pulls = r.get("workflow_run.pull_requests", optional=True) or []
    if not isinstance(pulls, list):
        raise UserError("expected a list", path=r.source, key="workflow_run.pull_requests")
    listed = [
        (p["number"], p["head"].get("sha"))
        for p in pulls
        if isinstance(p, Mapping)
        and isinstance(p.get("number"), int)
        and isinstance(p.get("head"), Mapping)
    ]
    # The pull request whose head is the run's head, else the only one listed.
    matching = [pr for pr in listed if pr[1] == head_sha] or (listed if len(listed) == 1 else [])
    number, pull_head = matching[0] if len(matching) == 1 else (None, None)
    return WorkflowRunContext(
        event_name="workflow_run",
        run_id=run_id,
        run_url=r.optional_text("workflow_run.html_url"),
        head_sha=head_sha,
        number=number,
        pull_head_sha=pull_head if isinstance(pull_head, str) else None,
        conclusion=r.optional_text("workflow_run.conclusion"),
        repo_full_name=repo_name,
        head_repo_full_name=r.optional_text("workflow_run.head_repository.full_name"),
        head_branch=r.optional_text("workflow_run.head_branch"),
    )


def load_event(
    path: Path,
    event_name: str,
    *,
    sha: str | None = None,
    repository: str | None = None,
    ref_env: str | None = None,
) -> EventContext:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read the event payload: {exc.strerror}", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise UserError(
            f"event payload is not JSON: {exc.msg}", path=str(path), line=exc.lineno
        ) from exc
    if not isinstance(payload, Mapping):
        raise UserError("event payload must be a JSON object", path=str(path))
    return parse_event(
        event_name, payload, source=str(path), sha=sha, repository=repository, ref_env=ref_env
    )
