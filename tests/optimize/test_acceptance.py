"""The optimizer's acceptance rule on its two less travelled branches, through `promptloop
optimize` with scripted models (the real scorer, splits and evaluators): a revision with more
passing validation cases but a lower mean score is rejected, and a revision that wins on
validation but loses on the held-out test is reported with the loss in plain figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.dataset.splits import split_of
from promptloop.models.scripted import register_script
from tests.support import copy_project

# The greetings project: 24 people, each case's score the mean of names-the-person and short
# (at most 8 words); the default splits put 10 in train, 6 in validation, 8 in test.
RATIOS = (0.5, 0.25, 0.25)
NAMING = "Write a one-line greeting for a new customer called {{ name }}.\nAddress them by name.\n"
RAMBLE = "Hello there, and welcome to our shop, we are so very glad you came today."


@pytest.fixture
def project(tmp_path: Path, clean_scripts: None) -> Path:
    return copy_project("greetings", tmp_path)


def splits_by_name(project: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (project / "evals" / "people.jsonl").open()]
    return {row["name"]: split_of(row["id"], RATIOS) for row in rows}


def greeter(answer: Any) -> Any:
    """The model under test: ``answer(prompt_text, name)`` for the person the prompt names."""

    def reply(call: dict[str, Any]) -> str:
        text = str(call["messages"][-1]["content"])
        found = re.search(r"called (\w+)", text)
        assert found is not None, text
        return str(answer(text, found.group(1)))

    return reply


def propose(revision: str) -> None:
    register_script(
        "optimizer",
        [f"<rationale>Name the customer.</rationale>\n<prompt>\n{revision}</prompt>"],
    )


def optimize(project: Path) -> tuple[Any, dict[str, Any]]:
    res = CliRunner().invoke(
        cli,
        ["optimize", "--dir", str(project), "-o", str(project / "out"), "--rounds", "1"],
        catch_exceptions=False,
    )
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    return res, payload


def test_more_passes_but_a_lower_mean_score_is_rejected(project: Path) -> None:
    split = splits_by_name(project)
    [first_val, *other_val] = [name for name, s in split.items() if s == "val"]
    assert len(other_val) == 5

    def answer(prompt: str, name: str) -> str:
        if "by name" not in prompt:
            return "Hello, welcome!"  # short but nameless: 1 of 2 evaluators, score 0.5
        # The revision names one validation person and rambles, nameless, at the rest: one
        # more pass, five cases from 0.5 down to 0.
        return f"Hello {name}, welcome aboard." if name == first_val else RAMBLE

    register_script("greeter", greeter(answer))
    propose(NAMING)
    res, payload = optimize(project)

    assert res.exit_code == 0, res.output
    assert payload["status"] == "no_improvement"
    [candidate] = payload["trajectory"]
    assert not candidate["accepted"]
    assert (candidate["fixed"], candidate["broken"]) == (1, 0)
    assert candidate["why"].startswith("more passes but a lower mean score (fixed 1, broken 0")
    assert "mean 0.500 → 0.167" in candidate["why"]
    assert (candidate["val_before"]["passes"], candidate["val_after"]["passes"]) == (0, 1)
    assert not (project / "prompts" / "greet.optimized.md").exists()
    assert "nothing is suggested" in res.output


def test_a_revision_that_wins_on_validation_but_loses_on_test_is_reported_as_losing(
    project: Path,
) -> None:
    split = splits_by_name(project)
    tested = sorted(name for name, s in split.items() if s == "test")
    assert len(tested) == 8

    def answer(prompt: str, name: str) -> str:
        if "by name" not in prompt:
            # The seed happens to serve the held-out people well, and no one else.
            return f"Hello {name}, welcome aboard." if name in tested else "Hello, welcome!"
        # The revision serves everyone the optimizer could see, and fails the held-out.
        return RAMBLE if name in tested else f"Hello {name}, welcome aboard."

    register_script("greeter", greeter(answer))
    propose(NAMING)
    res, payload = optimize(project)

    assert res.exit_code == 0, res.output
    # Chosen on validation, as the rule says (6 fixed, 0 broken there)...
    [candidate] = payload["trajectory"]
    assert candidate["accepted"] and (candidate["fixed"], candidate["broken"]) == (6, 0)
    assert payload["status"] == "improved"
    # ...and the held-out test, never shown to the optimizer, says plainly that it lost.
    scores = payload["scores"]
    assert (scores["test_before"]["passes"], scores["test_after"]["passes"]) == (8, 0)
    assert (scores["test_fixed"], scores["test_broken"]) == (0, 8)
    assert (
        "Held-out test (never shown to the optimizer): 8/8 → 0/8 passes, fixed 0, broken 8"
        in payload["rationale"]
    )
    assert "8/8 (100.0%)" in res.output and "0/8 (0.0%)" in res.output
    assert "Held-out test: 0 fixed, 8 broken" in res.output
