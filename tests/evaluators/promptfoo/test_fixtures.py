"""Every assertion in promptfoo's example configs (tests/fixtures/promptfoo, MIT, from the
promptfoo repository) builds, and grades outputs as promptfoo would. The python-assert
example's files are written here, to the same contract (``get_assert(output, context)``,
assertion ``config``), not copied."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext
from promptloop.evaluators.promptfoo import build_assertion
from tests.evaluators.promptfoo.support import NoJudge

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "promptfoo"


def items(config: dict[str, Any]) -> list[dict[str, Any]]:
    found = list((config.get("defaultTest") or {}).get("assert") or [])
    tests = config.get("tests")
    for test in tests if isinstance(tests, list) else []:
        found.extend(test.get("assert") or [])
    return found


# promptfoo's own examples; the configs under truth/ hold deliberately malformed items and
# are graded against promptfoo's recorded verdicts in tests/promptfoo/test_truth.py.
EXAMPLES = sorted(
    p.relative_to(FIXTURES).as_posix()
    for p in FIXTURES.rglob("*.yaml")
    if p.relative_to(FIXTURES).parts[0] not in ("truth", "verdicts")
)


@pytest.mark.parametrize("config", EXAMPLES)
def test_every_fixture_assertion_builds(config: str, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / Path(config).parent, tmp_path, dirs_exist_ok=True)
    write_python_asserts(tmp_path)
    data = yaml.safe_load((FIXTURES / config).read_text())
    for raw in items(data):
        build_assertion(raw, base_dir=tmp_path, where=f"{config}:1")


def write_python_asserts(folder: Path) -> None:
    (folder / "assert.py").write_text(
        "def get_assert(output, context):\n"
        "    return {'pass': context['vars']['topic'].split()[0] in output.lower(),\n"
        "            'score': 0.75, 'reason': 'names the topic'}\n"
    )
    (folder / "assert_with_config.py").write_text(
        "def get_assert(output, context):\n"
        "    fruits = context.get('config', {}).get('fruitList', [])\n"
        "    return any(fruit in output.lower() for fruit in fruits)\n"
    )


def grade(raw: dict[str, Any], output: str, vars: dict[str, Any], folder: Path, **kw: Any) -> Any:
    evaluator = build_assertion(raw, base_dir=folder, where="promptfooconfig.yaml:1", **kw)
    ctx = EvalContext(judge=NoJudge(), judge_model="unused", prompt_text="p")
    return asyncio.run(evaluator.evaluate(output, Case(id="c", vars=vars), ctx))


def test_json_output_example() -> None:
    config = yaml.safe_load((FIXTURES / "json-output" / "promptfooconfig.yaml").read_text())
    first, second = config["tests"]
    banana = '{"color": "yellow", "countries": ["Ecuador", "India"]}'
    results = [grade(a, banana, first["vars"], FIXTURES) for a in first["assert"]]
    assert [r.passed for r in results] == [True, True]
    passion = '{"color": "purple", "countries": ["Brazil", "India"]}'
    transform = second["options"]["transform"]
    results = [
        grade(a, passion, second["vars"], FIXTURES, output_transform=transform)
        for a in second["assert"]
    ]
    assert [r.passed for r in results] == [True, True, True]
    wrong = '{"color": "green", "countries": ["Peru"]}'
    results = [
        grade(a, wrong, second["vars"], FIXTURES, output_transform=transform)
        for a in second["assert"]
    ]
    assert [r.passed for r in results] == [True, False, False]


def test_python_assert_examples(tmp_path: Path) -> None:
    write_python_asserts(tmp_path)
    external = yaml.safe_load(
        (FIXTURES / "python-assert" / "promptfooconfig-external.yaml").read_text()
    )
    first = external["tests"][0]
    result = grade(first["assert"][0], "Yellow bananas, lemons", first["vars"], tmp_path)
    assert (result.passed, result.score, result.reason) == (True, 0.75, "names the topic")
    last = external["tests"][-1]
    verdicts = [grade(a, "Pineapple and guava", last["vars"], tmp_path) for a in last["assert"]]
    assert [v.passed for v in verdicts] == [True, False]
    inline = yaml.safe_load(
        (FIXTURES / "python-assert" / "promptfooconfig-inline.yaml").read_text()
    )
    bananas, potatoes = inline["tests"]
    assert grade(bananas["assert"][0], "I love bananas", bananas["vars"], tmp_path).passed
    exact = grade(potatoes["assert"][0], "Expected output", potatoes["vars"], tmp_path)
    assert (exact.passed, exact.score, exact.reason) == (True, 0.5, "Looks good to me")
    other = grade(potatoes["assert"][0], "Something else", potatoes["vars"], tmp_path)
    assert (other.passed, other.score) == (False, 0.0)


def test_self_grading_length_score() -> None:
    config = yaml.safe_load((FIXTURES / "self-grading" / "promptfooconfig.yaml").read_text())
    scoring = config["defaultTest"]["assert"][1]
    short = grade(scoring, "x" * 50, {}, FIXTURES)
    assert (short.passed, short.score) == (True, 1.0)
    long = grade(scoring, "x" * 1000, {}, FIXTURES)
    assert (long.passed, long.score) == (False, 0.0)  # Math.max(0, ...) is 0: not above 0
