"""promptfoo tests into promptloop cases, each carrying its own assertions.

A test's id hashes its variables AND its assertions, threshold and grading options: two
tests that ask the same thing of a prompt but grade it differently are two cases, and an
edited assertion makes a new case rather than reusing a verdict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.project.suites import CaseChecks

if TYPE_CHECKING:
    from promptloop.evaluators.base import Evaluator
    from promptloop.project.promptfoo.tests import PromptfooTest

# Grading options a test gives all its assertions (promptfoo's ``options:``); each
# assertion may still set its own.
_GRADING = ("provider", "rubricPrompt", "factuality")
# Options promptfoo uses while expanding tests, which the expansion already applied.
_EXPANDED = ("disableVarExpansion", "disableConversationVar", "disableDefaultAsserts")
# Text around the prompt for this test; ``runSerially`` only orders promptfoo's calls.
_AFFIXES = ("prefix", "suffix", "runSerially", "transformVars")
# The output transform every assertion applies first (``postprocess`` is its old name).
_TRANSFORM = ("transform", "postprocess")
_WHY_NOT = {
    "storeOutputAs": "multi-step tests are not supported",
}


def located(source: str) -> tuple[str, int | None]:
    """``"promptfooconfig.yaml:12"`` → its path and line."""
    path, _, line = source.rpartition(":")
    if path and line.isdigit():
        return path, int(line)
    return source, None


def case_id(test: PromptfooTest) -> str:
    blob = json.dumps(
        [dict(test.vars), list(test.assertions), test.threshold, _identity(test.options)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def _identity(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that change what a case is: how it is graded, what it is sent."""
    return {k: options[k] for k in (*_GRADING, *_TRANSFORM, "prefix", "suffix") if k in options}


def _grading(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in _GRADING if k in options}


def _check_options(test: PromptfooTest) -> None:
    for key in test.options:
        if key in _GRADING or key in _EXPANDED or key in _TRANSFORM or key in _AFFIXES:
            continue
        path, line = located(test.source)
        why = _WHY_NOT.get(key, "remove it, or run this test with promptfoo")
        raise UserError(
            f"test option `{key}` is not supported yet; {why}",
            path=path,
            line=line,
            key=f"options.{key}",
        )


def _with_transformed_vars(test: PromptfooTest, base_dir: Path) -> PromptfooTest:
    """``options.transformVars``, run once when loading: its result is added to the vars."""
    from promptloop.scripts import transform

    code = str(test.options["transformVars"])
    try:
        added = transform(
            code, dict(test.vars), {"prompt": {}}, base_dir=base_dir, input_name="vars"
        )
    except ValueError as error:
        path, line = located(test.source)
        raise UserError(str(error), path=path, line=line, key="options.transformVars") from None
    if not isinstance(added, Mapping):
        path, line = located(test.source)
        raise UserError(
            f"transformVars returned {type(added).__name__}, not an object of variables",
            path=path,
            line=line,
            key="options.transformVars",
        )
    return dataclasses.replace(test, vars={**test.vars, **added})


_SCRIPTS = ("javascript", "python", "not-javascript", "not-python")


def _fails_whatever_the_answer(raw: Mapping[str, Any], test: PromptfooTest) -> str | None:
    """A script assertion whose value is a number or a boolean, not code: promptfoo loads
    it and fails it on every answer, so promptloop does too, and says so up front."""
    value = raw.get("value")
    if raw.get("type") not in _SCRIPTS or value is None or isinstance(value, str | list | dict):
        return None
    return (
        f"{test.source}: assertion {raw['type']!r} has value {value!r}, not code: it fails "
        "on every answer (as in promptfoo); write the code as a string"
    )


def build_cases(
    tests: Sequence[PromptfooTest], *, base_dir: Path, notices: list[str] | None = None
) -> tuple[list[Case], dict[str, CaseChecks]]:
    """Each test as a case with a stable id, and its assertions built once (an assertion
    promptloop cannot run is one ``UserError`` line naming it and where it is written; one
    that loads only to fail, as in promptfoo, is a line in ``notices``)."""
    from promptloop.evaluators.promptfoo import build_assertion

    cases: list[Case] = []
    checks: dict[str, CaseChecks] = {}
    seen: dict[str, int] = {}
    for test in tests:
        _check_options(test)
        if test.options.get("transformVars"):
            test = _with_transformed_vars(test, base_dir)
        grading = _grading(test.options)
        transform = next((test.options[k] for k in _TRANSFORM if test.options.get(k)), None)
        evaluators: list[Evaluator] = []
        for raw in test.assertions:
            merged = {**grading, **raw} if grading and raw.get("type") != "assert-set" else raw
            try:
                built = build_assertion(
                    merged, base_dir=base_dir, where=test.source, output_transform=transform
                )
            except ValueError as error:
                path, line = located(test.source)
                # The message may already say where; say it once.
                message = (
                    str(error).removeprefix(f"{test.source}: ").removeprefix(f"{test.source} ")
                )
                raise UserError(message, path=path, line=line, key="assert") from None
            evaluators.append(built)
            if notices is not None and (notice := _fails_whatever_the_answer(merged, test)):
                notices.append(notice)
        identity = case_id(test)
        # The same test written twice is two cases (promptfoo runs both).
        seen[identity] = seen.get(identity, 0) + 1
        if seen[identity] > 1:
            identity = f"{identity}-{seen[identity]}"
        metadata = dict(test.metadata)
        if test.description:
            metadata.setdefault("description", test.description)
        cases.append(Case(identity, dict(test.vars), metadata=metadata, source=test.source))
        checks[identity] = CaseChecks(
            tuple(evaluators),
            test.threshold,
            prefix=str(test.options.get("prefix") or ""),
            suffix=str(test.options.get("suffix") or ""),
        )
    return cases, checks
