"""The layering holds: import-linter's contracts in pyproject.toml (layers that import only
downwards, no circles between siblings, one importer each for litellm and PyGithub)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import REPO_ROOT


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    cwd = Path.cwd()
    os.chdir(REPO_ROOT)
    try:
        code = lint_imports(config_filename="pyproject.toml", no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BROKEN" not in out and out.count("KEPT") >= 7


def test_every_package_says_what_it_holds_and_may_import() -> None:
    for init in sorted((REPO_ROOT / "src" / "promptloop").glob("*/__init__.py")):
        text = init.read_text(encoding="utf-8")
        assert text.startswith('"""'), f"{init} has no docstring"
        doc = text.split('"""')[1]
        assert "import" in doc.lower(), f"{init}: the docstring should say what it may import"
