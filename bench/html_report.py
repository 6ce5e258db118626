"""report.html at scale: file size, render time and time-to-interactive of a 10,000-case
base-vs-head report in headless Chromium.

Run: ``python bench/html_report.py`` (writes bench/results/html_report.md). Options:
``--cases 10000 --runs 5 --chromium /usr/bin/chromium``; ``--screenshots docs/images``
also saves the README's screenshots (the first screen and an expanded case).

Time-to-interactive is measured from the start of navigation to the moment the page's
script has built the first page of cases (it marks ``<html data-ready>``), then a filter
click and a search are timed to their re-rendered list.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "src"))

from common import MACHINE_AT_START, RESULTS, WORK, table  # noqa: E402

from promptloop.report.html import render_html  # noqa: E402
from tests.report.html_runs import compared_run, large_run  # noqa: E402


def _launch(chromium: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--headless"]
    )
    return pw, browser


def _timings(browser, path: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="commit")
    page.wait_for_selector("html[data-ready='1']", timeout=60_000)
    ready = time.perf_counter() - start
    start = time.perf_counter()
    page.get_by_role("button", name="fixed").click()
    page.wait_for_function("() => document.getElementById('count').textContent.includes('of 2000')")
    filtered = time.perf_counter() - start
    start = time.perf_counter()
    page.fill("#q", "case-09999")
    page.wait_for_function("() => document.querySelectorAll('#list details').length === 0")
    searched = time.perf_counter() - start
    page.close()
    return {"ready": ready, "filter": filtered, "search": searched}


def _screenshots(browser, folder: Path) -> None:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    path = WORK / "screenshot-report.html"
    path.write_text(render_html(compared_run(hostile=False)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 860})
    page.goto(path.as_uri())
    page.screenshot(path=str(folder / "report-first-screen.png"))
    page.locator("details.case summary").first.click()
    page.locator("details.case[open]").screenshot(path=str(folder / "report-case.png"))
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    result = large_run(args.cases)
    renders = []
    for _ in range(args.runs):
        start = time.perf_counter()
        html = render_html(result)
        renders.append(time.perf_counter() - start)
    path = WORK / "report-10k.html"
    path.write_text(html, encoding="utf-8")
    raw = len(html.encode("utf-8"))
    zipped = len(gzip.compress(html.encode("utf-8")))

    pw, browser = _launch(args.chromium)
    try:
        runs = [_timings(browser, path) for _ in range(args.runs)]
        version = browser.version
        if args.screenshots:
            _screenshots(browser, args.screenshots)
    finally:
        browser.close()
        pw.stop()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = [
        ["cases", f"{args.cases:,}"],
        [
            "report.html size",
            f"{raw / 2**20:.1f} MiB ({zipped / 2**20:.2f} MiB compressed)",
        ],
        ["render in Python (median)", f"{statistics.median(renders):.2f} s"],
        ["time to interactive (median)", f"{med('ready'):.2f} s"],
        ["time to interactive (each run)", ", ".join(f"{r['ready']:.2f}" for r in runs) + " s"],
        ["filter click to re-rendered list (median)", f"{med('filter') * 1000:.0f} ms"],
        ["search to re-rendered list (median)", f"{med('search') * 1000:.0f} ms"],
    ]
    machine = [line for line in MACHINE_AT_START if not line.startswith("- Python:")]
    lines = [
        "# report.html with 10,000 cases",
        "",
        f"Command: `python bench/html_report.py --cases {args.cases} --runs {args.runs}`",
        "",
        "Machine:",
        "",
        *machine,
        f"- Python: {platform.python_version()}",
        f"- Browser: headless Chromium {version} (Debian package), driven by Playwright",
        "",
        *table(["measure", "value"], rows),
        "",
        "Each case carries a base and a head output of 12–48 words of seeded random prose, its",
        "vars and one judge's reason on each side (`large_run` in tests/report/html_runs.py).",
        "The list shows 50 cases a page; a case's details and word diff are built when it is",
        "opened. Search waits for a 150 ms pause in typing on lists over 2,000 cases; that",
        "pause is inside the search figure. The machine was busy with other jobs (see the",
        "load average), so the times are upper bounds.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "html_report.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
