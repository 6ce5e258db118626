from pathlib import Path

from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.project.loader import load_config
from promptloop.project.prompts import check_variables


def test_init_writes_a_project_that_loads_and_checks(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    loaded = load_config(tmp_path / "promptloop.yaml")
    suite = loaded.config.suites[0]
    cases = loaded.load_cases(suite)
    assert len(cases) == 3
    assert check_variables(loaded.load_prompt(suite), cases) == []


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "promptloop.yaml").write_text("suites: []\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert (tmp_path / "promptloop.yaml").read_text() == "suites: []\n"
