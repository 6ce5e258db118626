"""Reading files as they were at another commit (the baseline of a comparison)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from promptloop.errors import UserError


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise UserError("git is not installed, and --baseline needs it") from None


def repo_root(start: Path) -> Path:
    proc = _git(["rev-parse", "--show-toplevel"], start)
    if proc.returncode != 0:
        raise UserError(f"{start} is not inside a git repository, and --baseline needs one")
    return Path(proc.stdout.decode().strip())


def resolve_ref(root: Path, ref: str) -> str:
    proc = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
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
