"""Golden renders: what a reviewer sees, kept in tests/fixtures/golden/ and reviewed by eye.

Each golden is the Markdown promptloop posted (normalised: shas, ports, times) and its HTML as
a CommonMark + GFM-tables renderer draws it, inside a page shaped like a GitHub comment column
on a laptop. A test fails when either changes, and when one is missing: a golden never writes
itself. Run the tests with PROMPTLOOP_UPDATE_GOLDEN=1 to (re)write them, then take the
screenshots (``python -m tests.golden path/to/mermaid.min.js``, which needs Chromium and an
emoji font, ``apt-get install chromium fonts-noto-color-emoji``; the script comes from the
``mermaid`` npm package, ``npm pack mermaid``) and look at every one before committing.
``screenshots.json`` records which HTML each PNG was taken from, so a screenshot older than
its render (the README shows one) fails ``tests/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
UPDATE_VARIABLE = "PROMPTLOOP_UPDATE_GOLDEN"
# Which HTML (by SHA-256) each screenshot was taken from.
MANIFEST = "screenshots.json"
# A 1280×800 laptop screen; GitHub's conversation column leaves a comment about 780 px.
SCREEN = (1280, 800)

_CSS = """
body { margin: 0; background: #fff; color: #1f2328;
  font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.comment { width: 780px; margin: 24px 0 24px 120px; border: 1px solid #d0d7de;
  border-radius: 6px; }
.head { background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px;
  color: #59636e; border-radius: 6px 6px 0 0; }
.body { padding: 16px; overflow-wrap: break-word; }
.body > :first-child { margin-top: 0; }
h2 { font-size: 1.5em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em;
  margin: 24px 0 16px; }
h3 { font-size: 1.25em; margin: 24px 0 16px; }
p, ul, table, details, blockquote, pre { margin: 0 0 16px; }
table { border-collapse: collapse; display: block; width: max-content; max-width: 100%;
  overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
code { font: 85% ui-monospace, SFMono-Regular, Menlo, monospace; background: #eff1f3;
  padding: .2em .4em; border-radius: 6px; }
pre { background: #f6f8fa; padding: 16px; border-radius: 6px; overflow: auto; }
pre code { background: none; padding: 0; }
blockquote { color: #59636e; border-left: .25em solid #d1d9e0; padding: 0 1em; margin-left: 0; }
summary { cursor: pointer; }
sub { color: #59636e; }
a { color: #0969da; text-decoration: none; }
"""


def markdown_to_html(markdown: str) -> str:
    """CommonMark with GFM tables; raw HTML passes (GitHub allows <details>, <sub>, <br>)."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return renderer.render(markdown)


def page(markdown: str, who: str) -> str:
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(who)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<div class='comment'><div class='head'>{html.escape(who)}</div>\n"
        f"<div class='body'>\n{markdown_to_html(markdown)}</div></div>\n</body></html>\n"
    )


def normalise(text: str, replacements: dict[str, str]) -> str:
    """Make a render repeatable: the run's shas, ports, times and timings."""
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(old, new)
    text = re.sub(r"http://127\.0\.0\.1:\d+", "https://github.example", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "2026-01-05 09:30 UTC", text)
    text = re.sub(r"· \d+\.\d s ·", "· 0.4 s ·", text)
    # The content fingerprint hashes the head sha, which differs on every run of the test.
    return re.sub(r"\bcontent=[0-9a-f]+", "content=0000000000000000", text)


def updating() -> bool:
    """Whether this run (re)writes goldens: only when asked, never by default."""
    return os.environ.get(UPDATE_VARIABLE) == "1"


def check(name: str, markdown: str, who: str, folder: Path = GOLDEN) -> None:
    """Compare NAME.md and NAME.html with the goldens in ``folder``; with
    PROMPTLOOP_UPDATE_GOLDEN=1, write them instead. A missing golden fails."""
    rendered = {f"{name}.md": markdown, f"{name}.html": page(markdown, who)}
    if updating():
        folder.mkdir(parents=True, exist_ok=True)
        for filename, text in rendered.items():
            (folder / filename).write_text(text, encoding="utf-8")
        return
    for filename, text in rendered.items():
        path = folder / filename
        assert path.exists(), (
            f"golden {filename} is missing from {folder.name}/: a golden is never written by "
            f"the test that reads it; run with {UPDATE_VARIABLE}=1, look at the render, commit it"
        )
        assert text == path.read_text(encoding="utf-8"), (
            f"{filename} changed: look at the new render, then {UPDATE_VARIABLE}=1"
        )


def html_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale_screenshots(folder: Path = GOLDEN) -> list[str]:
    """What is wrong with the screenshots in ``folder``: a render without one, one without
    its render, or one taken from an HTML that has changed since. Empty when all is well."""
    manifest_path = folder / MANIFEST
    taken: dict[str, str] = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    problems = []
    renders = {p.stem for p in folder.glob("*.html")}
    for stem in sorted(renders):
        png = folder / f"{stem}.png"
        if not png.exists():
            problems.append(f"{png.name} is missing")
        elif taken.get(png.name) != html_digest(folder / f"{stem}.html"):
            problems.append(f"{png.name} was not taken from the current {stem}.html")
    for png in sorted(folder.glob("*.png")):
        if png.stem not in renders:
            problems.append(f"{png.name} has no {png.stem}.html")
    return problems


def screenshots(mermaid_js: Path | None = None, folder: Path = GOLDEN) -> list[Path]:
    """NAME.png for every NAME.html: the first laptop screen, in headless Chromium. With
    ``mermaid_js`` (a local mermaid.min.js) the charts are drawn as GitHub draws them.
    Records in screenshots.json which HTML each one was taken from."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit(
            "Chromium is not installed (apt-get install -y chromium fonts-noto-color-emoji)"
        )
    made = []
    taken: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted(folder.glob("*.html")):
            text = source.read_text(encoding="utf-8")
            if mermaid_js is not None and "language-mermaid" in text:
                text = _with_mermaid(text, mermaid_js)
            staged = Path(tmp) / source.name
            staged.write_text(text, encoding="utf-8")
            target = source.with_suffix(".png")
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    "--virtual-time-budget=3000",
                    f"--window-size={SCREEN[0]},{SCREEN[1]}",
                    f"--screenshot={target}",
                    staged.as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            made.append(target)
            taken[target.name] = html_digest(source)
    (folder / MANIFEST).write_text(json.dumps(taken, indent=2) + "\n", encoding="utf-8")
    return made


def _with_mermaid(text: str, mermaid_js: Path) -> str:
    # GitHub swaps ```mermaid blocks for the drawing; do the same before Mermaid runs.
    text = re.sub(
        r'<pre><code class="language-mermaid">(.*?)</code></pre>',
        r'<pre class="mermaid">\1</pre>',
        text,
        flags=re.S,
    )
    script = mermaid_js.read_text(encoding="utf-8")
    boot = "mermaid.initialize({startOnLoad: true});"
    return text.replace("</body>", f"<script>{script}</script><script>{boot}</script></body>")


def main(argv: list[str]) -> int:
    """``python -m tests.golden [mermaid.min.js]``: every check before the first screenshot,
    so a wrong argument never leaves some PNGs retaken and others not."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.golden",
        description="Take the golden screenshots (NAME.png for every NAME.html in "
        "tests/fixtures/golden/) in headless Chromium.",
    )
    parser.add_argument(
        "mermaid_js",
        nargs="?",
        type=Path,
        help="a local mermaid.min.js (from `npm pack mermaid`), needed when a render holds a "
        "Mermaid chart",
    )
    js = parser.parse_args(argv).mermaid_js
    if js is not None and not js.is_file():
        parser.error(f"{js}: no such file (the path of mermaid.min.js)")
    if js is None and any("language-mermaid" in p.read_text() for p in GOLDEN.glob("*.html")):
        parser.error("a render holds a Mermaid chart: pass the path of mermaid.min.js")
    for made in screenshots(js):
        print(made)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
