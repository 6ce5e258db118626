"""`promptloop init --from promptfooconfig.yaml`: promptloop's own files that grade as the
promptfoo config does, and one line for each thing they cannot carry."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.project.loader import load_project
from tests.support import load_stub

CONFIG = """\
prompts:
  - |
    Translate to {{ language }}: {{ input }}
providers:
  - id: openai:gpt-4.1-mini
    config: {temperature: 0.2}
defaultTest:
  assert:
    - type: not-contains
      value: Translation
tests:
  - vars: {language: French, input: Hello}
    assert: [{type: icontains, value: bonjour}]
  - vars: {language: Spanish, input: Hello}
    assert: [{type: icontains, value: hola}]
  - vars: {language: German, input: Hello}
    threshold: 0.5
    assert: [{type: icontains, value: hallo}]
"""


@pytest.fixture
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(module.StubConfig())
    server.start()
    server.configure(
        answer_rules=(
            ("to French", "Bonjour"),
            ("to Spanish", "Translation: Hola"),
            ("to German", "Guten Tag"),
        )
    )
    yield server
    server.stop()


def statuses(out: Path) -> list[str]:
    [suite] = json.loads((out / "results.json").read_text())["suites"]
    return [c["status"] for c in suite["cases"]]


def test_the_converted_project_grades_as_the_promptfoo_config(
    tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(CONFIG, encoding="utf-8")
    target = tmp_path / "converted"
    result = CliRunner().invoke(cli, ["init", str(target), "--from", str(source)])
    assert result.exit_code == 0, result.output
    # The per-test threshold has no place in promptloop.yaml: said, not dropped silently.
    [line] = [x for x in result.output.splitlines() if x.startswith("not carried over")]
    assert "promptfooconfig.yaml:16: threshold 0.5" in line
    written = (target / "promptloop.yaml").read_text()
    assert "icontains: '{{ expected }}'" in written and "not-contains: Translation" in written
    assert (target / "prompts" / "prompt-1.md").read_text() == (
        "Translate to {{ language }}: {{ input }}\n"
    )
    [plan] = load_project(target / "promptloop.yaml").plans
    assert (plan.model, plan.temperature) == ("openai/gpt-4.1-mini", 0.2)

    runs, codes = [], []
    for config in (source, target / "promptloop.yaml"):
        out = tmp_path / f"out-{len(runs)}"
        ran = CliRunner().invoke(
            cli, ["run", "--config", str(config), "-o", str(out), "-q", "--no-cache"]
        )
        codes.append(ran.exit_code)
        runs.append(statuses(out))
    # French passes; Spanish says "Translation"; German lacks "hallo" (its 0.5 threshold
    # would pass it in promptfoo, which is the one thing the conversion named).
    assert runs[0] == ["pass", "fail", "pass"]
    assert runs[1] == ["pass", "fail", "fail"]
    # A failing test fails the run, as `promptfoo eval` exits 100; the converted project
    # keeps that bar (threshold: 1.0).
    assert codes == [1, 1]
    assert "threshold: 1.0" in written


def test_init_from_refuses_to_overwrite(tmp_path: Path) -> None:
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "promptloop.yaml").write_text("x")
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--from", str(source)])
    assert result.exit_code == 2 and "never overwrites" in result.output
    assert textwrap.dedent((tmp_path / "promptloop.yaml").read_text()) == "x"


def test_a_conversion_that_carries_no_assertion_says_every_case_would_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # promptfoo's getting-started: each test has its own kind of assertion, so none carries.
    source = Path(__file__).parents[1] / "fixtures" / "promptfoo" / "getting-started"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["init", "converted", "--from", str(source / "promptfooconfig.yaml")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    not_carried = [line for line in lines if line.startswith("not carried over: ")]
    assert len(not_carried) == 3
    assert not_carried[-1] == (
        "not carried over: every assertion: promptloop.yaml has no evaluators, so every case "
        "would pass until you add some"
    )
    assert any(line.startswith("3 things above are not in promptloop.yaml;") for line in lines)
    assert lines[-1] == "Next: promptloop run --dir converted"


def test_one_thing_not_carried_is_said_in_the_singular(tmp_path: Path) -> None:
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "c"), "--from", str(source)])
    assert result.exit_code == 0, result.output
    assert "\n1 thing above is not in promptloop.yaml; run " in result.output
    assert result.output.splitlines()[-1] == f"Next: promptloop run --dir {tmp_path / 'c'}"
