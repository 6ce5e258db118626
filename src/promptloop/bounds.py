"""Limits on what a hostile input can make promptloop do: how big a file it reads, where a
file it names may be, how long a template renders or a regex searches.

Files, prompts and checks arrive in pull requests, and the job that runs them holds the
provider keys and a write token: none of them may hang it or eat its memory.

Time is bounded by interruption, not by hope (``watchdog``): code that runs too long is
stopped at its next Python instruction. A single C call (a huge string product, a regex)
cannot be interrupted, so those are bounded where they are made (the template sandbox's size
checks, the ``regex`` package's own timeout, here).
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from promptloop.errors import UserError
from promptloop.watchdog import TimeLimitExceeded

# Files a user writes: far above any real one, far below what would hurt a runner.
MAX_CONFIG_BYTES = 1 << 20  # promptloop.yaml
MAX_PROMPT_BYTES = 1 << 20  # one prompt file
MAX_DATASET_BYTES = 64 << 20  # one dataset file
# YAML aliases may repeat a value, but not multiply a document past this many values.
MAX_ALIAS_EXPANSION = 100_000
# Seconds one template render may take, and one regex search on one output.
RENDER_BUDGET_S = 2.0
REGEX_TIMEOUT_S = 1.0


def check_file_size(path: Path, limit: int, what: str, shown: str | None = None) -> None:
    """Refuse a file over ``limit`` bytes before reading it; a file that cannot be stat'ed is
    left for the read to report."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size > limit:
        raise UserError(
            f"{what} is {_megabytes(size)}; promptloop reads {what}s of up to {_megabytes(limit)}",
            path=shown or str(path),
        )


def _megabytes(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


# --- where a file a config names may be ---------------------------------------------------


def project_root(folder: Path) -> Path:
    """The folder every file a config or dataset names must stay inside: the git work tree
    holding ``folder`` (a ``.git`` folder or file, as in a worktree), else ``folder``."""
    return _root_of(folder.resolve())


@functools.cache
def _root_of(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def confined(
    written: str | Path,
    base_dir: Path,
    fail: Callable[[str], Exception] | None = None,
    *,
    config_dir: Path | None = None,
) -> Path:
    """``written`` (relative to ``base_dir``) as a path to open, once it is sure to resolve
    inside the project of ``config_dir`` (default ``base_dir``), symlinks followed.

    A pull request may write any path in a config or dataset; without this rule
    ``vars: file:///proc/self/environ`` or a symlink to ``~/.ssh`` would send a runner's
    secrets to a model and maybe quote them back into the PR. ``fail`` builds the error
    with the caller's file:line and key; plain ``UserError`` otherwise.
    """
    full = base_dir / written
    root = project_root(config_dir or base_dir)
    if not _inside(full.resolve(), root):
        # Said as the user wrote it: where it really leads is the machine's layout, which a
        # message (often quoted back into a pull request) must not show.
        through = " through a symlink" if _inside(Path(os.path.abspath(full)), root) else ""
        raise (fail or UserError)(
            f"{written} points outside the project{through}; move the file into the repository"
        )
    return full


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --- regular expressions on untrusted text ---------------------------------------------------


def regex_search(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """``pattern.search(text)``, stopped after ``REGEX_TIMEOUT_S`` (``TimeLimitExceeded``).

    ``re`` cannot be interrupted: a pattern with nested quantifiers on a model's output can
    backtrack for hours inside one C call, deaf even to Ctrl-C. The ``regex`` package (a
    superset of ``re``'s syntax, already installed with litellm's tokenizer) checks a
    timeout as it matches, in this thread, at no cost to a search that ends in time; a
    worker process would cost a start-up and a copy of the text per search.
    """
    return _search(pattern.pattern, pattern.flags, text)  # type: ignore[no-any-return]


def _search(source: str, flags: int, text: str) -> Any:
    try:
        return _bounded(source, flags).search(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        raise TimeLimitExceeded(f"the regex /{source}/", REGEX_TIMEOUT_S) from None


def bounded_schema_validator(cls: Any) -> Any:
    """A jsonschema validator class whose ``pattern`` and ``patternProperties`` search the
    instance (a model's output) with the same time limit as a ``regex`` evaluator."""
    jsonschema = importlib.import_module("jsonschema")  # by name: it ships no type stubs

    def pattern(validator: Any, source: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and _search(source, 0, instance) is None:
            yield jsonschema.ValidationError(f"{instance!r} does not match {source!r}")

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for source, subschema in patterns.items():
            for key, value in instance.items():
                if _search(source, 0, key) is not None:
                    yield from validator.descend(value, subschema, path=key, schema_path=source)

    return jsonschema.validators.extend(
        cls, {"pattern": pattern, "patternProperties": pattern_properties}
    )


@functools.lru_cache(maxsize=256)
def _bounded(source: str, flags: int) -> Any:
    import regex

    return regex.compile(source, flags)
