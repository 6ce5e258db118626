"""The default branch's baseline: what a `push` (or a schedule or a manual run) on the default
branch leaves in the response cache for pull requests to restore, and what a pull request
says about the one it restored.

The cache is content-addressed, so a restored answer is only ever used for the identical
request: a stale baseline can cost calls, never a wrong verdict. What it cannot tell by
itself is *whether* the pull request's base side was already paid for; the manifest beside
the cache says for which commit, and which suites, the default branch saved it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.github.event import DispatchContext, MergeGroupContext, PullContext, PushContext
from promptloop.project.loaded import LoadedConfig
from promptloop.wording import plural

MANIFEST = "promptloop-baseline.json"
# A manifest is a few hundred bytes; anything far larger is not one.
_MANIFEST_LIMIT = 64 * 1024


class BaselineManifest(BaseModel):
    """Written beside the response cache by the default branch's run."""

    model_config = ConfigDict(extra="forbid")

    sha: str = Field(pattern=r"^[0-9a-f]{40}$")
    ref: str
    # The suites whose answers at ``sha`` the cache holds.
    suites: list[str]
    saved_at: str


def cache_folder(loaded: LoadedConfig) -> Path | None:
    """The response cache folder this run uses (the action's `cache-dir` is in ``loaded``
    already), or None when the run keeps no cache on disk."""
    cache = loaded.config.cache
    return (loaded.root / cache.dir).resolve() if cache.enabled else None


def read_manifest(folder: Path | None) -> BaselineManifest | None:
    if folder is None:
        return None
    path = folder / MANIFEST
    try:
        if path.stat().st_size > _MANIFEST_LIMIT:
            return None
        return BaselineManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return None


def covered_suites(
    previous: BaselineManifest | None,
    before: str | None,
    evaluated: Sequence[str],
    *,
    every_suite: bool,
) -> list[str]:
    """The suites a new baseline covers: those just evaluated, plus, when the restored
    baseline was saved for the commit this push started from, the ones it covered that this
    push did not touch (their answers in the cache are still the default branch's).
    ``every_suite``: this run evaluated every suite (a schedule, a dispatch, a push whose
    changes are unknown)."""
    carried = previous.suites if previous is not None and previous.sha == before else []
    if every_suite:
        carried = []
    return sorted({*carried, *evaluated})


def save_manifest(folder: Path, sha: str, ref: str, suites: Sequence[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = BaselineManifest(
        sha=sha,
        ref=ref,
        suites=list(suites),
        saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = folder / MANIFEST
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def baseline_note(
    manifest: BaselineManifest | None, base_sha: str | None, suites: Sequence[str]
) -> str | None:
    """What a pull request says about the baseline it restored (None: none was restored)."""
    if manifest is None or base_sha is None:
        return None
    branch = manifest.ref.removeprefix("refs/heads/")
    saved = f"{branch} at {manifest.sha[:12]}"
    if manifest.sha != base_sha:
        return (
            f"The restored baseline is stale: it was saved for {saved}, not this pull "
            f"request's base {base_sha[:12]}, so the base side is evaluated here (answers "
            "the cache still holds cost nothing)."
        )
    missing = [s for s in suites if s not in manifest.suites]
    if missing:
        return (
            f"The baseline saved for {saved} does not cover {plural(len(missing), 'suite')} "
            f"({', '.join(missing)}), so their base side is evaluated here."
        )
    return (
        f"The base side comes from the default branch's baseline ({saved}): its answers "
        "were restored from the cache, not asked again."
    )


def restored_note(loaded: LoadedConfig, base_sha: str | None, suites: Sequence[str]) -> str | None:
    """``baseline_note`` for the manifest beside this run's response cache."""
    return baseline_note(read_manifest(cache_folder(loaded)), base_sha, suites)


def leave_baseline(
    ctx: PullContext | PushContext | DispatchContext | MergeGroupContext,
    loaded: LoadedConfig,
    head_sha: str,
    evaluated: Sequence[str],
    *,
    every_suite: bool,
) -> None:
    """On the default branch, say for which commit and suites the response cache (that
    actions/cache saves after this job) holds the answers: pull requests restore it."""
    if not isinstance(ctx, PushContext | DispatchContext) or not ctx.on_default_branch:
        return
    folder = cache_folder(loaded)
    if folder is None or not head_sha:
        return
    before = ctx.before if isinstance(ctx, PushContext) else None
    suites = covered_suites(read_manifest(folder), before, evaluated, every_suite=every_suite)
    save_manifest(folder, head_sha, ctx.ref, suites)
