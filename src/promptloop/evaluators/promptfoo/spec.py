"""One ``assert:`` item as written, checked for the keys promptloop understands."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.bounds import confined
from promptloop.errors import UserError
from promptloop.evaluators.promptfoo.core import UnsupportedAssertion, Value
from promptloop.yamlpos import load_plain

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


# Types that read a ``file://`` value themselves (a script, or a schema file).
_OWN_FILES = frozenset({"javascript", "python", "is-json", "contains-json"})
_DATA_SUFFIXES = (".json", ".yaml", ".yml")


def file_value(reference: str, base_dir: Path, where: str, kind: str) -> Any:
    """promptfoo's ``processFileReference``: a ``file://`` value's content, JSON/YAML parsed
    and text trimmed; read once, when the config loads."""
    path = confined(
        reference.removeprefix("file://"),
        base_dir,
        lambda message: UnsupportedAssertion(f"{where}: assertion {kind!r} value file://{message}"),
    )
    suffix = path.suffix.lower()
    if suffix in (".js", ".cjs", ".mjs", ".py"):
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} takes its value from the script {reference}, which "
            "promptloop does not run for this type; write a javascript or python assertion"
        )
    if suffix not in (*_DATA_SUFFIXES, ".txt"):
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} value {reference}: only .json, .yaml, .yml and .txt "
            "files can be values"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} value {reference} cannot be read ({exc.strerror})"
        ) from None
    if suffix == ".txt":
        return text.strip()
    try:
        return load_plain(text, reference)
    except UserError as exc:
        raise UnsupportedAssertion(
            f"{where}: assertion {kind!r} value {reference} is not JSON or YAML: {exc.one_line()}"
        ) from None


def _loaded(value: Any, base_dir: Path, where: str, kind: str) -> Any:
    if kind.removeprefix("not-") in _OWN_FILES:
        return value
    if isinstance(value, str) and value.startswith("file://"):
        return file_value(value, base_dir, where, kind)
    if isinstance(value, list):
        return [
            file_value(v, base_dir, where, kind)
            if isinstance(v, str) and v.startswith("file://")
            else v
            for v in value
        ]
    return value


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
        value=Value(
            _loaded(raw.get("value"), base_dir, where, kind),
            what=f"{where}: assertion {kind!r} value",
        ),
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
