"""The forecast on a warm cache: after a run, `run --estimate` counts only the calls the
cache cannot answer, so it equals what the next run sends. Driven through the CLI against
the OpenAI-compatible stub on loopback, which counts every request (chat and embeddings)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli_env, load_stub, run_promptloop

# One answer per case, then its graders: llm-rubric's verdict, answer-relevance's question
# call (a chat call the cache keeps) and its embedding (embeddings are never cached),
# similar's embedding.
CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: answer-relevance, threshold: 0}
      - {type: llm-rubric, value: mentions apple}
  - vars: {word: pear}
    assert:
      - {type: answer-relevance, threshold: 0}
      - {type: similar, value: pear, threshold: 0.1}
"""
FIRST_RUN = (1 + 3) + (1 + 3)
# Warm: only the three embeddings go out again.
SECOND_RUN = 3


# The model answers by calling a tool: the graders read the call, as promptfoo shows it.
TOOL_CONFIG = """\
prompts: ['Look up {{word}}.']
providers:
  - id: openai:gpt-4o-mini
    config:
      tools:
        - type: function
          function:
            name: lookup
            parameters: {type: object, properties: {q: {type: string}}}
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: answer-relevance, threshold: 0}
      - {type: llm-rubric, value: looks up apple}
"""


@pytest.fixture
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(
        module.StubConfig(tool_rules=(("Look up (\\w+)", "lookup", '{"q": "\\1"}'),))
    )
    server.start()
    yield server
    server.stop()


