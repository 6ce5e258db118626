"""Git, read-only plus fetching a missing commit: files as they were at another commit
(the baseline of a comparison) and what changed between two commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

from promptloop.errors import UserError


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError:
        raise UserError("git is not installed, and promptloop needs it here") from None


def _out(proc: subprocess.CompletedProcess[bytes]) -> str | None:
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def find_root(start: Path) -> Path | None:
    """The work tree's top folder, or None outside a git repository."""
    top = _out(_git(["rev-parse", "--show-toplevel"], start))
    return Path(top) if top else None


def head_commit(root: Path) -> str | None:
    return _out(_git(["rev-parse", "HEAD"], root))


def has_commit(root: Path, sha: str) -> bool:
    return _git(["cat-file", "-e", f"{sha}^{{commit}}"], root).returncode == 0


def ensure_commit(root: Path, sha: str) -> bool:
    """The commit is available locally, fetching it from origin if a shallow clone lacks it."""
    if has_commit(root, sha):
        return True
    _git(["fetch", "--no-tags", "--depth=1", "origin", sha], root)
    return has_commit(root, sha)


def changed_paths(root: Path, before: str, after: str) -> list[tuple[str, str | None]] | None:
    """(path, previous path when renamed) for every file changed between two commits."""
    proc = _git(["diff", "--name-status", "-M", before, after], root)
    if proc.returncode != 0:
        return None
    out: list[tuple[str, str | None]] = []
    for row in proc.stdout.decode().splitlines():
        cols = row.split("\t")
        if len(cols) == 3:
            out.append((cols[2], cols[1]))
        elif len(cols) == 2:
            out.append((cols[1], None))
    return out


def blob_sha(root: Path, ref: str, path: str) -> str | None:
    return _out(_git(["rev-parse", f"{ref}:{path}"], root))


def repo_root(start: Path) -> Path:
    proc = _git(["rev-parse", "--show-toplevel"], start)
    if proc.returncode != 0:
        raise UserError(
            f"--baseline needs a git repository, and {start.resolve()} is not inside one: "
            "git init, commit the project, then compare an edit with --baseline HEAD"
        )
    return Path(proc.stdout.decode().strip())


def resolve_ref(root: Path, ref: str) -> str:
    proc = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if proc.returncode != 0 and head_commit(root) is None:
        raise UserError(
            f"--baseline {ref}: {root} has no commit yet; commit the project first "
            "(git add -A && git commit), then compare an edit with --baseline HEAD"
        )
    if proc.returncode != 0:
        raise UserError(
            f"--baseline {ref}: no such commit in {root} (in CI, fetch it first: "
            "actions/checkout with fetch-depth: 0)"
        )
    return proc.stdout.decode().strip()


def file_at(root: Path, ref: str, path: Path) -> str | None:
    """The text of ``path`` at ``ref``, or None when the file did not exist there."""
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    proc = _git(["show", f"{ref}:{rel}"], root)
    if proc.returncode != 0:
        return None
    try:
        # utf-8-sig, as prompt files on disk are read: a byte order mark is not a change.
        return proc.stdout.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{rel} at {ref} is not a UTF-8 text file") from None
