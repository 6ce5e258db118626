from pathlib import Path

from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.dataset.splits import split_cases
from promptloop.project.loaded import load_config
from promptloop.project.rendering import check_variables


def test_init_writes_a_project_that_loads_and_checks(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    loaded = load_config(tmp_path / "promptloop.yaml")
    suite = loaded.config.suites[0]
    cases = loaded.load_cases(suite)
    assert len(cases) == 12
    assert check_variables(loaded.load_prompt(suite), cases) == []
    # Every case has a name a person can type back: an id, not a content hash.
    raw_ids = (tmp_path / "evals" / "summaries.jsonl").read_text().count('"id": ')
    assert raw_ids == 12
    assert "budget" in [c.id for c in cases]


def test_init_project_has_cases_for_every_split_optimize_needs(tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["init", str(tmp_path)])
    loaded = load_config(tmp_path / "promptloop.yaml")
    cases = loaded.load_cases(loaded.config.suites[0])
    splits = split_cases(cases, loaded.config.splits.ratios())
    assert len(splits["train"]) >= 4 and len(splits["val"]) >= 2 and splits["test"]


def test_init_ignores_the_cache_and_results_in_git(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert f"created {tmp_path / '.gitignore'}" in result.output
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert ".promptloop/" in lines and "promptloop-results/" in lines


def test_init_adds_to_an_existing_gitignore_without_losing_it(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.promptloop/")
    CliRunner().invoke(cli, ["init", str(tmp_path)])
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/"
    assert lines.count(".promptloop/") == 1 and "promptloop-results/" in lines


def test_init_says_what_to_run_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "new")])
    assert f"Next: cd {tmp_path / 'new'} && promptloop run" in result.output


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "promptloop.yaml").write_text("suites: []\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert (tmp_path / "promptloop.yaml").read_text() == "suites: []\n"
    assert not (tmp_path / ".gitignore").exists()
