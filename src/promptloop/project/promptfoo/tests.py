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

Here the tests are merged with ``defaultTest`` and expanded; reading them as written is
``written_tests``' (with ``scenarios`` for ``defaultTest`` and ``scenarios``), expanding
their vars ``variables``', and finding and reading their files ``data_files``'.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.project.promptfoo.data_files import DataFiles, Where
from promptloop.project.promptfoo.scenarios import read_default_test, read_scenarios
from promptloop.project.promptfoo.variables import VarExpansion
from promptloop.project.promptfoo.written_tests import WrittenTest, WrittenTests


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


def expand_tests(
    tests: Any,
    *,
    default_test: Any,
    scenarios: Any,
    base_dir: Path,
    where: Where,
) -> list[PromptfooTest]:
    """Every test of a promptfoo config, in promptfoo's order, ready to run.

    ``base_dir`` is the config's folder (promptfoo resolves every ``file://`` from there);
    ``where(path)`` gives the ``file:line`` of a key path in the config.
    """
    files = DataFiles(base_dir, where)
    written = WrittenTests(files)
    default = read_default_test(written, default_test)
    plain = written.tests(tests, ("tests",))
    scenario_tests = read_scenarios(written, scenarios, default)
    if plain:
        raws = plain + scenario_tests
    elif scenarios:
        raws = scenario_tests
    else:
        # promptfoo runs a config without tests once, with the defaultTest alone
        raws = [WrittenTest({}, where(("tests",)), base_dir)]
    expansion = VarExpansion(files)
    out: list[PromptfooTest] = []
    for raw in raws:
        out.extend(_runs(raw, default, expansion))
    return out


def _runs(
    raw: WrittenTest, default: WrittenTest, expansion: VarExpansion
) -> Iterator[PromptfooTest]:
    """The runs of one test: the defaultTest merged in, its vars expanded and loaded."""
    test, base = raw.data, default.data
    options = {**(base.get("options") or {}), **(test.get("options") or {})}
    asserts = [] if options.get("disableDefaultAsserts") is True else list(base.get("assert") or [])
    asserts += list(test.get("assert") or [])
    threshold = test.get("threshold")
    threshold = base.get("threshold") if threshold is None else threshold
    metadata = {**(base.get("metadata") or {}), **(test.get("metadata") or {})}
    vars = {**(base.get("vars") or {}), **(test.get("vars") or {})}
    expand = not options.get("disableVarExpansion")
    combinations = expansion.combinations(vars, raw.source, expand=expand)
    for combination in combinations:
        yield PromptfooTest(
            description=_text_or_none(test.get("description")),
            vars={k: expansion.var_value(k, v, raw.source) for k, v in combination.items()},
            assertions=tuple(asserts),
            threshold=None if threshold is None else float(threshold),
            options=options,
            metadata=metadata,
            source=raw.source,
        )


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
