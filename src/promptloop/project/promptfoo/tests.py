"""promptfoo's tests, expanded as promptfoo expands them: one ``PromptfooTest`` per run.

What a promptfooconfig.yaml's ``tests``, ``defaultTest`` and ``scenarios`` say, read the way
promptfoo 0.123 reads them (``testCaseReader``, ``evaluator``): inline tests; ``file://``
CSV, JSON, JSONL and YAML files and globs, alone or mixed in a list; ``defaultTest`` (also
from a file) merged into every test; ``scenarios`` (each config entry crossed with the
scenario's tests, after the plain tests); vars as arrays (an array of strings expands into
one test per value, crossed with the other arrays; any other array stays one value); vars
from files (``file://notes.txt`` is the file's text, a glob expands into one test per
file). The assertions stay raw: the evaluators read them.

Where promptfoo silently runs nothing (a glob that matches no file) or something else than
written (``vars: file://vars.yaml``, which promptfoo looks up without stripping the
scheme), promptloop says so in one line, or reads what was meant. Nothing is unbounded:
every file is size-checked before it is read, and the number of tests after expansion is
capped.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.bounds import MAX_DATASET_BYTES, MAX_PROMPT_BYTES, check_file_size, confined
from promptloop.dataset.jsonl import json_lines
from promptloop.errors import UserError
from promptloop.project.promptfoo.csv_tests import csv_tests
from promptloop.yamlpos import PathKey, format_loc, load_data_file, suggest

Where = Callable[[PathKey], str]

# Tests after defaultTest, scenarios and var arrays are expanded; each one runs once per
# prompt and provider, so this is already far more calls than any review should make.
MAX_TESTS = 20_000
# Files one glob may name, and bytes all the files of one config's tests may hold.
MAX_GLOB_FILES = 1_000
MAX_TOTAL_BYTES = 256 << 20

_TEST_KEYS = ("description", "vars", "assert", "options", "threshold", "metadata")
_UNSUPPORTED_KEYS = {
    "provider": "a test's own provider",
    "providers": "running a test on only some providers",
    "prompts": "running a test on only some prompts",
    "providerOutput": "a fixed output instead of calling the model",
    "assertScoringFunction": "a custom scoring function",
}
_CODE_SUFFIXES = (".py", ".js", ".cjs", ".mjs", ".ts", ".cts", ".mts")
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


@dataclass(frozen=True)
class PromptfooTest:
    """One test as promptfoo runs it: defaultTest merged in, vars expanded and loaded."""

    description: str | None
    vars: dict[str, Any]
    assertions: tuple[Mapping[str, Any], ...]
    threshold: float | None
    options: Mapping[str, Any]
    metadata: Mapping[str, Any]
    # "promptfooconfig.yaml:12", or the data file's "tests.csv:4" for a test read from one.
    source: str


@dataclass(frozen=True)
class _Raw:
    """A test as written (before defaultTest and var expansion), and where."""

    data: dict[str, Any]
    source: str
    # The folder its vars files are read from: the file that holds the test.
    base: Path


def expand_tests(
    tests: Any,
    *,
    default_test: Any,
    scenarios: Any,
    base_dir: Path,
    where: Callable[[tuple[str | int, ...]], str],
) -> list[PromptfooTest]:
    """Every test of a promptfoo config, in promptfoo's order, ready to run.

    ``base_dir`` is the config's folder (promptfoo resolves every ``file://`` from there);
    ``where(path)`` gives the ``file:line`` of a key path in the config.
    """
    reader = _Reader(base_dir, where)
    default = reader.default_test(default_test)
    plain = reader.tests(tests, ("tests",))
    scenario_tests = reader.scenarios(scenarios, default)
    if plain:
        raws = plain + scenario_tests
    elif scenarios:
        raws = scenario_tests
    else:
        # promptfoo runs a config without tests once, with the defaultTest alone
        raws = [_Raw({}, where(("tests",)), base_dir)]
    out: list[PromptfooTest] = []
    for raw in raws:
        out.extend(reader.expand(raw, default))
    return out


class _Reader:
    def __init__(self, base_dir: Path, where: Where) -> None:
        self.base_dir = base_dir
        self.where = where
        self.count = 0
        self.bytes_read = 0
        # A file var's content, read once however many tests name it.
        self.loaded: dict[Path, str] = {}

    # --- errors and paths --------------------------------------------------------------

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

    # --- tests ---------------------------------------------------------------------------

    def tests(self, value: Any, loc: PathKey, base: Path | None = None) -> list[_Raw]:
        """promptfoo's ``readTests``: a path or glob, ``{path: ...}``, or a list of tests,
        paths and globs."""
        base = base or self.base_dir
        if value is None:
            return []
        if isinstance(value, str):
            return self.test_files(value, base, loc, standalone=not _is_yaml(value))
        if isinstance(value, Mapping) and isinstance(value.get("path"), str):
            return self.test_files(value["path"], base, (*loc, "path"), standalone=True)
        if not isinstance(value, list):
            raise self.fail("tests are a list, or the path of a tests file", loc)
        out: list[_Raw] = []
        for index, item in enumerate(value):
            item_loc = (*loc, index)
            if isinstance(item, str):
                out.extend(self.test_files(item, base, item_loc, standalone=False))
            elif isinstance(item, Mapping) and isinstance(item.get("path"), str):
                path_loc = (*item_loc, "path")
                out.extend(self.test_files(item["path"], base, path_loc, standalone=True))
            elif isinstance(item, Mapping):
                out.append(self.test(dict(item), self.where(item_loc), base, item_loc))
            else:
                raise self.fail("a test is a mapping (vars, assert, ...) or a file path", item_loc)
        return out

    def test_files(
        self, pattern: str, base: Path, loc: PathKey | str, *, standalone: bool
    ) -> list[_Raw]:
        name = pattern.removeprefix("file://")
        if name.startswith(("https://", "http://", "huggingface://", "langfuse://", "az://")):
            raise self.fail(
                f"tests from {name.split('://')[0]}:// are not supported; export them to a "
                "CSV, JSON, JSONL or YAML file beside the config",
                loc,
            )
        if name.split(":")[0].endswith(_CODE_SUFFIXES):
            raise self.fail(
                f"tests generated by code ({name}) are not supported; write them to a CSV, "
                "JSON, JSONL or YAML file",
                loc,
            )
        out: list[_Raw] = []
        for path in self.glob(pattern, base, loc):
            out.extend(self.test_file(path, standalone=standalone))
        return out

    def test_file(self, path: Path, *, standalone: bool) -> list[_Raw]:
        """One tests file. ``standalone`` is promptfoo's ``readStandaloneTestsFile`` road
        (a single non-YAML path), which names unnamed tests "Row #N"; a glob or a list
        entry does so only for CSV rows."""
        shown = self.shown(path)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return [_Raw(test, at, path.parent) for test, at in csv_tests(self.read(path), shown)]
        if suffix == ".jsonl":
            tests: list[_Raw] = []
            lines = json_lines(self.read(path), shown)
            for number, (line, value) in enumerate(lines, start=1):
                if not isinstance(value, dict):
                    raise UserError("a JSONL test is a JSON object", path=shown, line=line)
                if standalone:
                    value = {**value, "description": f"Row #{number}"}
                tests.append(self.test(value, f"{shown}:{line}", path.parent, None))
            return tests
        if suffix in (".json", ".yaml", ".yml"):
            _, located = load_data_file(self.read(path), shown, is_json=suffix == ".json")
            data = located.data
            items = data if isinstance(data, list) else [] if data is None else [data]
            found: list[_Raw] = []
            for index, item in enumerate(items):
                item_line = located.line_for((index,) if isinstance(data, list) else ())
                at = f"{shown}:{item_line}" if item_line else shown
                if isinstance(item, str):
                    found.extend(self.test_files(item, path.parent, at, standalone=False))
                    continue
                if not isinstance(item, dict):
                    raise UserError("a test is a mapping (vars, assert, ...)", path=at)
                if standalone and not item.get("description"):
                    item = {**item, "description": f"Row #{index + 1}"}
                found.append(self.test(item, at, path.parent, None))
            return found
        raise UserError(
            "promptloop reads tests from .csv, .json, .jsonl, .yaml and .yml files", path=shown
        )

    def test(self, data: dict[str, Any], source: str, base: Path, loc: PathKey | None) -> _Raw:
        """promptfoo's ``readTest``: the keys checked, vars read from their files."""

        def fail(message: str, key: str) -> UserError:
            if loc is not None:
                return self.fail(message, (*loc, key))
            return UserError(message, path=source, key=key)

        if not data and loc is not None and loc[0] == "tests":
            raise self.fail("a test needs at least one of vars, assert, options, threshold", loc)
        for key in data:
            if key in _UNSUPPORTED_KEYS:
                raise fail(f"{_UNSUPPORTED_KEYS[key]} is not supported: remove {key!r}", key)
            if key not in _TEST_KEYS:
                raise fail(f"unknown key{suggest(str(key), _TEST_KEYS)}", str(key))
        if isinstance(data.get("vars"), (str, list)) and _all_strings(data["vars"]):
            data = {**data, "vars": self.vars_files(data["vars"], base, loc, source)}
        for key, kind in (("vars", Mapping), ("options", Mapping), ("metadata", Mapping)):
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise fail(f"{key} is a mapping", key)
        if data.get("assert") is not None and not isinstance(data["assert"], list):
            raise fail("assert is a list of assertions", "assert")
        threshold = data.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float))
        ):
            raise fail("threshold is a number", "threshold")
        return _Raw(data, source, base)

    def vars_files(
        self, value: str | list[str], base: Path, loc: PathKey | None, source: str
    ) -> dict[str, Any]:
        """``vars: vars.yaml`` (or a list of paths and globs): the files' mappings merged."""
        merged: dict[str, Any] = {}
        for pattern in [value] if isinstance(value, str) else value:
            at: PathKey | str = (*loc, "vars") if loc is not None else source
            try:
                paths = self.glob(pattern, base, at)
            except UserError as error:
                if loc is None:
                    raise UserError(error.message, path=source, key="vars") from None
                raise
            for path in paths:
                _, located = load_data_file(
                    self.read(path), self.shown(path), is_json=path.suffix == ".json"
                )
                if not isinstance(located.data, Mapping):
                    raise UserError(
                        "a vars file holds a mapping of names to values", path=self.shown(path)
                    )
                merged.update(located.data)
        return merged

    # --- defaultTest and scenarios ----------------------------------------------------------

    def default_test(self, value: Any) -> _Raw:
        loc: PathKey = ("defaultTest",)
        if value is None:
            return _Raw({}, self.where(loc), self.base_dir)
        if isinstance(value, str):
            if not value.startswith("file://"):
                raise self.fail("defaultTest is a mapping, or file:// and the path of one", loc)
            (path,) = self.glob(value, self.base_dir, loc)[:1]
            shown = self.shown(path)
            _, located = load_data_file(self.read(path), shown, is_json=path.suffix == ".json")
            if not isinstance(located.data, dict):
                raise UserError("defaultTest is a mapping (vars, assert, ...)", path=shown)
            return self.test(
                located.data, f"{shown}:{located.line_for(()) or 1}", path.parent, None
            )
        if not isinstance(value, Mapping):
            raise self.fail("defaultTest is a mapping, or file:// and the path of one", loc)
        return self.test(dict(value), self.where(loc), self.base_dir, loc)

    def scenarios(self, value: Any, default: _Raw) -> list[_Raw]:
        loc: PathKey = ("scenarios",)
        if value is None:
            return []
        if isinstance(value, str):
            value = self.structured(value, self.base_dir, loc)
        if not isinstance(value, list):
            raise self.fail("scenarios are a list of {config, tests}", loc)
        out: list[_Raw] = []
        number = 0
        for index, scenario in enumerate(_flat(value)):
            at = (*loc, index)
            if not isinstance(scenario, Mapping):
                raise self.fail("a scenario is a mapping with config and tests", at)
            tests = scenario.get("tests")
            if isinstance(tests, str):
                tests = self.structured(tests, self.base_dir, (*at, "tests"))
            # promptfoo: a scenario without tests runs its config alone; an empty list, nothing
            raws = (
                [_Raw({}, self.where(at), self.base_dir)]
                if tests is None
                else self.tests(tests, (*at, "tests"))
            )
            config = scenario.get("config")
            if not isinstance(config, list) or not all(isinstance(c, Mapping) for c in config):
                raise self.fail(
                    "a scenario's config is a list of mappings (vars, assert, ...)", (*at, "config")
                )
            for data_index, data in enumerate(config):
                data_loc = (*at, "config", data_index)
                entry = self.test(dict(data), self.where(data_loc), self.base_dir, data_loc)
                for raw in raws:
                    merged = _merge_scenario(default.data, entry.data, raw.data, number)
                    out.append(_Raw(merged, raw.source, raw.base))
                number += 1
        return out

    def structured(self, value: str, base: Path, loc: PathKey) -> Any:
        """``file://`` YAML or JSON files (a glob concatenates their lists)."""
        if not value.startswith("file://"):
            raise self.fail("expected a list, or file:// and the path of a YAML or JSON file", loc)
        items: list[Any] = []
        for path in self.glob(value, base, loc):
            _, located = load_data_file(
                self.read(path), self.shown(path), is_json=path.suffix == ".json"
            )
            data = located.data
            items.extend(data if isinstance(data, list) else [] if data is None else [data])
        return items

    # --- merging and expanding ----------------------------------------------------------

    def expand(self, raw: _Raw, default: _Raw) -> Iterator[PromptfooTest]:
        test, base = raw.data, default.data
        options = {**(base.get("options") or {}), **(test.get("options") or {})}
        asserts = (
            [] if options.get("disableDefaultAsserts") is True else list(base.get("assert") or [])
        )
        asserts += list(test.get("assert") or [])
        threshold = test.get("threshold")
        threshold = base.get("threshold") if threshold is None else threshold
        metadata = {**(base.get("metadata") or {}), **(test.get("metadata") or {})}
        vars = {**(base.get("vars") or {}), **(test.get("vars") or {})}
        if options.get("disableVarExpansion"):
            combinations: list[dict[str, Any]] = [vars]
            self.count += 1
        else:
            combinations = self.combinations(vars, raw.source)
        for combination in combinations:
            yield PromptfooTest(
                description=_text_or_none(test.get("description")),
                vars={k: self.var_value(k, v, raw.source) for k, v in combination.items()},
                assertions=tuple(asserts),
                threshold=None if threshold is None else float(threshold),
                options=options,
                metadata=metadata,
                source=raw.source,
            )

    def combinations(self, vars: dict[str, Any], source: str) -> list[dict[str, Any]]:
        """promptfoo's ``generateVarCombinations``: each var's values, crossed in key order."""
        choices: list[tuple[str, list[Any]]] = []
        for key, value in vars.items():
            if isinstance(value, str) and value.startswith("file://"):
                try:
                    paths = self.glob(value, self.base_dir, source)
                except UserError as error:
                    raise UserError(error.message, path=source, key=f"vars.{key}") from None
                values: list[Any] = [f"file://{self.shown(p)}" for p in paths]
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
        if suffix in _CODE_SUFFIXES:
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
            self.base_dir,
            lambda message: UserError(message, path=source, key=f"vars.{key}"),
        )
        if path not in self.loaded:
            text = self.read(path, "var file", MAX_PROMPT_BYTES)
            if suffix in (".yaml", ".yml"):
                _, located = load_data_file(text, self.shown(path), is_json=False)
                text = json.dumps(located.data, ensure_ascii=False, separators=(",", ":"))
            self.loaded[path] = text.strip()
        return self.loaded[path]


