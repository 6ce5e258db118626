"""Eval cases: stable ids and deterministic splits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Split = Literal["train", "val", "test"]


@dataclass(frozen=True)
class Case:
    id: str
    vars: Mapping[str, Any]
    expected: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # "evals/triage.jsonl:12": where the case was written, for error messages.
    source: str | None = None