def _promptloop(root: Path, stub: Any, *args: str) -> Any:
    env = cli_env(OPENAI_API_KEY="sk-warm-test", OPENAI_BASE_URL=stub.base_url)
    done = run_promptloop(root, *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _forecast(stdout: str) -> tuple[int, int]:
    found = re.search(r"Forecast: (\d+) model calls? \((\d+) more answered by the cache", stdout)
    assert found is not None, stdout
    return int(found.group(1)), int(found.group(2))


def test_the_estimate_after_a_run_counts_what_the_next_run_sends(stub: Any, tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(CONFIG)

    assert _forecast(_promptloop(root, stub, "run", "--estimate").stdout) == (FIRST_RUN, 0)
    _promptloop(root, stub, "run", "-o", "out", "-q")
    assert stub.snapshot()["requests"] == FIRST_RUN

    calls, cached = _forecast(_promptloop(root, stub, "run", "--estimate").stdout)
    assert stub.snapshot()["requests"] == FIRST_RUN  # the estimate asked no model
    before = stub.snapshot()["requests"]
    # A budget of the estimate is enough: a case holds room only for what the cache lacks.
    _promptloop(root, stub, "run", "-o", "out", "-q", "--max-calls", str(SECOND_RUN))
    sent = stub.snapshot()["requests"] - before
    assert sent == SECOND_RUN
    assert calls == sent
    # Both answers, the rubric's verdict and both question calls come from the cache.
    assert cached == FIRST_RUN - SECOND_RUN


def test_an_answer_that_calls_a_tool_is_graded_from_the_cache_as_it_was_sent(
    stub: Any, tmp_path: Path
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(TOOL_CONFIG)
    _promptloop(root, stub, "run", "-o", "out", "-q")
    # The answer, the rubric's verdict, the questions and their embedding.
    assert stub.snapshot()["requests"] == 4
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    assert [call["name"] for call in suite["cases"][0]["tool_calls"]] == ["lookup"]

    calls, cached = _forecast(_promptloop(root, stub, "run", "--estimate").stdout)
    before = stub.snapshot()["requests"]
    _promptloop(root, stub, "run", "-o", "out", "-q")
    assert stub.snapshot()["requests"] - before == 1  # the embedding alone
    assert (calls, cached) == (1, 3)


# The graders read the output after its transforms: an assertion's own `transform`, the
# test's `options.transform` (before the assertion's), a Python file's, inside an assert-set.
TRANSFORM_CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: llm-rubric, value: mentions apple, transform: output.toUpperCase()}
      - {type: answer-relevance, threshold: 0, transform: "'Q: ' + output"}
  - vars: {word: pear}
    options: {transform: "output + ' (' + context.vars.word + ')'"}
    assert:
      - {type: llm-rubric, value: mentions pear}
      - {type: llm-rubric, value: shouts pear, transform: "file://shout.py"}
      - type: assert-set
        assert: [{type: llm-rubric, value: is short, transform: output.length}]
"""
SHOUT = "def get_transform(output, context):\n    return output.upper() + '!'\n"
# A result JSON cannot carry: the grader cannot read it.
ODD = "def get_transform(output, context):\n    return {output}\n"
# Answers 2, verdicts 4 (one for apple, three for pear), answer-relevance's questions and
# its embedding 2.
TRANSFORM_FIRST_RUN = 8


def _transformed_project(tmp_path: Path, config: str) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(config)
    (root / "shout.py").write_text(SHOUT)
    (root / "odd.py").write_text(ODD)
    return root


def test_the_estimate_reads_the_cache_for_the_transformed_output(
    serve: Any, tmp_path: Path
) -> None:
    stub, _ = serve()
    root = _transformed_project(tmp_path, TRANSFORM_CONFIG)
    _promptloop(root, stub, "run", "-o", "out", "-q")
    assert stub.snapshot()["requests"] == TRANSFORM_FIRST_RUN
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    assert all(e["error"] is None for c in suite["cases"] for e in c["evaluations"])

    calls, cached = _forecast(_promptloop(root, stub, "run", "--estimate").stdout)
    assert stub.snapshot()["requests"] == TRANSFORM_FIRST_RUN  # the estimate asked no model
    # Every verdict and the questions are cached: only the embedding goes out again.
    assert (calls, cached) == (1, TRANSFORM_FIRST_RUN - 1)
    # A budget of exactly the estimate lets the run finish, and it sends that many.
    _promptloop(root, stub, "run", "-o", "out", "-q", "--max-calls", str(calls))
    assert stub.snapshot()["requests"] - TRANSFORM_FIRST_RUN == calls
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    assert not any(c.get("not_run") for c in suite["cases"])
    assert all(e["error"] is None for c in suite["cases"] for e in c["evaluations"])


# A transform that throws: the run records the grader's error and sends it nothing.
FAILING_TRANSFORM_CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: llm-rubric, value: mentions apple, transform: output.nothing.here}
      - {type: llm-rubric, value: mentions apples, transform: "file://odd.py"}
      - {type: llm-rubric, value: names a fruit}
"""


def test_a_transform_that_fails_counts_its_graders_calls_as_uncached(
    serve: Any, tmp_path: Path
) -> None:
    stub, _ = serve()
    root = _transformed_project(tmp_path, FAILING_TRANSFORM_CONFIG)
    env = cli_env(OPENAI_API_KEY="sk-warm-test", OPENAI_BASE_URL=stub.base_url)
    # An evaluator that could not judge ends the run with exit code 2, as it should.
    assert run_promptloop(root, "run", "-o", "out", "-q", env=env).returncode == 2
    assert stub.snapshot()["requests"] == 2  # the answer and the plain rubric's verdict
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    failed = [e["error"] for e in suite["cases"][0]["evaluations"] if e["error"] is not None]
    assert len(failed) == 2 and "TypeError" in failed[0], failed

    estimate = _promptloop(root, stub, "run", "--estimate")
    # The estimate does not fail nor report the transform's error (the run does): it
    # counts the graders' verdicts as calls the cache cannot answer, the safe side.
    assert _forecast(estimate.stdout) == (2, 2)
    assert "TypeError" not in estimate.stdout + estimate.stderr
    again = run_promptloop(root, "run", "-o", "out", "-q", "--max-calls", "2", env=env)
    assert again.returncode == 2, again.stdout + again.stderr
    assert stub.snapshot()["requests"] == 2
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    assert not suite["cases"][0].get("not_run")
