"""promptfoo's model-graded assertions under the forecast and the budget, through the CLI
against the stub that counts every request (chat and embeddings): `run --estimate` on a
promptfoo config foretells the real count of the run that follows, and a budget counts, and
stops, the embedding calls of `similar` and `answer-relevance` like any other call."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support import cli_env, run_promptloop

# Per case: its answer, then each grader's calls.
CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}          # answer, llm-rubric, similar's embedding: 3
    assert:
      - {type: llm-rubric, value: mentions apple}
      - {type: similar, value: apple, threshold: 0.1}
  - vars: {word: pear}           # answer, g-eval x2, questions + embedding, factuality, qa: 7
    assert:
      - {type: g-eval, value: [clear, short]}
      - {type: answer-relevance, threshold: 0}
      - {type: factuality, value: pear}
      - {type: model-graded-closedqa, value: says pear}
  - vars: {word: plum}           # answer, a set of similar and llm-rubric: 3
    assert:
      - type: assert-set
        assert: [{type: similar, value: plum, threshold: 0.1}, {type: llm-rubric, value: ok}]
  - vars: {word: fig}            # answer only: 1
    assert:
      - {type: contains, value: fig}
"""
CALLS = 3 + 7 + 3 + 1
EMBEDDINGS = 3


def promptloop(root: Path, stub: Any, *args: str) -> Any:
    env = cli_env(OPENAI_API_KEY="sk-graded-test", OPENAI_BASE_URL=stub.base_url)
    return run_promptloop(root, *args, env=env)


def forecast_calls(stdout: str) -> tuple[int, int]:
    found = re.search(r"Forecast: (\d+) model calls? \((\d+) more answered by the cache", stdout)
    assert found is not None, stdout
    return int(found.group(1)), int(found.group(2))


def results(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "out" / "results.json").read_text())
    return data


def embedding_requests(stub: Any) -> int:
    return sum(1 for body in stub.bodies if "input" in body and "messages" not in body)


def test_estimate_on_a_promptfoo_config_counts_its_graders_calls(stub: Any, tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(CONFIG)

    estimate = promptloop(root, stub, "run", "--estimate")
    assert estimate.returncode == 0, estimate.stderr
    assert stub.snapshot()["requests"] == 0
    assert forecast_calls(estimate.stdout) == (CALLS, 0)

    ran = promptloop(root, stub, "run", "-o", "out", "-q", "--max-calls", "100")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert stub.snapshot()["requests"] == CALLS
    assert embedding_requests(stub) == EMBEDDINGS
    data = results(root)
    assert data["forecast"]["calls"] == CALLS
    # Embedding calls are calls: counted in the usage and against the budget.
    assert data["usage"]["model_calls"] == CALLS
    assert data["budget"]["spent_calls"] == CALLS


def test_a_budget_stops_before_an_embedding_it_cannot_afford(stub: Any, tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(CONFIG)
    ran = promptloop(
        root, stub, "run", "-o", "out", "-q", "--max-calls", str(CALLS - 1), "--concurrency", "1"
    )
    # The run never crosses its budget, embeddings included, and says so.
    assert stub.snapshot()["requests"] <= CALLS - 1
    data = results(root)
    assert data["budget"]["spent_calls"] == stub.snapshot()["requests"]
    assert data["budget"]["refused"] is not None
    assert ran.returncode != 0
