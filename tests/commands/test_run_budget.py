"""One budget per command: `run_budget` makes it from the command line over the config, or
hands back the one the command already holds, and the run spends from exactly that one."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptloop.commands.run import (
    ProjectQuery,
    RunOptions,
    execute_run,
    project_for,
    run_budget,
)
from promptloop.models.budget import Budget, BudgetLimits
from promptloop.models.scripted import register_script, script_calls
from tests.support import copy_project


@pytest.fixture
def project(tmp_path: Path, clean_scripts: None) -> Path:
    root = copy_project("sentiment", tmp_path)
    register_script("sentiment", lambda call: "positive")
    return root


def _with_budget_written(root: Path, budget: str) -> None:
    config = root / "promptloop.yaml"
    config.write_text(config.read_text().replace("seed: 7\n", f"seed: 7\n{budget}"))


def test_no_limit_anywhere_is_no_budget(project: Path) -> None:
    opts, query = RunOptions(no_cache=True), ProjectQuery(start_dir=project)
    assert run_budget(opts, project_for(query)) is None
    assert execute_run(opts, project_for(query)).budget is None


def test_the_command_line_wins_over_the_config_limit_by_limit(project: Path) -> None:
    _with_budget_written(project, "budget:\n  max_usd: 2\n  max_calls: 50\n")
    opts = RunOptions(max_calls=5)
    budget = run_budget(opts, project_for(ProjectQuery(start_dir=project)))
    assert budget is not None
    assert budget.limits == BudgetLimits(max_usd=2, max_calls=5)


def test_a_budget_the_command_holds_is_the_one_the_run_spends(project: Path) -> None:
    # `ci` holds one for the run and the optimizer: the config's limit does not replace it.
    _with_budget_written(project, "budget:\n  max_calls: 1\n")
    held = Budget(BudgetLimits(max_calls=1000))
    opts = RunOptions(no_cache=True, budget=held)
    loaded = project_for(ProjectQuery(start_dir=project))
    assert run_budget(opts, loaded) is held
    result = execute_run(opts, loaded)
    calls = len(script_calls("sentiment"))
    assert calls > 1
    assert held.spent.calls == calls
    assert result.budget is not None
    assert (result.budget.max_calls, result.budget.spent_calls) == (1000, calls)
    assert not result.incomplete
