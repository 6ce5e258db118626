"""TEMPORARY stand-ins for two modules other branches provide (``expand_tests`` and
``build_assertion``), installed only while those modules are missing. Delete on merge."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.evaluators.base import EvalContext, EvalResult


@dataclass(frozen=True)
class PromptfooTest:
    description: str | None
    vars: dict[str, Any]
    assertions: tuple[Mapping[str, Any], ...]
    threshold: float | None
    options: Mapping[str, Any]
    metadata: Mapping[str, Any]
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def expand_tests(
    tests: Any,
    *,
    default_test: Any,
    scenarios: Any,
    base_dir: Path,
    where: Callable[[tuple[str | int, ...]], str],
) -> list[PromptfooTest]:
    default = default_test if isinstance(default_test, Mapping) else {}
    out = []
    for i, t in enumerate(tests):
        out.append(
            PromptfooTest(
                t.get("description"),
                {**default.get("vars", {}), **t.get("vars", {})},
                (*default.get("assert", ()), *t.get("assert", ())),
                t.get("threshold", default.get("threshold")),
                {**default.get("options", {}), **t.get("options", {})},
                t.get("metadata", {}),
                where(("tests", i)),
            )
        )
    return out


class UnsupportedAssertion(ValueError):
    pass


@dataclass
class _Check:
    name: str
    kind: str
    value: Any
    weight: float = 1.0

    async def evaluate(self, output: str, case: Any, ctx: EvalContext) -> EvalResult:
        from jinja2 import Template

        value = Template(str(self.value)).render(**case.vars)
        negate = self.kind.startswith("not-")
        kind = self.kind.removeprefix("not-")
        if kind == "contains":
            hit = value in output
        elif kind == "icontains":
            hit = value.lower() in output.lower()
        else:
            hit = output == value
        passed = hit != negate
        reason = f"expected {self.kind} {value!r}, got {output!r}"
        return EvalResult(self.name, passed, float(passed), reason, weight=self.weight)


def build_assertion(
    raw: Mapping[str, Any], *, base_dir: Path, where: str, output_transform: str | None = None
) -> Any:
    kind = str(raw.get("type"))
    if output_transform is not None:
        raise UnsupportedAssertion(f"{where}: the stand-in has no transforms")
    if kind.removeprefix("not-") not in ("contains", "icontains", "equals"):
        raise UnsupportedAssertion(f"assertion type {kind!r} is not supported ({where})")
    return _Check(str(raw.get("metric") or kind), kind, raw.get("value"), raw.get("weight", 1.0))


def install() -> None:
    """Register the stand-ins where the real modules are missing."""
    import importlib

    for name, attrs in (
        (
            "promptloop.project.promptfoo.tests",
            {"expand_tests": expand_tests, "PromptfooTest": PromptfooTest},
        ),
        (
            "promptloop.evaluators.promptfoo",
            {"build_assertion": build_assertion, "UnsupportedAssertion": UnsupportedAssertion},
        ),
    ):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
