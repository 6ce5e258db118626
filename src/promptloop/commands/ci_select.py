"""What a change concerns: the suites whose files it touches (every suite when the changes
are unknown), the base commit to compare them with when the checkout has it, and what the
run should say about either."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promptloop.errors import UserError
from promptloop.github.changes import relevant_suites, suite_files
from promptloop.github.event import PullContext
from promptloop.github.pull_request import Checkout
from promptloop.github.target import Target
from promptloop.project.git import head_commit
from promptloop.project.loaded import LoadedConfig


@dataclass(frozen=True)
class Selection:
    """What this run evaluates: the suites the change touches, against which base."""

    suites: list[str]
    base_sha: str | None
    # Why nothing is evaluated (no suite concerns the change).
    skip_reason: str | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def select(
    target: Target,
    pull: PullContext | None,
    loaded: LoadedConfig,
    checkout: Checkout,
    have_commit: Callable[[str], bool],
) -> Selection:
    if not target.head_sha:
        raise UserError("no commit to report on: GITHUB_SHA is not set", key="GITHUB_SHA")
    notes: list[str] = []
    warnings: list[str] = []
    local_head = head_commit(checkout.root)
    if local_head and local_head != (target.checkout_sha or target.head_sha) and pull is not None:
        warnings.append(
            f"the checked-out commit {local_head[:12]} is not the PR head "
            f"{target.head_sha[:12]}; use actions/checkout with "
            "ref: ${{ github.event.pull_request.head.sha }}"
        )
    by_suite = suite_files(loaded, checkout.path_of)
    if target.changed is not None:
        suites, why = relevant_suites(
            by_suite,
            target.changed,
            checkout.path_of(loaded.path),
            pull_request=pull is not None,
        )
        if not suites:
            return Selection([], None, why, tuple(notes), tuple(warnings))
        notes.append(why[:1].upper() + why[1:] + ".")
    else:
        suites = list(by_suite)
    base_sha = target.base_sha
    if base_sha is not None and not have_commit(base_sha):
        notes.append(
            f"The base commit {base_sha[:12]} is not in this checkout (use actions/checkout "
            "with fetch-depth: 0), so there is no base-vs-head comparison."
        )
        base_sha = None
    return Selection(suites, base_sha, None, tuple(notes), tuple(warnings))
