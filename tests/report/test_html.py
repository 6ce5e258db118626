"""report.html as a file: written beside results.json by a real run, self-contained, its data
unable to break out of its block, and `promptloop view` finding or rebuilding it."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.engine.results import RunResult, mark_incomplete, write_results
from promptloop.models.scripted import clear_scripts, register_script
from promptloop.report.figures import change_with_interval
from promptloop.report.files import write_reports
from promptloop.report.html import json_for_script, page_view, render_html
from tests.report.html_runs import PAYLOADS, compared_run, single_run
from tests.support import PROJECTS, cli_env, run_promptloop

HOSTILE = "@octocat </script><script>window.__pwned=1</script> positive"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunResult, Path]]:
    root = tmp_path_factory.mktemp("html") / "sentiment"
    shutil.copytree(PROJECTS / "sentiment", root)
    clear_scripts()
    register_script("sentiment", lambda call: HOSTILE)
    result = execute_run(RunOptions(no_cache=True), project_for(ProjectQuery(start_dir=root)))
    write_reports(result, root / "out")
    yield result, root / "out"
    clear_scripts()


def _inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_a_run_writes_report_html_beside_results_json(real_run: tuple[RunResult, Path]) -> None:
    result, out = real_run
    assert sorted(p.name for p in out.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.md",
        "results.json",
    ]
    html = (out / "report.html").read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert data is not None
    cases = json.loads(data.group(1))[0]["cases"]
    # Every case of results.json is in the page, with the output as the run recorded it.
    assert [c["id"] for c in cases] == [c.id for c in result.suites[0].cases]
    assert {c["h"]["out"] for c in cases} == {HOSTILE}
    assert "</script><script>" not in data.group(1)


def test_the_page_allows_only_its_own_script_and_style(real_run: tuple[RunResult, Path]) -> None:
    html = (real_run[1] / "report.html").read_text(encoding="utf-8")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    content = html_lib.unescape(policy.group(1))
    rules = dict(r.strip().split(" ", 1) for r in content.split(";"))
    (script,) = _inline(html, "script")
    (style,) = _inline(html, "style")
    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == _hash(script)
    assert rules["style-src"] == _hash(style)
    assert rules["img-src"] == "data:"
    # Nothing to fetch: no URL in the page's own markup, script or style.
    markup = re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)
    assert not re.search(r"(?:src|href)=\"(?!#)|url\(|https?://|@import", markup)


@pytest.mark.parametrize("text", (*PAYLOADS, "\u2028 & <!-- -->", "</SCRIPT >"))
def test_json_for_script_reads_back_and_cannot_close_its_block(text: str) -> None:
    encoded = json_for_script({"out": text})
    assert json.loads(encoded) == {"out": text}
    assert "<" not in encoded and ">" not in encoded


def test_the_first_screen_escapes_what_the_run_says() -> None:
    result = compared_run().model_copy(update={"notices": [PAYLOADS[1]]})
    html = render_html(result)
    assert "<img" not in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html


def test_the_view_data_sorts_cases_into_kinds() -> None:
    view = page_view(compared_run())
    cases = {c["id"]: c for c in view["cases"][0]["cases"]}
    assert {i: c["k"] for i, c in cases.items() if not i.startswith("hostile")} == {
        "broken-1": "broken",
        "fixed-1": "fixed",
        "both-1": "failing",
        "pass-1": "passing",
        "error-1": "error",
        "tools-1": "passing",
        "gone-1": "removed",
    }
    assert cases["broken-1"]["crit"] == 1
    # An output the same on both sides is carried once.
    assert cases["pass-1"]["b"]["same"] == 1 and "out" not in cases["pass-1"]["b"]
    # The first screen shows the gate's own figures.
    result = compared_run()
    assert view["suites"][0]["delta"] == change_with_interval(result.comparisons["sentiment"])
    assert result.verdict is not None and view["status"] == result.verdict.status == "fail"
    (revision,) = view["revisions"]
    assert [s["label"] for s in revision["splits"]] == ["train", "validation", "held-out test"]
    assert revision["rounds"][0]["why"] == "drops the output format line"


def test_a_run_without_baseline_has_no_base_side() -> None:
    view = page_view(single_run())
    assert view["compared"] is False and view["status"] is None
    assert all("b" not in c for c in view["cases"][0]["cases"])


def _results(tmp_path: Path) -> Path:
    folder = tmp_path / "promptloop-results"
    folder.mkdir()
    write_results(single_run(), folder / "results.json")
    return folder / "results.json"


def test_view_builds_the_report_from_results_json_and_prints_its_path(tmp_path: Path) -> None:
    results = _results(tmp_path)
    report = results.with_name("report.html")
    done = run_promptloop(tmp_path, "view", "--no-open")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"wrote {report} from results.json",
        str(report),
    ]
    assert "answer 1" in report.read_text(encoding="utf-8")
    # Current: not rebuilt. Older than the results: rebuilt.
    again = run_promptloop(tmp_path, "view", str(report), "--no-open")
    assert again.stdout.splitlines() == [str(report)]
    os.utime(report, (0, 0))
    stale = run_promptloop(tmp_path, "view", str(results), "--no-open")
    assert stale.stdout.splitlines()[0] == f"wrote {report} from results.json"


def test_view_opens_the_report_in_the_browser(tmp_path: Path) -> None:
    results = _results(tmp_path)
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {seen}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    done = run_promptloop(
        tmp_path, "view", str(results.parent), env=cli_env(BROWSER=f"{browser} %s")
    )
    assert done.returncode == 0, done.stderr
    uri = results.with_name("report.html").as_uri()
    assert seen.read_text() == uri
    assert done.stdout.splitlines()[-1] == f"opened {uri}"


def test_view_says_what_is_missing(tmp_path: Path) -> None:
    done = run_promptloop(tmp_path, "view", "--no-open")
    assert done.returncode == 2
    assert done.stderr.startswith("promptloop: error: ")
    assert "promptloop-results" in done.stderr and "promptloop run" in done.stderr


def test_broken_and_fixed_are_the_gates_word_when_it_compared() -> None:
    result = compared_run()

    def kind_of(run: RunResult, case_id: str) -> str:
        rows = page_view(run)["cases"][0]["cases"]
        return str(next(c["k"] for c in rows if c["id"] == case_id))

    # The gate counted every repeat and did not call it broken: the page does not either.
    overruled = result.comparisons["sentiment"].model_copy(update={"broken": []})
    assert (
        kind_of(result.model_copy(update={"comparisons": {"sentiment": overruled}}), "broken-1")
        == "failing"
    )
    # A stopped run has no comparison: the first runs' statuses say it.
    assert kind_of(result.model_copy(update={"comparisons": {}}), "broken-1") == "broken"


def test_a_stopped_run_says_so_on_its_first_screen() -> None:
    html = render_html(mark_incomplete(compared_run(), "SIGTERM"))
    assert '<header class="verdict incomplete">' in html
    assert "INCOMPLETE" in html and "(SIGTERM)" in html


def test_the_learned_revision_says_in_words_why_the_optimizer_stopped() -> None:
    import dataclasses

    result = compared_run(hostile=False)
    assert result.optimization is not None
    [learned] = result.optimization.suites.values()
    suites = {"sentiment": dataclasses.replace(learned, stop_reason="rounds")}
    optimization = result.optimization.model_copy(update={"suites": suites})
    html = render_html(result.model_copy(update={"optimization": optimization}))
    assert "The optimizer stopped after the rounds it was given (optimizer.rounds)." in html
    assert "Stopped: rounds" not in html
