"""A promptfoo test's vars: arrays crossed into one run each, ``file://`` vars read.

An array of strings expands into one run per value, crossed with the test's other arrays
in key order (any other array stays one value); a ``file://`` glob expands into one run
per file, and a ``file://`` var becomes the file's text (a YAML file's data as JSON), read
once however many tests name it. Vars computed by code and media files are refused in one
line. The runs of all a config's tests together are capped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from promptloop.bounds import MAX_PROMPT_BYTES, confined
from promptloop.errors import UserError
from promptloop.project.promptfoo.data_files import CODE_SUFFIXES, DataFiles
from promptloop.yamlpos import load_data_file

# Tests after defaultTest, scenarios and var arrays are expanded; each one runs once per
# prompt and provider, so this is already far more calls than any review should make.
MAX_TESTS = 20_000

_MEDIA_SUFFIXES: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".bmp",
    ".svg",
    ".tif",
    ".tiff",
)
_MEDIA_SUFFIXES = (*_MEDIA_SUFFIXES, ".ico", ".avif", ".heic", ".heif", ".pdf", ".mp3", ".wav")
_MEDIA_SUFFIXES = (*_MEDIA_SUFFIXES, ".m4a", ".mp4")


class VarExpansion:
    """Expands the vars of one config's tests, counting the runs they make."""

    def __init__(self, files: DataFiles) -> None:
        self.files = files
        self.count = 0
        # A file var's content, read once however many tests name it.
        self.loaded: dict[Path, str] = {}

    def combinations(
        self, vars: dict[str, Any], source: str, *, expand: bool
    ) -> list[dict[str, Any]]:
        """promptfoo's ``generateVarCombinations``: each var's values, crossed in key order
        (``expand=False``, the test's ``disableVarExpansion``: the vars as they are)."""
        if not expand:
            self.count += 1
            return [vars]
        choices: list[tuple[str, list[Any]]] = []
        for key, value in vars.items():
            if isinstance(value, str) and value.startswith("file://"):
                try:
                    paths = self.files.glob(value, self.files.base_dir, source)
                except UserError as error:
                    raise UserError(error.message, path=source, key=f"vars.{key}") from None
                values: list[Any] = [f"file://{self.files.shown(p)}" for p in paths]
            elif isinstance(value, list) and value and isinstance(value[0], str):
                values = value
            else:
                values = [value]
            choices.append((key, values))
        size = math.prod(len(values) for _, values in choices)
        self.count += size
        if self.count > MAX_TESTS:
            raise UserError(
                f"the tests expand to more than {MAX_TESTS} runs (this one's vars alone to "
                f"{size}); promptloop runs up to {MAX_TESTS}",
                path=source,
                key="vars",
            )
        out: list[dict[str, Any]] = [{}]
        for key, values in choices:
            out = [{**combination, key: value} for combination in out for value in values]
        return out

    def var_value(self, key: str, value: Any, source: str) -> Any:
        """A ``file://`` var's content, as promptfoo renders it; any other value as written."""
        if not (isinstance(value, str) and value.startswith("file://")):
            return value
        name = value.removeprefix("file://")
        suffix = Path(name.split(":")[0]).suffix.lower()
        if suffix in CODE_SUFFIXES:
            raise UserError(
                f"a var computed by code ({name}) is not supported; write its value in the test "
                "or in a text file",
                path=source,
                key=f"vars.{key}",
            )
        if suffix in _MEDIA_SUFFIXES:
            raise UserError(
                f"a {suffix} file as a var is not supported; promptloop sends text",
                path=source,
                key=f"vars.{key}",
            )
        path = confined(
            name,
            self.files.base_dir,
            lambda message: UserError(message, path=source, key=f"vars.{key}"),
        )
        if path not in self.loaded:
            text = self.files.read(path, "var file", MAX_PROMPT_BYTES)
            if suffix in (".yaml", ".yml"):
                _, located = load_data_file(text, self.files.shown(path), is_json=False)
                text = json.dumps(located.data, ensure_ascii=False, separators=(",", ":"))
            self.loaded[path] = text.strip()
        return self.loaded[path]
