"""A promptfoo transform runs once per graded output within a run: the forecast, the room a
case holds in the budget and the grade share its result. Driven through the CLI against the
OpenAI-compatible stub on loopback, with a Python transform that writes a line each time it
is called, as a stateful transform would notice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli_env, run_promptloop

# Each graded output is transformed by count.py: apple's once, pear's twice (two graders,
# one of them inside an assert-set), under the test's options.transform for pear.
CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: llm-rubric, value: mentions apple, transform: "file://count.py"}
      - {type: contains, value: apple}
  - vars: {word: pear}
    options: {transform: "file://count.py:shout"}
    assert:
      - {type: llm-rubric, value: mentions pear}
      - type: assert-set
        assert: [{type: llm-rubric, value: is short, transform: "file://count.py"}]
"""
COUNT = """\
from pathlib import Path

LOG = Path(__file__).with_name("calls.log")


def _called(name, context):
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f"{name} {context['vars']['word']}\\n")


def get_transform(output, context):
    _called("get_transform", context)
    return output


def shout(output, context):
    _called("shout", context)
    return output.upper()
"""
# One line per transform per graded output: apple's own transform; pear's options.transform
# before each of its two rubrics, and the set member's own transform after it.
ONCE = Counter({"get_transform apple": 1, "shout pear": 2, "get_transform pear": 1})
# The answers, then a verdict per rubric: apple 1, pear 2.
FIRST_RUN = 2 + 3


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(CONFIG)
    (root / "count.py").write_text(COUNT)
    return root


def _run(root: Path, stub: Any, *args: str) -> Counter[str]:
    """The transform calls one ``promptloop run`` made, after checking it graded every case."""
    log = root / "calls.log"
    log.unlink(missing_ok=True)
    env = cli_env(OPENAI_API_KEY="sk-once-test", OPENAI_BASE_URL=stub.base_url)
    done = run_promptloop(root, "run", "-o", "out", "-q", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
    assert not any(c.get("not_run") for c in suite["cases"])
    assert all(e["error"] is None for c in suite["cases"] for e in c["evaluations"])
    return Counter(log.read_text().splitlines()) if log.exists() else Counter()


@pytest.mark.parametrize("budget", [(), ("--max-calls", "20")], ids=["unbudgeted", "budgeted"])
def test_each_graded_output_is_transformed_once(
    stub: Any, tmp_path: Path, budget: tuple[str, ...]
) -> None:
    root = _project(tmp_path)
    # Cold: the answers are not known before they are asked for.
    assert _run(root, stub, *budget) == ONCE
    assert stub.snapshot()["requests"] == FIRST_RUN
    # Warm: the forecast and the budget's hold see the cached answers and their graders'
    # requests on the transformed output; the grade reuses what they computed.
    assert _run(root, stub, *budget) == ONCE
    assert stub.snapshot()["requests"] == FIRST_RUN  # every call answered by the cache


# A transform that fails, each time after writing its line: the grade reports the failure
# the forecast and the hold met, without running it again.
FAILING_CONFIG = """\
prompts: ['Say the word {{word}}.']
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: openai:gpt-4o-mini}
tests:
  - vars: {word: apple}
    assert:
      - {type: llm-rubric, value: mentions apple, transform: "file://count.py:fails"}
      - {type: llm-rubric, value: names a fruit}
"""
FAILS = """\
def fails(output, context):
    with open(__file__.replace("count.py", "calls.log"), "a", encoding="utf-8") as log:
        log.write("fails\\n")
    raise RuntimeError("no " + context["vars"]["word"] + " today")
"""


def test_a_failing_transform_runs_once_and_its_error_is_reported_once(
    stub: Any, tmp_path: Path
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "promptfooconfig.yaml").write_text(FAILING_CONFIG)
    (root / "count.py").write_text(FAILS)
    env = cli_env(OPENAI_API_KEY="sk-once-test", OPENAI_BASE_URL=stub.base_url)
    log = root / "calls.log"
    for budget in ((), ("--max-calls", "5")):  # cold, then warm under a budget
        log.unlink(missing_ok=True)
        done = run_promptloop(root, "run", "-o", "out", "-q", *budget, env=env)
        assert done.returncode == 2, done.stdout + done.stderr  # an evaluator could not judge
        assert log.read_text().splitlines() == ["fails"]
        [suite] = json.loads((root / "out" / "results.json").read_text())["suites"]
        [case] = suite["cases"]
        assert not case.get("not_run")
        errors = [e["error"] for e in case["evaluations"] if e["error"] is not None]
        assert len(errors) == 1 and "RuntimeError: no apple today" in errors[0], errors
    # The answer and the plain rubric's verdict, once; the failed grader sent nothing.
    assert stub.snapshot()["requests"] == 2
