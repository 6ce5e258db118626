"""Which suites a change touches, from the files each suite depends on. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptloop.github.diff import Hunk
from promptloop.github.state import PullFile
from promptloop.project.loaded import LoadedConfig


def evaluator_files(args: Any) -> list[str]:
    """Strings in evaluator arguments that name a file (``checks.py:fn`` → ``checks.py``)."""
    found: list[str] = []
    if isinstance(args, str):
        candidate = args.split(":", 1)[0] if ".py:" in args else args
        if candidate.endswith((".py", ".json", ".yaml", ".yml", ".txt", ".md", ".jsonl")):
            found.append(candidate)
    elif isinstance(args, Mapping):
        for value in args.values():
            found += evaluator_files(value)
    elif isinstance(args, list | tuple):
        for value in args:
            found += evaluator_files(value)
    return found


def suite_files(loaded: LoadedConfig, to_repo: Callable[[Path], str | None]) -> dict[str, set[str]]:
    """suite name → repo-relative paths of every file it depends on."""
    out: dict[str, set[str]] = {}
    for suite in loaded.config.suites:
        names = [suite.prompt]
        if isinstance(suite.dataset, str):
            names.append(suite.dataset)
        for spec in suite.evaluators:
            names += evaluator_files(spec.args)
        paths = {to_repo(loaded.resolve(n)) for n in names}
        out[suite.name] = {p for p in paths if p is not None}
    return out


def relevant_suites(
    files_by_suite: Mapping[str, set[str]],
    changed: Iterable[PullFile],
    config_path: str | None,
    *,
    pull_request: bool = True,
) -> tuple[list[str], str]:
    """Suites whose files the change touches (renames count on both names), and why; a
    push or a merge group (``pull_request=False``) is no pull request to name."""
    touched: set[str] = set()
    for f in changed:
        touched.add(f.filename)
        if f.previous_filename:
            touched.add(f.previous_filename)
    if config_path is not None and config_path in touched:
        return list(files_by_suite), f"the config file {config_path} changed, so every suite runs"
    names = [name for name, paths in files_by_suite.items() if paths & touched]
    if not names:
        return [], "no prompt, dataset or evaluator file of any suite changed"
    hit = sorted({p for n in names for p in files_by_suite[n]} & touched)
    ran = names[0] if len(names) == 1 else f"{len(names)} suites"
    if pull_request:
        return names, f"this pull request changes {', '.join(hit)}, so {ran} ran"
    return names, f"these commits change {', '.join(hit)}, so {ran} ran"


def first_changed_line(hunks: Sequence[Hunk]) -> int | None:
    added = sorted(n for h in hunks for n in h.added)
    if added:
        return added[0]
    lines = [n for h in hunks for n in h.new_lines]
    return min(lines) if lines else None


def hunks_of(pull_file: PullFile | None) -> list[Hunk]:
    return pull_file.hunks if pull_file is not None else []
