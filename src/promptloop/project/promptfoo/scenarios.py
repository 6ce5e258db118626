"""promptfoo's ``defaultTest`` and ``scenarios``, read as written.

``defaultTest`` (inline, or ``file://`` and the path of a mapping) is merged into every
test when the tests are expanded. Each scenario crosses every entry of its ``config`` with
its tests (inline or ``file://``), after the plain tests, merged the way promptfoo 0.123's
``mergeScenarioTest`` merges them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptloop.errors import UserError
from promptloop.project.promptfoo.data_files import DataFiles
from promptloop.project.promptfoo.written_tests import WrittenTest, WrittenTests
from promptloop.yamlpos import PathKey, load_data_file


def read_default_test(written: WrittenTests, value: Any) -> WrittenTest:
    """``defaultTest``: a mapping, or ``file://`` and the path of one (none: an empty test)."""
    files = written.files
    loc: PathKey = ("defaultTest",)
    if value is None:
        return WrittenTest({}, files.where(loc), files.base_dir)
    if isinstance(value, str):
        if not value.startswith("file://"):
            raise files.fail("defaultTest is a mapping, or file:// and the path of one", loc)
        (path,) = files.glob(value, files.base_dir, loc)[:1]
        shown = files.shown(path)
        _, located = load_data_file(files.read(path), shown, is_json=path.suffix == ".json")
        if not isinstance(located.data, dict):
            raise UserError("defaultTest is a mapping (vars, assert, ...)", path=shown)
        return written.test(located.data, f"{shown}:{located.line_for(()) or 1}", path.parent, None)
    if not isinstance(value, Mapping):
        raise files.fail("defaultTest is a mapping, or file:// and the path of one", loc)
    return written.test(dict(value), files.where(loc), files.base_dir, loc)


def read_scenarios(written: WrittenTests, value: Any, default: WrittenTest) -> list[WrittenTest]:
    """``scenarios``: each entry of a scenario's ``config`` crossed with its tests, merged
    as promptfoo merges them (see ``_merge_scenario``)."""
    files = written.files
    loc: PathKey = ("scenarios",)
    if value is None:
        return []
    if isinstance(value, str):
        value = _structured(files, value, files.base_dir, loc)
    if not isinstance(value, list):
        raise files.fail("scenarios are a list of {config, tests}", loc)
    out: list[WrittenTest] = []
    number = 0
    for index, scenario in enumerate(_flat(value)):
        at = (*loc, index)
        if not isinstance(scenario, Mapping):
            raise files.fail("a scenario is a mapping with config and tests", at)
        tests = scenario.get("tests")
        if isinstance(tests, str):
            tests = _structured(files, tests, files.base_dir, (*at, "tests"))
        # promptfoo: a scenario without tests runs its config alone; an empty list, nothing
        raws = (
            [WrittenTest({}, files.where(at), files.base_dir)]
            if tests is None
            else written.tests(tests, (*at, "tests"))
        )
        config = scenario.get("config")
        if not isinstance(config, list) or not all(isinstance(c, Mapping) for c in config):
            raise files.fail(
                "a scenario's config is a list of mappings (vars, assert, ...)", (*at, "config")
            )
        for data_index, data in enumerate(config):
            data_loc = (*at, "config", data_index)
            entry = written.test(dict(data), files.where(data_loc), files.base_dir, data_loc)
            for raw in raws:
                merged = _merge_scenario(default.data, entry.data, raw.data, number)
                out.append(WrittenTest(merged, raw.source, raw.base))
            number += 1
    return out


def _structured(files: DataFiles, value: str, base: Path, loc: PathKey) -> Any:
    """``file://`` YAML or JSON files (a glob concatenates their lists)."""
    if not value.startswith("file://"):
        raise files.fail("expected a list, or file:// and the path of a YAML or JSON file", loc)
    items: list[Any] = []
    for path in files.glob(value, base, loc):
        _, located = load_data_file(
            files.read(path), files.shown(path), is_json=path.suffix == ".json"
        )
        data = located.data
        items.extend(data if isinstance(data, list) else [] if data is None else [data])
    return items


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
