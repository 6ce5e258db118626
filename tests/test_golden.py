"""The golden helper cannot be fooled: a missing golden fails instead of writing itself, a
changed render fails, and every screenshot (the README shows one) was taken from the HTML
that is committed beside it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import golden
from tests.support import REPO_ROOT

MARKDOWN = "## promptloop ✅ PASS\n\n**Next:** Nothing.\n"


@pytest.fixture
def not_updating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(golden.UPDATE_VARIABLE, raising=False)


def test_a_missing_golden_fails_and_writes_nothing(tmp_path: Path, not_updating: None) -> None:
    with pytest.raises(AssertionError, match=r"golden pass\.md is missing"):
        golden.check("pass", MARKDOWN, "someone commented", folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_update_variable_writes_and_a_later_change_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(golden.UPDATE_VARIABLE, "1")
    golden.check("pass", MARKDOWN, "someone commented", folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pass.html", "pass.md"]

    monkeypatch.delenv(golden.UPDATE_VARIABLE)
    golden.check("pass", MARKDOWN, "someone commented", folder=tmp_path)
    with pytest.raises(AssertionError, match=r"pass\.md changed"):
        golden.check("pass", MARKDOWN.replace("PASS", "FAIL"), "someone commented", tmp_path)
    # Any other value than 1 is not a request to update.
    monkeypatch.setenv(golden.UPDATE_VARIABLE, "true")
    (tmp_path / "pass.html").unlink()
    with pytest.raises(AssertionError, match=r"golden pass\.html is missing"):
        golden.check("pass", MARKDOWN, "someone commented", folder=tmp_path)


def test_a_deleted_committed_golden_fails_its_check(tmp_path: Path, not_updating: None) -> None:
    copy = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN, copy)
    committed = (copy / "pass-sticky.md").read_text(encoding="utf-8")
    who = re.search(r"<div class='head'>(.*?)</div>", (copy / "pass-sticky.html").read_text())
    assert who is not None
    golden.check("pass-sticky", committed, who.group(1), folder=copy)
    (copy / "pass-sticky.md").unlink()
    with pytest.raises(AssertionError, match="missing"):
        golden.check("pass-sticky", committed, who.group(1), folder=copy)


def test_every_committed_screenshot_was_taken_from_its_current_render() -> None:
    assert golden.stale_screenshots() == [], (
        "take the screenshots again: python -m tests.golden path/to/mermaid.min.js"
    )


def test_a_stale_missing_or_orphaned_screenshot_is_named(tmp_path: Path) -> None:
    copy = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN, copy)
    already = golden.stale_screenshots(copy)  # the test above speaks for the real folder
    html = copy / "fail-sticky.html"
    html.write_text(html.read_text().replace("FAIL", "PASS"))
    (copy / "pass-sticky.png").unlink()
    shutil.copy(copy / "fail-inline.png", copy / "gone.png")
    found = [p for p in golden.stale_screenshots(copy) if p not in already]
    assert found == [
        "fail-sticky.png was not taken from the current fail-sticky.html",
        "pass-sticky.png is missing",
        "gone.png has no gone.html",
    ]


def test_the_readme_shows_only_current_golden_screenshots() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((tests/fixtures/golden/[^)]+\.png)\)", readme)
    assert shown, "the README shows a golden screenshot"
    stale = golden.stale_screenshots()
    for path in shown:
        png = REPO_ROOT / path
        assert png.exists() and png.parent == golden.GOLDEN, path
        assert not [p for p in stale if p.startswith(png.name)], stale


def test_the_screenshot_command_explains_itself_and_checks_its_argument_first() -> None:
    before = {p.name: p.stat().st_mtime_ns for p in golden.GOLDEN.glob("*.png")}
    helped = subprocess.run(
        [sys.executable, "-m", "tests.golden", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert helped.returncode == 0 and "mermaid.min.js" in helped.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "tests.golden", "no-such/mermaid.min.js"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "no-such/mermaid.min.js: no such file" in wrong.stderr
    # Neither took a screenshot.
    assert {p.name: p.stat().st_mtime_ns for p in golden.GOLDEN.glob("*.png")} == before
