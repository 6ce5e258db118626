"""The config file: found (``find_config``), read and checked (``load_config``), and the
files it names read on request (``LoadedConfig``), each path confined to the project and
each mistake reported where the config names the file. The file's schema is ``config``;
``loader`` builds the whole project from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from promptloop.bounds import MAX_CONFIG_BYTES, check_file_size, confined
from promptloop.dataset.feedback import FeedbackRecord
from promptloop.errors import UserError
from promptloop.project.config.file import Config
from promptloop.project.config.parse import parse_config
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.sources import ConfigSource
from promptloop.yamlpos import format_loc

if TYPE_CHECKING:
    from promptloop.dataset.cases import Case
    from promptloop.project.prompts import PromptTemplate

CONFIG_NAMES = ("promptloop.yaml", "promptloop.yml")
# Read where a directory has no promptloop.yaml (see ``project.promptfoo``).
FOREIGN_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")


def find_config(start: Path) -> Path:
    """promptloop.yaml (or .yml) in ``start`` or the nearest parent directory; where a
    directory has none, its promptfooconfig.yaml."""
    start = start if start.is_dir() else start.parent
    for directory in (start, *start.resolve().parents):
        for name in (*CONFIG_NAMES, *FOREIGN_NAMES):
            candidate = directory / name
            if candidate.is_file():
                return candidate
            if candidate.is_dir():
                raise UserError("is a directory, not a file", path=str(candidate))
            if candidate.is_symlink():
                # A dangling link or a loop: saying "not found" would hide the file in plain view.
                raise UserError(
                    "is a symbolic link that leads to no file (a loop or a missing target)",
                    path=str(candidate),
                )
    raise UserError(
        f"no promptloop.yaml found (nor a promptfooconfig.yaml) in {start} or its parent "
        "directories; create one with `promptloop init` or pass --config PATH"
    )


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    # The file as given (display paths derive from it) and its directory.
    path: Path
    root: Path
    # Set when the file is another tool's config, translated into ``config``.
    source: ConfigSource | None = None

    def resolve(self, relative: str, loc: tuple[str | int, ...] | None = None) -> Path:
        """A path written in the config (at ``loc``), resolved against the config's
        directory; one that leads outside the project is refused."""

        def fail(message: str) -> UserError:
            line = self.config.line_of(loc) if loc else None
            key = format_loc(loc) if loc else None
            return UserError(message, path=str(self.path), line=line, key=key)

        return confined(relative, self.root, fail)

    def _at(self, suite: SuiteConfig, key: str) -> tuple[str | int, ...]:
        return ("suites", self.config.suites.index(suite), key)

    def shown(self) -> str:
        """The config's own path as results show it: relative to here, else to its folder."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            try:
                return str(self.path.resolve().relative_to(self.root.resolve()))
            except ValueError:
                return str(self.path)

    def display(self, relative: str) -> str:
        """How to show a config-relative path in messages: relative to where the user
        pointed us, so ``evals/x.jsonl:7`` stays clickable."""
        parent = PurePath(self.path).parent
        if str(parent) in ("", "."):
            return str(PurePath(relative))
        return os.path.normpath(str(parent / relative))

    def _referenced(self, error: UserError, suite: SuiteConfig, key: str) -> UserError:
        """A file that cannot be read at all is reported where the config names it, so the
        line to fix is the one shown; a mistake inside the file keeps its own line."""
        if error.line is not None:
            return error
        loc = ("suites", self.config.suites.index(suite), key)
        shown = error.path or ""
        message = error.message
        for prefix in ("prompt file ", "dataset file ", "prompt ", "dataset "):
            if message.startswith(prefix):
                message = f"{shown} {message.removeprefix(prefix)}"
                break
        else:
            message = f"{shown}: {message}"
        return UserError(
            message, path=str(self.path), line=self.config.line_of(loc), key=format_loc(loc)
        )

    def load_prompt(self, suite: SuiteConfig) -> PromptTemplate:
        from promptloop.project.prompts import load_prompt

        if self.source is not None:
            return self.source.suite(suite).prompt
        try:
            return load_prompt(
                self.resolve(suite.prompt, self._at(suite, "prompt")), self.display(suite.prompt)
            )
        except UserError as error:
            raise self._referenced(error, suite, "prompt") from None

    def load_cases(self, suite: SuiteConfig) -> list[Case]:
        """The suite's cases, from its dataset file or the inline list in the config."""
        from promptloop.dataset.cases import load_dataset, parse_cases, value_paths

        if self.source is not None:
            return list(self.source.suite(suite).cases)
        if isinstance(suite.dataset, str):
            try:
                return load_dataset(
                    self.resolve(suite.dataset, self._at(suite, "dataset")),
                    self.display(suite.dataset),
                    named_as=str(PurePath(os.path.normpath(suite.dataset))),
                )
            except UserError as error:
                raise self._referenced(error, suite, "dataset") from None
        index = self.config.suites.index(suite)
        lines = [
            self.config.line_of(("suites", index, "dataset", i)) for i in range(len(suite.dataset))
        ]
        key_lines: dict[tuple[str | int, ...], int] = {}
        for i, row in enumerate(suite.dataset):
            for path in value_paths(row):
                line = self.config.line_of(("suites", index, "dataset", i, *path))
                if line is not None:
                    key_lines[(i, *path)] = line
        return parse_cases(
            suite.dataset, str(self.path), lines=lines, key_lines=key_lines, named_as=self.path.name
        )

    def feedback_file(self, suite: SuiteConfig) -> str:
        """The suite's feedback file, relative to the config's directory."""
        from promptloop.dataset.feedback import default_feedback_path

        return suite.feedback or default_feedback_path(suite.dataset, suite.name)

    def load_feedback(self, suite: SuiteConfig) -> list[FeedbackRecord]:
        from promptloop.dataset.feedback import load_feedback

        relative = self.feedback_file(suite)
        loc = self._at(suite, "feedback") if suite.feedback else self._at(suite, "dataset")
        return load_feedback(self.resolve(relative, loc), self.display(relative))


def load_config(path: Path, *, cache_dir: Path | None = None) -> LoadedConfig:
    """The config at ``path``, read and checked (nothing it names is read yet).
    ``cache_dir``: where the response cache lives instead of the config's own ``cache:``
    (the action's `cache-dir`, which actions/cache restores), turned on."""
    loaded = _read_config(path)
    if cache_dir is None:
        return loaded
    config = loaded.config
    cache = config.cache.model_copy(update={"dir": str(cache_dir.resolve()), "enabled": True})
    return replace(loaded, config=config.model_copy(update={"cache": cache}))


def _read_config(path: Path) -> LoadedConfig:
    check_file_size(path, MAX_CONFIG_BYTES, "config file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("config file not found", path=str(path)) from None
    except OSError as error:
        raise UserError(f"cannot read config: {error.strerror}", path=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("is not a UTF-8 text file", path=str(path)) from None
    from promptloop.project.promptfoo import is_promptfoo_config, read_promptfoo

    if is_promptfoo_config(text):
        config, source = read_promptfoo(text, path)
        return LoadedConfig(config=config, path=path, root=path.parent, source=source)
    return LoadedConfig(config=parse_config(text, str(path)), path=path, root=path.parent)
