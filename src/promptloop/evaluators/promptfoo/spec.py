"""One ``assert:`` item as written, checked for the keys promptloop understands."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.evaluators.promptfoo.core import UnsupportedAssertion, Value

# Keys promptfoo's schema gives an assertion, that promptloop honours.
KNOWN_KEYS = frozenset(
    {
        "type",
        "value",
        "threshold",
        "weight",
        "metric",
        "transform",
        "provider",
        "rubricPrompt",
        "config",
        "assert",
    }
)


@dataclass(frozen=True)
class Spec:
    type: str
    base: str  # without ``not-``
    inverse: bool
    value: Value
    threshold: float | None
    weight: float
    metric: str | None
    transform: str | None
    provider: Any
    rubric_prompt: Any
    config: Mapping[str, Any] | None
    raw: Mapping[str, Any]
    where: str
    base_dir: Path

    def problem(self, message: str) -> UnsupportedAssertion:
        return UnsupportedAssertion(f"{self.where}: assertion {self.type!r} {message}")


def _number(raw: Mapping[str, Any], key: str, where: str, kind: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} has {key}: {value!r}; {key} must be a number"
        )
    return float(value)


def parse(raw: Mapping[str, Any], *, base_dir: Path, where: str) -> Spec:
    if not isinstance(raw, Mapping):
        raise UnsupportedAssertion(
            f"{where}: an assert item must be a mapping with a type, got {type(raw).__name__}"
        )
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise UnsupportedAssertion(f"{where}: an assert item needs a type (e.g. type: contains)")
    unknown = sorted(str(k) for k in raw if k not in KNOWN_KEYS)
    if unknown:
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} has key {unknown[0]!r}, which promptloop does not "
            f"support; remove it or check its spelling (supported: {', '.join(sorted(KNOWN_KEYS))})"
        )
    inverse = kind.startswith("not-")
    transform = raw.get("transform")
    if transform is not None and not isinstance(transform, str):
        raise UnsupportedAssertion(f"{where}: assertion {kind!r} transform must be a string")
    config = raw.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise UnsupportedAssertion(f"{where}: assertion {kind!r} config must be a mapping")
    metric = raw.get("metric")
    weight = _number(raw, "weight", where, kind)
    return Spec(
        type=kind,
        base=kind.removeprefix("not-"),
        inverse=inverse,
        value=Value(raw.get("value"), what=f"{where}: assertion {kind!r} value"),
        threshold=_number(raw, "threshold", where, kind),
        weight=1.0 if weight is None else weight,
        metric=str(metric) if metric is not None else None,
        transform=transform,
        provider=raw.get("provider"),
        rubric_prompt=raw.get("rubricPrompt"),
        config=config,
        raw=raw,
        where=where,
        base_dir=base_dir,
    )
