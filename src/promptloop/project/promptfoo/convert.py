"""A promptfoo config as promptloop's own files, for `promptloop init --from`: what is
decided here is data (the files' texts and what could not be carried over); the command
writes them.

promptloop.yaml grades a suite's cases with the suite's evaluators, so a test's own
assertions carry over when they are the same in every test (defaultTest's, usually), or
when every test has one assertion of the same type whose value differs: that value becomes
the case's ``expected`` and the evaluator reads ``{{ expected }}``. Anything else is named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from promptloop.dataset.cases import RESERVED_KEYS
from promptloop.project.config.file import Config
from promptloop.project.promptfoo.read import PromptfooSource

# promptfoo types with a promptloop kind of the same meaning (value: text).
_TEXT_KINDS = {"contains", "icontains", "starts-with", "regex"}
_LIST_KINDS = {
    "contains-any": ("contains", "any"),
    "contains-all": ("contains", "all"),
    "icontains-any": ("icontains", "any"),
    "icontains-all": ("icontains", "all"),
}
_CARRIED_KEYS = {"type", "value", "weight", "metric"}
DATASET = "evals/cases.jsonl"


@dataclass(frozen=True)
class Conversion:
    files: dict[str, str]
    not_carried: list[str] = field(default_factory=list)


def _evaluator(raw: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """A promptfoo assertion as a promptloop evaluator item, or None."""
    if set(raw) - _CARRIED_KEYS:
        return None
    kind = str(raw.get("type", ""))
    negated = kind.startswith("not-")
    base = kind.removeprefix("not-")
    item: dict[str, Any]
    if base in _TEXT_KINDS and isinstance(value, str):
        item = {base: value}
    elif base == "equals" and isinstance(value, str):
        # promptfoo compares exactly; promptloop strips by default.
        item = {"equals": {"value": value, "strip": False}}
    elif base in _LIST_KINDS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        name, mode = _LIST_KINDS[base]
        item = {name: {"values": value, "mode": mode}}
    elif base == "is-json" and value is None:
        item = {"is-json": None}
    elif base == "is-json" and isinstance(value, Mapping):
        item = {"json-schema": {"schema": dict(value)}}
    elif base == "llm-rubric" and isinstance(value, str) and not negated:
        item = {"judge": value}
    else:
        return None
    if negated:
        [(name, args)] = item.items()
        item = {f"not-{name}": args}
    if raw.get("weight") is not None:
        item["weight"] = raw["weight"]
    if raw.get("metric"):
        item["name"] = raw["metric"]
    return item


def _key(raw: Mapping[str, Any]) -> str:
    return json.dumps(raw, sort_keys=True, default=str)


def convert(config: Config, source: PromptfooSource, name: str) -> Conversion:
    """promptloop.yaml and its files for the promptfoo config ``name`` (read into
    ``config`` and ``source``), and what could not be carried over."""
    tests = list(source.tests.values())
    ids = list(source.tests)
    not_carried: list[str] = []
    # Assertions every test has alike become the suite's evaluators.
    shared_keys = set.intersection(*({_key(a) for a in t.assertions} for t in tests))
    shared = [a for a in tests[0].assertions if _key(a) in shared_keys]
    evaluators = []
    for raw in shared:
        item = _evaluator(raw, raw.get("value"))
        if item is None:
            not_carried.append(f"assertion {raw.get('type')!r} of every test (no promptloop kind)")
        else:
            evaluators.append(item)
    own = [[a for a in t.assertions if _key(a) not in shared_keys] for t in tests]
    expected_kind = _one_per_test(own)
    if expected_kind is not None:
        evaluators.append(expected_kind)
    else:
        for test, rest in zip(tests, own, strict=True):
            for raw in rest:
                not_carried.append(
                    f"{test.source}: assertion {raw.get('type')!r} of this test alone"
                )
    rows = []
    for case_id, test, rest in zip(ids, tests, own, strict=True):
        row: dict[str, Any] = {"id": case_id}
        clash = sorted(set(test.vars) & set(RESERVED_KEYS))
        if clash:
            not_carried.append(f"{test.source}: variable {clash[0]!r} (a reserved column)")
        row.update({k: v for k, v in test.vars.items() if k not in RESERVED_KEYS})
        if expected_kind is not None:
            row["expected"] = rest[0].get("value")
        if test.threshold is not None:
            not_carried.append(f"{test.source}: threshold {test.threshold:g}")
        if any(k in test.options for k in ("prefix", "suffix", "transform", "transformVars")):
            not_carried.append(f"{test.source}: options ({', '.join(sorted(test.options))})")
        rows.append(json.dumps(row, ensure_ascii=False, default=str))
    if not evaluators and any(t.assertions for t in tests):
        # A suite without evaluators passes every case: the converted project would pass
        # what the promptfoo config fails.
        not_carried.append(
            "every assertion: promptloop.yaml has no evaluators, so every case would pass "
            "until you add some"
        )
    files = {DATASET: "\n".join(rows) + "\n"}
    files["promptloop.yaml"] = _config(config, source, name, evaluators, files)
    return Conversion(files, not_carried)


def _one_per_test(own: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, Any] | None:
    """``{kind: "{{ expected }}"}`` when every test has one assertion left, all of one
    type and without other keys; None otherwise."""
    if not own or any(len(rest) != 1 for rest in own):
        return None
    kinds = {str(rest[0].get("type")) for rest in own}
    if len(kinds) != 1 or any(set(rest[0]) - {"type", "value"} for rest in own):
        return None
    if not all(isinstance(rest[0].get("value"), str) for rest in own):
        return None
    return _evaluator({"type": kinds.pop()}, "{{ expected }}")


def _config(
    config: Config,
    source: PromptfooSource,
    name: str,
    evaluators: list[dict[str, Any]],
    files: dict[str, str],
) -> str:
    suites = []
    written: dict[str, str] = {}
    for suite in config.suites:
        prompt = source.suite(suite).prompt
        if prompt.host is None:
            prompt_file = suite.prompt  # a chat file: kept where it is
        else:
            prompt_file = written.get(prompt.source) or f"prompts/{suite.name.split('.')[0]}.md"
            written[prompt.source] = prompt_file
            files[prompt_file] = prompt.source.rstrip("\n") + "\n"
        entry: dict[str, Any] = {
            "name": suite.name,
            "prompt": prompt_file,
            "dataset": DATASET,
            "model": suite.model,
        }
        for key in ("threshold", "temperature", "max_tokens"):
            if getattr(suite, key) is not None:
                entry[key] = getattr(suite, key)
        entry["evaluators"] = evaluators
        suites.append(entry)
    top: dict[str, Any] = {"model": config.model, "max_tokens": config.max_tokens}
    if config.judge_model:
        top["judge_model"] = config.judge_model
    if config.api_base:
        top["api_base"] = config.api_base
    top["suites"] = suites
    head = f"# Converted from {name} by `promptloop init --from`.\n"
    return head + yaml.dump(top, Dumper=_Plain, sort_keys=False, allow_unicode=True, width=100)


class _Plain(yaml.SafeDumper):
    """Writes every suite's evaluators out in full: no YAML anchors for a person to decode."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