def _merge_scenario(
    default: Mapping[str, Any], data: dict[str, Any], test: dict[str, Any], number: int
) -> dict[str, Any]:
    """promptfoo's ``mergeScenarioTest``: the defaultTest, a config entry and a test, later
    ones winning key by key; the entry's assertions before the test's (the defaultTest's
    are added when the test runs, like any test's)."""
    metadata = {
        **(default.get("metadata") or {}),
        **(data.get("metadata") or {}),
        **(test.get("metadata") or {}),
    }
    metadata.setdefault("conversationId", f"__scenario_{number}__")
    return {
        **default,
        **data,
        **test,
        "vars": {
            **(default.get("vars") or {}),
            **(data.get("vars") or {}),
            **(test.get("vars") or {}),
        },
        "options": {
            **(default.get("options") or {}),
            **(data.get("options") or {}),
            **(test.get("options") or {}),
        },
        "assert": [*(data.get("assert") or []), *(test.get("assert") or [])],
        "metadata": metadata,
    }


def _flat(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(item if isinstance(item, list) else [item])
    return out


def _is_yaml(pattern: str) -> bool:
    return pattern.endswith(("yaml", "yml"))


def _all_strings(value: str | list[Any]) -> bool:
    return isinstance(value, str) or all(isinstance(v, str) for v in value)


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
