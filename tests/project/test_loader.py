"""Loading the project once: each evaluator is built there, and a bad one is one line
naming promptloop.yaml, its line and its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import promptloop.project.evaluator_checks as checks_module
import promptloop.project.loader as loader_module
from promptloop.errors import UserError
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.project.evaluator_checks import build_evaluators
from promptloop.project.loaded import load_config
from promptloop.project.loader import load_project, project_from
from tests.project.test_config import BASE


def _write(tmp_path: Path, text: str, folder: str = ".") -> Path:
    path = tmp_path / folder / "promptloop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_bad_evaluator_args_from_the_registry_get_file_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, Any, Path]] = []

    def build(spec: EvaluatorSpec, base_dir: Path) -> None:
        seen.append((spec.kind, spec.args, base_dir))
        if spec.kind == "contains":
            raise ValueError("contains needs a string, got a number")

    monkeypatch.setattr(checks_module, "build_evaluator", build)
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, BASE.replace('contains: "!"', "contains: 5"), "cfg")
    with pytest.raises(UserError) as info:
        build_evaluators(load_config(Path("cfg/promptloop.yaml")), 0)
    assert str(info.value) == (
        "cfg/promptloop.yaml:8: suites[0].evaluators[1].contains: "
        "contains needs a string, got a number"
    )
    assert seen[0] == ("icontains", "{{ product }}", Path("cfg"))


def test_real_registry_rejects_a_bad_regex_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, BASE.replace('contains: "!"', 'regex: "("'))
    with pytest.raises(UserError) as info:
        build_evaluators(load_config(Path("promptloop.yaml")), 0)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("promptloop.yaml:8: suites[0].evaluators[1].regex: ")
    assert "regex: regex:" not in message and "'('" in message


def _project(tmp_path: Path, config: str, prompt: str = "Tagline for {{ product }}.") -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "tagline.md").write_text(prompt)
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "taglines.jsonl").write_text(
        '{"id": "a", "product": "Acme"}\n{"id": "b", "product": "Bolt"}\n'
    )
    (tmp_path / "evals" / "taglines.feedback.jsonl").write_text(
        '{"case": "a", "output": "sha256:' + "0" * 16 + '", "verdict": "bad", "by": "dana", '
        '"at": "2026-01-01T00:00:00Z", "source": "cli"}\n'
    )
    return _write(tmp_path, config)


def test_each_choice_says_where_it_was_made(tmp_path: Path) -> None:
    config = BASE.replace("model: m\n", "model: m\njudge_model: j\n").replace(
        "    prompt: prompts/tagline.md\n", "    prompt: prompts/tagline.md\n    model: s\n"
    )
    project = load_project(_project(tmp_path, config), env={})
    [plan] = project.plans
    assert plan.model == "s"
    assert plan.model_use is not None and plan.model_use.key == "suites[0].model"
    assert plan.model_use.line == 6
    assert [(u.model, u.key) for u in project.model_uses()] == [
        ("s", "suites[0].model"),
        ("j", "judge_model"),
        ("j", "judge_model"),  # the optimizer falls back to the judge
    ]
    # The command line wins over the suite, the prompt file and the config.
    overridden = load_project(tmp_path / "promptloop.yaml", model="cli", env={})
    assert overridden.plans[0].model_use is not None
    assert (overridden.plans[0].model, overridden.plans[0].model_use.key) == ("cli", "--model")


def test_a_prompt_file_model_is_placed_at_its_line(tmp_path: Path) -> None:
    path = _project(tmp_path, BASE, prompt="---\ntemperature: 0\nmodel: p\n---\nHi {{ product }}")
    use = load_project(path, env={}).plans[0].model_use
    assert use is not None
    assert (use.model, use.line) == ("p", 3)
    assert use.path is not None and use.path.endswith("prompts/tagline.md")


def test_feedback_is_read_once_and_reaches_the_plan(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, BASE), env={})
    [record] = project.plans[0].feedback
    assert (record.case, record.verdict, record.by) == ("a", "bad", "dana")
    assert [e.name for e in project.plans[0].evaluators] == ["icontains", "contains"]


def test_each_evaluator_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = checks_module.build_evaluator

    def counting(spec: EvaluatorSpec, *, base_dir: Path) -> Any:
        built.append(spec.kind)
        return real(spec, base_dir=base_dir)

    monkeypatch.setattr(checks_module, "build_evaluator", counting)
    project = load_project(_project(tmp_path, BASE), env={})
    assert built == ["icontains", "contains"]
    assert len(project.plans[0].evaluators) == 2


def test_a_config_read_once_builds_the_project_with_the_cache_folder_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _project(tmp_path, BASE)
    monkeypatch.chdir(tmp_path)
    loaded = load_config(path, cache_dir=Path("restored/cache"))
    assert loaded.config.cache.enabled
    assert loaded.config.cache.dir == str(tmp_path.resolve() / "restored" / "cache")
    # Nothing the config names is read again as a file: the project keeps the folder.
    monkeypatch.setattr(loader_module, "load_config", None)
    project = project_from(loaded, env={})
    assert project.loaded.config.cache.dir == loaded.config.cache.dir
    assert [plan.name for plan in project.plans] == [s.name for s in loaded.config.suites]
    assert project.plans[0].feedback and len(project.plans[0].evaluators) == 2
