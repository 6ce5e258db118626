"""The truth configs end to end, as a user runs them: ``promptloop run`` on each recorded
truth config against the loopback stub (answering a prompt ``OUT:<text>`` with ``<text>``,
as bench/promptfoo_truth.py's stub did for promptfoo), and every test passes, with the
score, exactly as it did in promptfoo (tests/fixtures/promptfoo/verdicts)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from promptloop.cli import cli
from tests.support import load_stub

FIXTURES = Path(__file__).parents[1] / "fixtures" / "promptfoo"
MODEL_GRADED = {"llm-rubric", "g-eval", "factuality", "model-graded-closedqa", "answer-relevance"}
TRUTH = sorted((FIXTURES / "verdicts").glob("truth-*.json"))


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(
        module.StubConfig(answer_rules=((r"(?s)\A(.*?)OUT:(.*)\Z", r"\1\2"),))
    )
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("verdicts", TRUTH, ids=lambda p: p.stem)
def test_promptloop_run_gives_promptfoos_verdict_on_every_test(
    verdicts: Path, tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = json.loads(verdicts.read_text(encoding="utf-8"))
    config = FIXTURES / document["config"]
    project = tmp_path / "project"
    shutil.copytree(config.parent, project)
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(project / config.name), "-o", str(out), "-q", "--no-cache"],
    )
    # failing (1) or erroring (2) tests fail the run; a refused config writes no results
    assert (out / "results.json").is_file(), result.output
    assert "Traceback" not in result.output
    suites = json.loads((out / "results.json").read_text())["suites"]
    # a judge's score is its own answer (promptloop asks its judge, not promptfoo's grader):
    # there only the verdict is compared (those tests fail on a deterministic assertion too)
    graded = {
        str(r["model_output"])
        for r in document["results"]
        if any(a["assertion"]["type"] in MODEL_GRADED for a in r["assertions"])
    }

    def score(output: str, value: float) -> float:
        return -1.0 if output in graded else round(float(value), 6)

    got = sorted(
        (c["status"] == "pass", score(c["output"], c["score"]), str(c["output"]))
        for s in suites
        for c in s["cases"]
    )
    expected = sorted(
        (bool(r["pass"]), score(r["model_output"], r["score"]), str(r["model_output"]))
        for r in document["results"]
    )
    assert got == expected
    assert len(got) >= 3
    if verdicts.stem == "truth-code":  # `value: 0`: loaded, failed, and said at load time
        assert "'javascript' has value 0, not code" in " ".join(result.output.split())


@pytest.mark.parametrize("name", ["promptfooconfig.json", "promptfooconfig.yaml"])
def test_a_json_config_runs_as_its_yaml_does(
    name: str, tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """promptfoo reads JSON configs (a .json file, or JSON inside a .yaml): so does
    ``promptloop run DIR``, with the verdicts promptfoo recorded for the YAML."""
    document = json.loads((FIXTURES / "verdicts" / "truth-deterministic.json").read_text())
    source = FIXTURES / document["config"]
    project = tmp_path / "project"
    project.mkdir()
    as_json = json.dumps(yaml.safe_load(source.read_text(encoding="utf-8")), indent=2)
    assert as_json.lstrip().startswith("{") and '"description"' in as_json
    (project / name).write_text(as_json, encoding="utf-8")
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--dir", str(project), "-o", str(out), "-q"])
    assert (out / "results.json").is_file(), result.output
    cases = [
        c for s in json.loads((out / "results.json").read_text())["suites"] for c in s["cases"]
    ]
    got = sorted((c["status"] == "pass", round(float(c["score"]), 6)) for c in cases)
    expected = sorted((bool(r["pass"]), round(float(r["score"]), 6)) for r in document["results"])
    assert got == expected
