"""Every file a config or a dataset names stays inside the project: a pull request that points
a prompt, a dataset, a var, a schema or a check at ``../``, an absolute path or a symlink
leading out (``/proc/self/environ``, ``~/.ssh/id_rsa``, a runner's secret file) is refused
with one line naming the config's file:line and key, before any model is called."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptloop.cli import cli

SECRET = "sk-runner-secret-0123456789"

# The project: a prompt, a dataset, a schema, a check and text files, all in the folder.
PROMPT = "Repeat the word {{ word }}.\n"
ROW = json.dumps({"id": "w0", "word": "apple"}) + "\n"
SCHEMA = '{"type": "object"}\n'
CHECK = "def check(output, case):\n    return True\n"
CHECK_PF = "def get_assert(output, context):\n    return True\n"
TRANSFORM = "def get_transform(vars, context):\n    return vars\n"
TESTS_YAML = "- vars: {word: apple}\n"
VARS_YAML = "word: apple\n"


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "prompts").mkdir(parents=True)
    (project / "evals").mkdir()
    files = {
        "prompts/echo.md": PROMPT,
        "prompts/echo.txt": PROMPT,
        "evals/words.jsonl": ROW,
        "evals/schema.json": SCHEMA,
        "evals/check.py": CHECK,
        "evals/pf_check.py": CHECK_PF,
        "evals/tests.yaml": TESTS_YAML,
        "evals/vars.yaml": VARS_YAML,
        "evals/word.txt": "apple\n",
        "evals/feedback.jsonl": "",
    }
    for name, text in files.items():
        (project / name).write_text(text)
    return project


def _promptloop(prompt: str, dataset: str, extra: str = "", evaluators: str = "") -> str:
    return (
        "model: openai/stub\napi_base: http://127.0.0.1:9/v1\nretries: 0\n"
        "suites:\n"
        "  - name: echo\n"
        f"    prompt: {prompt}\n"
        f"    dataset: {dataset}\n"
        f"{extra}"
        "    evaluators:\n"
        f"      - contains: apple\n{evaluators}"
    )


def _promptfoo(prompts: str = "file://prompts/echo.txt", tests: str = "", default: str = "") -> str:
    return (
        "providers: [openai:gpt-4o-mini]\n"
        f"prompts: [{prompts}]\n"
        f"{default}"
        f"tests:\n{tests or '  - vars: {word: apple}'}\n"
    )


# Each kind of reference: (config file, how to write it around a path, the escaping file's
# name and content, the key the refusal names).
Kind = tuple[str, Callable[[str], str], str, str, str]
KINDS: dict[str, Kind] = {
    "prompt": (
        "promptloop.yaml",
        lambda p: _promptloop(p, "evals/words.jsonl"),
        "echo.md",
        PROMPT,
        "suites[0].prompt",
    ),
    "dataset": (
        "promptloop.yaml",
        lambda p: _promptloop("prompts/echo.md", p),
        "words.jsonl",
        ROW,
        "suites[0].dataset",
    ),
    "feedback": (
        "promptloop.yaml",
        lambda p: _promptloop("prompts/echo.md", "evals/words.jsonl", f"    feedback: {p}\n"),
        "feedback.jsonl",
        "",
        "suites[0].feedback",
    ),
    "json-schema": (
        "promptloop.yaml",
        lambda p: _promptloop(
            "prompts/echo.md", "evals/words.jsonl", evaluators=f"      - json-schema: {p}\n"
        ),
        "schema.json",
        SCHEMA,
        "suites[0].evaluators[1].json-schema",
    ),
    "python": (
        "promptloop.yaml",
        lambda p: _promptloop(
            "prompts/echo.md", "evals/words.jsonl", evaluators=f"      - python: {p}:check\n"
        ),
        "check.py",
        CHECK,
        "suites[0].evaluators[1].python",
    ),
    "pf-prompt": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(prompts=f"file://{p}"),
        "echo.txt",
        PROMPT,
        "prompts[0]",
    ),
    "pf-tests": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(tests=f"  - file://{p}"),
        "tests.yaml",
        TESTS_YAML,
        "tests[0]",
    ),
    "pf-var": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(tests=f"  - vars: {{word: 'file://{p}'}}"),
        "word.txt",
        SECRET,
        "vars.word",
    ),
    "pf-vars-file": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(tests=f"  - vars: file://{p}"),
        "vars.yaml",
        VARS_YAML,
        "tests[0].vars",
    ),
    "pf-default-test": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(default=f"defaultTest: file://{p}\n"),
        "default.yaml",
        "assert: [{type: contains, value: apple}]\n",
        "defaultTest",
    ),
    "pf-assert-value": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(
            tests=f"  - vars: {{word: apple}}\n    assert: [{{type: equals, value: 'file://{p}'}}]"
        ),
        "word.txt",
        SECRET,
        "equals",
    ),
    "pf-schema": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(
            tests=f"  - vars: {{word: apple}}\n    assert: [{{type: is-json, value: 'file://{p}'}}]"
        ),
        "schema.json",
        SCHEMA,
        "is-json",
    ),
    "pf-python": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(
            tests=f"  - vars: {{word: apple}}\n    assert: [{{type: python, value: 'file://{p}'}}]"
        ),
        "pf_check.py",
        CHECK_PF,
        "python",
    ),
    "pf-transform": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(
            tests="  - vars: {word: apple}\n"
            f"    assert: [{{type: contains, value: apple, transform: 'file://{p}'}}]"
        ),
        "transform.py",
        TRANSFORM,
        "contains",
    ),
    "pf-transform-vars": (
        "promptfooconfig.yaml",
        lambda p: _promptfoo(
            tests=f"  - vars: {{word: apple}}\n    options: {{transformVars: 'file://{p}'}}"
        ),
        "transform.py",
        TRANSFORM,
        "transformVars",
    ),
}

# The same file, inside the project: it loads.
INSIDE = {
    "prompt": "prompts/echo.md",
    "dataset": "evals/words.jsonl",
    "feedback": "evals/feedback.jsonl",
    "json-schema": "evals/schema.json",
    "python": "evals/check.py",
    "pf-prompt": "prompts/echo.txt",
    "pf-tests": "evals/tests.yaml",
    "pf-var": "evals/word.txt",
    "pf-vars-file": "evals/vars.yaml",
    "pf-default-test": "evals/default.yaml",
    "pf-assert-value": "evals/word.txt",
    "pf-schema": "evals/schema.json",
    "pf-python": "evals/pf_check.py",
    "pf-transform": "evals/transform.py",
    "pf-transform-vars": "evals/transform.py",
}


def _load(project: Path, config: str) -> tuple[int, str]:
    """`promptloop run --estimate` loads everything and spends nothing."""
    result = CliRunner().invoke(
        cli, ["run", str(project), "--estimate", "-o", str(project / "out")], catch_exceptions=False
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "symlink"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_path_leading_out_of_the_project_is_refused_with_one_line(
    tmp_path: Path, kind: str, escape: str
) -> None:
    config, write, name, content, key = KINDS[kind]
    project = _project(tmp_path)
    outside = tmp_path / "secrets" / name
    outside.parent.mkdir()
    outside.write_text(content)
    if escape == "dotdot":
        written = f"../secrets/{name}"
    elif escape == "absolute":
        written = str(outside)
    else:
        (project / "evals" / f"link-{name}").symlink_to(outside)
        written = f"evals/link-{name}"
    (project / config).write_text(write(written))

    code, err = _load(project, config)

    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    line = lines[0]
    assert "points outside the project" in line
    assert "move the file into the repository" in line
    assert key in line
    assert re.search(re.escape(config) + r":\d+", line), line
    assert SECRET not in line


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_same_reference_inside_the_project_loads(tmp_path: Path, kind: str) -> None:
    config, write, _, content, _ = KINDS[kind]
    project = _project(tmp_path)
    (project / INSIDE[kind]).write_text(content)
    (project / config).write_text(write(INSIDE[kind]))

    code, err = _load(project, config)

    assert code == 0, err
    assert "points outside" not in err


def test_a_symlink_inside_the_git_work_tree_is_followed(tmp_path: Path) -> None:
    """The root is the git work tree, not the config's folder: a config in a subfolder may
    name a shared file elsewhere in the repository, through ``..`` or a symlink."""
    repo = tmp_path / "repo"
    project = _project(repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shared = repo / "shared"
    shared.mkdir()
    (shared / "words.jsonl").write_text(ROW)
    (project / "evals" / "shared.jsonl").symlink_to(shared / "words.jsonl")
    (project / "promptloop.yaml").write_text(
        _promptloop("prompts/echo.md", "../shared/words.jsonl")
    )
    assert _load(project, "promptloop.yaml")[0] == 0
    (project / "promptloop.yaml").write_text(_promptloop("prompts/echo.md", "evals/shared.jsonl"))
    assert _load(project, "promptloop.yaml")[0] == 0
    # ...and still nothing above the repository.
    (tmp_path / "words.jsonl").write_text(ROW)
    (project / "promptloop.yaml").write_text(_promptloop("prompts/echo.md", "../../words.jsonl"))
    code, err = _load(project, "promptloop.yaml")
    assert code == 2
    assert "points outside the project" in err
