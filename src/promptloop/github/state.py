"""What promptloop finds on GitHub and what it hands over, as plain values: the pull
request's files and head, promptloop's own earlier comments, review, summary, check run and
revision branch (read by ``api``, compared by ``reconcile``), and the review comments it
writes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from promptloop.errors import InfraError
from promptloop.github.diff import Hunk, PatchError, parse_patch

OUTDATED_PREFIX = "> **Outdated:** superseded by"
SUPERSEDED_PREFIX = "> **Superseded** by"


class AmbiguousWriteError(InfraError):
    """A write whose fate is unknown: GitHub answered 5xx, or the connection broke after the
    request went out. GitHub may have applied it, so it is never repeated blindly: the state
    is read again and only what is still missing is written."""


class ConflictError(InfraError):
    """The branch moved on since it was read: read it again and redo the change."""


@dataclass(frozen=True)
class ExistingComment:
    pull_number: int
    id: int
    body: str
    path: str | None
    line: int | None
    author: str | None
    html_url: str
    fingerprint: str | None
    head_sha: str | None
    node_id: str | None = None

    @property
    def outdated(self) -> bool:
        return self.body.startswith(OUTDATED_PREFIX)


@dataclass(frozen=True)
class ExistingReview:
    id: int
    body: str
    head_sha: str | None
    html_url: str

    @property
    def superseded(self) -> bool:
        return self.body.startswith(SUPERSEDED_PREFIX)


@dataclass(frozen=True)
class ExistingSummary:
    id: int
    body: str
    html_url: str
    content: str | None
    head_sha: str | None


@dataclass(frozen=True)
class ExistingCheckRun:
    id: int
    conclusion: str | None
    content: str | None
    html_url: str


@dataclass(frozen=True)
class BranchFile:
    """A branch's tip and one file on it (``text`` None: the file is not there)."""

    branch: str
    tip_sha: str
    text: str | None
    blob_sha: str | None


@dataclass(frozen=True)
class ExistingPull:
    number: int
    title: str
    body: str
    html_url: str


@dataclass(frozen=True)
class PullFile:
    filename: str
    status: str
    # None for binary files and diffs too large for GitHub to include: nothing is commentable.
    patch: str | None
    previous_filename: str | None = None
    additions: int = 0
    deletions: int = 0
    sha: str | None = None

    @cached_property
    def hunks(self) -> list[Hunk]:
        """The patch's hunks, parsed once; a patch we cannot parse leaves nothing commentable
        (never a 422)."""
        try:
            return parse_patch(self.patch)
        except PatchError:
            return []


@dataclass(frozen=True)
class PullFiles:
    files: tuple[PullFile, ...]
    # GitHub lists at most 3000 files; beyond that, absent files are unknown, not unchanged.
    truncated: bool = False

    @cached_property
    def _by_path(self) -> dict[str, PullFile]:
        return {f.filename: f for f in self.files}

    def get(self, path: str) -> PullFile | None:
        return self._by_path.get(path)


@dataclass(frozen=True)
class PullHead:
    head_ref: str
    head_sha: str
    # None when the fork the pull request came from was deleted.
    head_repo_full_name: str | None
    base_ref: str
    base_sha: str


@dataclass(frozen=True)
class ReviewComment:
    """One inline comment as GitHub takes it: on the new side of ``path``."""

    path: str
    body: str
    line: int
    start_line: int | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "body": self.body, "line": self.line}
        data["side"] = "RIGHT"
        if self.start_line is not None and self.start_line != self.line:
            data["start_line"] = self.start_line
            data["start_side"] = "RIGHT"
        return data


@dataclass(frozen=True)
class PostedReview:
    id: int
    html_url: str
    inline: tuple[ReviewComment, ...]
    # Comments GitHub would not anchor, with the reason; their text went into the review body.
    moved_to_body: tuple[tuple[ReviewComment, str], ...] = ()


@dataclass(frozen=True)
class CheckRunResult:
    id: int
    html_url: str
    annotation_requests: int
