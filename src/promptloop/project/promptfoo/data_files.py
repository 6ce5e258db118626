"""The data files one promptfoo config's tests read, found and read within bounds.

Every ``file://`` of a test is resolved from the folder of the file that names it and
confined to the config's folder; a glob that matches no file is an error (promptfoo
silently runs nothing), and so is one that matches too many. Every file is size-checked
before it is read, and all the files of one config's tests together are capped.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path

from promptloop.bounds import MAX_DATASET_BYTES, check_file_size, confined
from promptloop.errors import UserError
from promptloop.yamlpos import PathKey, format_loc

# ``file:line`` of a key path in the config.
Where = Callable[[PathKey], str]

# Files one glob may name, and bytes all the files of one config's tests may hold.
MAX_GLOB_FILES = 1_000
MAX_TOTAL_BYTES = 256 << 20

# Tests and vars promptfoo computes by running code, which promptloop does not.
CODE_SUFFIXES = (".py", ".js", ".cjs", ".mjs", ".ts", ".cts", ".mts")


class DataFiles:
    """The files under one config's folder (``base_dir``), and how many bytes were read."""

    def __init__(self, base_dir: Path, where: Where) -> None:
        self.base_dir = base_dir
        self.where = where
        self.bytes_read = 0

    def fail(self, message: str, at: PathKey | str) -> UserError:
        """An error at a key path of the config, or at a data file's ``file:line``."""
        if isinstance(at, str):
            return UserError(message, path=at)
        return UserError(message, path=self.where(at), key=format_loc(at) or None)

    def shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.base_dir).as_posix()
        except ValueError:
            return path.as_posix()

    def glob(self, pattern: str, base: Path, loc: PathKey | str) -> list[Path]:
        """The files ``pattern`` (``file://`` optional) names under ``base``, sorted; one
        that names none is an error, not an empty list."""
        name = pattern.removeprefix("file://")
        if not glob.has_magic(name):
            path = self.confined(name, base, loc)
            if not path.is_file():
                raise self.fail(f"{name} does not exist (looked in {self.shown(base)}/)", loc)
            return [path]
        found = sorted(glob.glob(name, root_dir=base, recursive=True))
        files = [self.confined(f, base, loc) for f in found if (base / f).is_file()]
        if not files:
            raise self.fail(f"{name} matches no file (looked in {self.shown(base)}/)", loc)
        if len(files) > MAX_GLOB_FILES:
            raise self.fail(
                f"{name} matches {len(files)} files; promptloop reads up to {MAX_GLOB_FILES}",
                loc,
            )
        return files

    def confined(self, name: str, base: Path, loc: PathKey | str) -> Path:
        return confined(
            name, base, lambda message: self.fail(message, loc), config_dir=self.base_dir
        )

    def read(self, path: Path, what: str = "test file", limit: int = MAX_DATASET_BYTES) -> str:
        shown = self.shown(path)
        check_file_size(path, limit, what, shown)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read it: {error}", path=shown) from None
        self.bytes_read += len(text)
        if self.bytes_read > MAX_TOTAL_BYTES:
            raise UserError(
                f"the tests' files hold more than {MAX_TOTAL_BYTES >> 20} MB together; "
                "promptloop stops reading here",
                path=shown,
            )
        return text
