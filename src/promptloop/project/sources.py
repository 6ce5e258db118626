"""Suites read from a config in another tool's format (promptfooconfig.yaml).

Such a config is translated into promptloop's own ``Config`` (so every command reads the
same suites, models and settings) plus a ``ConfigSource`` that holds what the translation
already read: each suite's prompt, its cases, and the evaluators each case carries.
``project.loaded.LoadedConfig`` asks the source instead of reading the files again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptloop.dataset.cases import Case
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.prompts import PromptTemplate
from promptloop.project.suites import CaseChecks


@dataclass(frozen=True)
class SourcedSuite:
    """One suite as the source read it."""

    prompt: PromptTemplate
    cases: tuple[Case, ...]
    case_checks: Mapping[str, CaseChecks] = field(default_factory=dict)
    # The JSON Schema the answer must follow (a provider's ``response_format``).
    json_schema: dict[str, Any] | None = None
    # How messages name the place the suite's model is written (``providers[1]``).
    model_key: str | None = None


class ConfigSource(Protocol):
    @property
    def format(self) -> str:
        """The tool whose format the config is written in (``promptfoo``)."""
        ...

    @property
    def notices(self) -> tuple[str, ...]:
        """Lines about keys read but not carried over (each names its file and line)."""
        ...

    def suite(self, suite: SuiteConfig) -> SourcedSuite: ...
