"""promptfoo's own example configs, as they are, through `promptloop run`: the one whose
assertions promptloop's stand-alone checks cover runs against the stub with promptfoo's
verdicts; every one loads, or names at load time the one thing it does not support."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.errors import UserError
from promptloop.project.loader import load_project
from tests.support import load_stub

FIXTURES = Path(__file__).parents[1] / "fixtures" / "promptfoo"
# The stand-ins of tests/promptfoo/standins.py read only inline tests and four assertion types.
STANDING_IN = getattr(sys.modules.get("promptloop.evaluators.promptfoo"), "__file__", None) is None


@pytest.fixture
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(module.StubConfig(record_bodies=True))
    server.start()
    yield server
    server.stop()


def test_getting_started_runs_as_promptfoo_would_grade_it(
    tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Convert this English" answers right in French; "Translate to" answers in English.
    stub.configure(
        answer_rules=(
            (r"Convert this English to French: Hello world", "Bonjour le monde !"),
            (r"Convert this English to Spanish", "¿DÓNDE ESTÁ LA BIBLIOTECA?"),
            (r"Translate to French", "Hello world"),
            (r"Translate to Spanish", "¿Dónde está la biblioteca?"),
        )
    )
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    project = tmp_path / "getting-started"
    shutil.copytree(FIXTURES / "getting-started", project)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(project), "-o", str(out), "-q", "--no-cache"])
    assert result.exit_code == 0, result.output
    suites = json.loads((out / "results.json").read_text())["suites"]
    verdicts = {s["name"]: [c["status"] for c in s["cases"]] for s in suites}
    # contains is case-sensitive, icontains is not: promptfoo's verdicts on these outputs.
    assert verdicts == {
        "prompt-1.openai-gpt-4.1": ["pass", "pass"],
        "prompt-2.openai-gpt-4.1": ["fail", "pass"],
        "prompt-1.openai-o4-mini": ["pass", "pass"],
        "prompt-2.openai-o4-mini": ["fail", "pass"],
    }
    assert {b["model"] for b in stub.bodies} == {"gpt-4.1", "o4-mini"}


# What each example needs from promptloop that it does not support: None when it loads.
NOT_SUPPORTED = {
    "getting-started/promptfooconfig.yaml": None,
    "simple-csv/promptfooconfig.yaml": None,
    "python-assert/promptfooconfig-inline.yaml": None,
    "python-assert/promptfooconfig-external.yaml": None,
    "self-grading/promptfooconfig.yaml": None,
    "json-output/promptfooconfig.yaml": None,
}


@pytest.mark.skipif(STANDING_IN, reason="needs the promptfoo assertions and test expansion")
@pytest.mark.parametrize("name", sorted(NOT_SUPPORTED))
def test_every_example_loads_or_names_what_it_lacks(name: str, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "f")
    path = tmp_path / "f" / name
    expected = NOT_SUPPORTED[name]
    if expected is None:
        project = load_project(path)
        assert project.plans and all(p.cases for p in project.plans)
        assert all(p.case_checks for p in project.plans)
    else:
        with pytest.raises(UserError) as caught:
            load_project(path)
        assert expected in caught.value.message and caught.value.line is not None
