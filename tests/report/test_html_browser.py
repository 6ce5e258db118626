"""report.html in a real browser: Debian's headless Chromium, driven by Playwright.

What a reviewer sees: the filters change the rows, the diff marks the changed words, the
hostile outputs stay text and run nothing, the page asks the network for nothing, and the
keyboard alone gets around. `.ci/run` installs Chromium; without it these tests skip.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import RunResult
from promptloop.report.html import write_html
from tests.report.html_runs import PAYLOADS, compared_run, large_run, single_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--headless"]
        )
        yield launched
        launched.close()


class Opened:
    """A report open in a fresh page, with every request the page made."""

    def __init__(self, browser: Any, path: Path, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # A blocked style or script (the policy's hashes out of date) is a console error.
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("html[data-ready='1']")

    def rows(self) -> list[str]:
        return list(self.page.locator("#list details.case .cid").all_text_contents())

    def filter(self, label: str) -> None:
        self.page.get_by_role("button", name=label).click()

    def open_case(self, case_id: str) -> Any:
        """Click a case open and wait for its details (built on the toggle event)."""
        name = self.page.locator(".cid", has_text=re.compile(f"^{re.escape(case_id)}$"))
        case = self.page.locator("details.case", has=name)
        case.locator("summary").click()
        body = case.locator(".body")
        body.wait_for()
        return body

    def open_all(self) -> None:
        for summary in self.page.locator("details.case summary").all():
            summary.click()
        count = self.page.locator("details.case").count()
        self.page.locator("details.case .body").nth(count - 1).wait_for()
        assert self.page.locator("details.case .body").count() == count

    def pwned(self) -> Any:
        return self.page.evaluate("typeof window.__pwned")


def _open(browser: Any, tmp_path: Path, result: RunResult, **context: Any) -> Iterator[Opened]:
    path = tmp_path / "report.html"
    write_html(result, path)
    opened = Opened(browser, path, **context)
    yield opened
    assert opened.errors == []
    opened.context.close()


@pytest.fixture
def report(browser: Any, tmp_path: Path) -> Iterator[Opened]:
    yield from _open(browser, tmp_path, compared_run())


def test_filters_change_the_visible_rows(report: Opened) -> None:
    assert len(report.rows()) == 14
    report.filter("broken")
    broken = report.rows()
    assert broken[0] == "broken-1" and len(broken) == 8
    assert all(r == "broken-1" or r.startswith("hostile-") for r in broken)
    report.filter("fixed")
    assert report.rows() == ["fixed-1"]
    report.filter("failing on both")
    assert report.rows() == ["both-1"]
    report.filter("errors")
    assert report.rows() == ["error-1"]
    report.filter("reviewed")
    assert report.rows() == ["both-1"]
    report.filter("passing")
    assert sorted(report.rows()) == ["pass-1", "tools-1"]
    report.filter("removed on head")
    assert report.rows() == ["gone-1"]
    assert report.open_case("gone-1").locator("h4").all_text_contents() == [
        "Base (the head has no such case) pass"
    ]
    pressed = report.page.locator(".filters button[aria-pressed='true']").all_text_contents()
    assert pressed == ["removed on head 1"]


def test_search_finds_ids_vars_and_outputs_and_sorting_reorders(report: Opened) -> None:
    page = report.page
    page.fill("#q", "rainy")  # in broken-1's head output only
    assert report.rows() == ["broken-1"]
    page.fill("#q", "input of fixed")  # a var
    assert report.rows() == ["fixed-1"]
    page.fill("#q", "")
    page.select_option("#sort", "id")
    assert report.rows() == sorted(report.rows())
    page.select_option("#sort", "order")
    assert report.rows()[:3] == ["broken-1", "fixed-1", "both-1"]


def test_the_diff_marks_the_changed_words(report: Opened) -> None:
    case = report.open_case("broken-1")
    assert case.locator("ins").all_text_contents() == ["cold", "rainy"]
    assert case.locator("del").all_text_contents() == ["warm", "sunny"]
    text = case.inner_text()
    # The judge's critique and suggested fix sit beside the head output.
    assert "says rainy; the forecast said sunny" in text
    assert "Quote the forecast's own words." in text


def test_a_case_shows_tool_calls_turns_reviews_and_costs(report: Opened) -> None:
    text = report.open_case("tools-1").inner_text()
    assert 'lookup({"city": "Paris"})' in text
    assert "[user] earlier question" in text
    assert "120 in / 30 out tokens · $0.00042 · 0.80 s" in text
    review = report.open_case("both-1").locator(".review").inner_text()
    assert "bad, by <b>mallory</b>" in review and PAYLOADS[1] in review


def test_hostile_text_is_shown_as_text_and_runs_nothing(report: Opened) -> None:
    page = report.page
    report.open_all()
    shown = page.locator("#list").inner_text()
    for payload in PAYLOADS:
        assert payload.splitlines()[0] in shown
    # Nothing a payload describes became an element, anywhere in the page.
    hostile = "img, iframe, svg[onload], #list script, #list style, #list a, .revision a"
    assert page.locator(hostile).count() == 0
    assert page.locator("script").count() == 2
    assert report.pwned() == "undefined"
    # The learned revision's diff and reason carry payloads too; they are text there as well.
    revision = page.locator(".revision").inner_text()
    assert PAYLOADS[2] in revision and PAYLOADS[1] in revision


def test_the_policy_blocks_a_script_even_if_one_got_in(report: Opened) -> None:
    report.page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__pwned = 1'; document.body.appendChild(s); }"
    )
    assert report.pwned() == "undefined"
    (refused,) = report.errors
    assert "Content Security Policy" in refused
    report.errors.clear()


def test_no_request_leaves_the_page(report: Opened) -> None:
    page = report.page
    report.open_all()
    report.filter("broken")
    page.fill("#q", "Paris")
    page.wait_for_timeout(100)
    assert [u for u in report.requests if not u.startswith("file://")] == []
    assert len(report.requests) == 1  # the page itself


def test_the_keyboard_alone_gets_around(report: Opened) -> None:
    page = report.page
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("fixed-1")
    assert report.rows() == ["fixed-1"]
    page.keyboard.press("Escape")
    assert len(report.rows()) == 14
    # Tab from the search back to the filters, and press one.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert report.rows() == ["both-1"]  # the last filter button: reviewed
    report.filter("all")
    page.locator("details.case summary").first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent").find("hostile-0") != -1
    page.keyboard.press("Enter")
    assert page.locator("details.case[open] .cid").all_text_contents() == ["hostile-0"]


def test_a_run_without_a_baseline_shows_one_output(browser: Any, tmp_path: Path) -> None:
    for opened in _open(browser, tmp_path, single_run()):
        page = opened.page
        assert page.locator("table.suites th").all_text_contents()[:3] == [
            "suite",
            "head [95% CI]",
            "verdict",
        ]
        opened.filter("failing")
        assert opened.rows() == ["c1"]
        body = opened.open_case("c1")
        assert body.locator("h4").all_text_contents() == ["Output fail"]


def test_many_cases_come_a_page_at_a_time(browser: Any, tmp_path: Path) -> None:
    for opened in _open(browser, tmp_path, large_run(230)):
        page = opened.page
        assert len(opened.rows()) == 50
        assert page.locator("#count").inner_text() == "Showing 1–50 of 230 cases"
        page.click("#next")
        # Worst first: the 46 broken cases, then the fixed ones (case 2, 7, 12, 17, 22, …).
        assert opened.rows()[0] == "case-00022"
        page.fill("#q", "case-00229")
        page.wait_for_function("() => document.querySelectorAll('#list details').length === 1")


def test_narrow_screens_stack_base_over_head_without_sideways_scrolling(
    browser: Any, tmp_path: Path
) -> None:
    for opened in _open(browser, tmp_path, compared_run(), viewport={"width": 390, "height": 800}):
        page = opened.page
        base, head = opened.open_case("broken-1").locator(".side").all()
        assert head.bounding_box()["y"] > base.bounding_box()["y"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_dark_mode_follows_the_system(browser: Any, tmp_path: Path) -> None:
    colours = []
    for scheme in ("light", "dark"):
        for opened in _open(browser, tmp_path, single_run(), color_scheme=scheme):
            colours.append(opened.page.evaluate("getComputedStyle(document.body).backgroundColor"))
    assert colours == ["rgb(255, 255, 255)", "rgb(13, 17, 23)"]


def test_two_suites_can_be_looked_at_one_at_a_time(browser: Any, tmp_path: Path) -> None:
    one = single_run()
    echo = one.suites[0].model_copy(update={"name": "echo", "cases": one.suites[0].cases[:1]})
    for opened in _open(browser, tmp_path, one.model_copy(update={"suites": [*one.suites, echo]})):
        page = opened.page
        assert len(opened.rows()) == 4
        assert page.locator("#list .suite").all_text_contents().count("echo") == 1
        page.select_option("#suite", "echo")
        assert opened.rows() == ["c0"]
        page.select_option("#suite", "")
        assert len(opened.rows()) == 4
