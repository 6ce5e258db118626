"""The recorded promptfoo verdicts (tests/fixtures/promptfoo/verdicts) and their configs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.yamlpos import Located, PathKey, load_located

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo"
VERDICTS = FIXTURES / "verdicts"


@dataclass(frozen=True)
class Recorded:
    name: str
    config: Path
    located: Located
    results: list[dict[str, Any]]

    @property
    def base_dir(self) -> Path:
        return self.config.parent

    def where(self) -> Callable[[PathKey], str]:
        def where(loc: PathKey) -> str:
            return f"{self.config.name}:{self.located.line_for(loc) or 1}"

        return where


def recorded() -> Iterator[Recorded]:
    for path in sorted(VERDICTS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        config = FIXTURES / document["config"]
        located = load_located(config.read_text(encoding="utf-8"), config.name)
        yield Recorded(path.stem, config, located, document["results"])


def canonical(value: Any) -> Any:
    """A value as promptfoo's export shows it: a string holding JSON compares as that JSON."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, (dict, list)) else value
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value
