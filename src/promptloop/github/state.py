"""What promptloop finds on a pull request before it writes: its own earlier comments, review,
summary, check run and revision branch, as plain values (read by ``api``, compared by
``reconcile``)."""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.errors import InfraError

OUTDATED_PREFIX = "> **Outdated:** superseded by"
SUPERSEDED_PREFIX = "> **Superseded** by"


class AmbiguousWriteError(InfraError):
    """A write whose fate is unknown: GitHub answered 5xx, or the connection broke after the
    request went out. GitHub may have applied it, so it is never repeated blindly: the state
    is read again and only what is still missing is written."""


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
