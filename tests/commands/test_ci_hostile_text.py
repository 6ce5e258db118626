"""Hostile prose from a model reaches GitHub inert through `promptloop ci`: the outputs'
evaluator reasons (critiques in the review comments, the summary's tables) and the
optimizer's rationale carry every payload of issue 22, and no posted body pings, cross-
references, links, loads or renders any of it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from promptloop.models.scripted import register_script
from promptloop.safety import ZWJ, ZWSP
from tests.commands.test_ci_github import (
    CONFIG,
    FIXED_IN_HUNK,
    HEAD_PROMPT,
    NAMES,
    PROMPT,
    REPO,
    Scenario,
)
from tests.safety.markdown_check import GFM, walk

# Each piece leads the output of some case, so each survives the reasons' truncation.
PIECES = [
    "see `@octocat please",
    "&#64;octocat &commat;octocat",
    "fixes #4242 and GH-4243",
    "octo/other#4244",
    "https://github.com/octo/other/issues/4245",
    "![x](https://tracker.example/pixel.gif)",
    "[Approve](https://evil.example/approve)",
    "<img src=https://tracker.example/i.gif> <b>bold</b>",
    "www.evil.example",
    "<details><summary>open</summary>@octocat</details>",
]
# What of each piece shows in prose once it reached GitHub.
SHOWN = ["octocat please", "commat;octocat", "GH-", "other#", "octo/other/issues", "pixel.gif",
         "[Approve]", "i.gif", "evil.example", "summary>open"]  # fmt: skip


def payload(index: int) -> str:
    turn = index % len(PIECES)
    return " ".join(PIECES[turn:] + PIECES[:turn])


FOREIGN = re.compile(r"evil\.example|tracker\.example|octo/other")
LIVE_TEXT = re.compile(r"@octocat|#424[2-5]|GH-4243|www\.evil|://")


def hostile_model(call: dict[str, Any]) -> str:
    text = "\n".join(str(m.get("content") or "") for m in call["messages"])
    if "<prompt>" in text:
        return f"<rationale>Calmer. {payload(0)}</rationale>\n<prompt>\n{FIXED_IN_HUNK}</prompt>"
    name = re.search(r"greeting for (\w+)", text)
    who = name.group(1) if name else "you"
    hostile = payload(NAMES.index(who) if who in NAMES else 0)
    # The base answers without "!", so only the head breaks the no-exclamation check.
    if "Use exclamation" in text:
        return f"Hello {who}! {hostile}"
    return f"Hello {who}. {hostile.replace('!', '')}"


def foreign_hazards(markdown: str) -> list[str]:
    """The payload's pings, references, links, images and HTML that GitHub would make live;
    promptloop's own links, HTML and code blocks are not the payload's."""
    found = []
    for token in walk(GFM.parse(markdown)):
        href = str(token.attrs.get("href") or token.attrs.get("src") or "")
        if token.type in ("link_open", "image") and FOREIGN.search(href):
            found.append(f"{token.type} {href}")
        if token.type in ("html_inline", "html_block") and re.search(
            r"<img|<b>|<details><summary>open", token.content
        ):
            found.append(f"{token.type} {token.content!r}")
        if token.type == "text" and (live := LIVE_TEXT.search(token.content)):
            found.append(f"text {live.group(0)!r} in {token.content!r}")
    return found


def test_model_prose_reaches_github_inert(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    register_script("ci", hostile_model)
    # A check whose reason quotes the output: the payload becomes a critique, in prose.
    scenario.base["promptloop.yaml"] = CONFIG + '      - contains: "calm words"\n'
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    gh = scenario.gh
    assert gh.review_comments(REPO), res.stdout + res.stderr
    bodies = {f"review {r['id']}": r.get("body") or "" for r in gh.reviews(REPO, 7)}
    bodies |= {f"review comment {c['id']}": c["body"] for c in gh.review_comments(REPO)}
    bodies |= {f"comment {c['id']}": c["body"] for c in gh.issue_comments(REPO)}
    for run in gh.check_runs(REPO):
        output = run.get("output") or {}
        bodies |= {f"check {k}": output.get(k) or "" for k in ("summary", "text")}
    bodies["job summary"] = res.summary
    found = {name: foreign_hazards(body) for name, body in bodies.items()}
    assert {name: hazards for name, hazards in found.items() if hazards} == {}
    # The payload reached GitHub as prose (critiques, the report's reasons), not only as code.
    prose = "\n".join(
        token.content
        for body in bodies.values()
        for token in walk(GFM.parse(body))
        if token.type == "text"
    )
    assert [s for s in SHOWN if s not in prose.replace(ZWJ, "").replace(ZWSP, "")] == []
