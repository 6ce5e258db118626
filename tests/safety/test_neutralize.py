"""``neutralize``: whatever a model, dataset, reviewer or tool writes, nothing in it pings,
cross-references, links, loads, renders HTML or opens a fence on GitHub, wherever promptloop
puts it; and it still reads as written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptloop.github.markers import read_marker, summary_marker
from promptloop.safety import ZWJ, ZWSP, neutralize
from tests.safety.markdown_check import GFM, hazards

# Pieces of every construct that could turn into a hazard, to be shuffled together.
FRAGMENTS = [
    "@", "octocat", "@octocat", "@org/team", "#", "1", "#12", "GH-", "gh-7", "o/r#3", "o/r@",
    "`", "``", "```", "~~~", "~", "<", ">", "</", "!--", "<!--", "-->", "<img src=x>", "<b>",
    "<details>", "<pre>", "&", "&#64;", "&commat;", "&#x40;", "&#35;", "&num;", ";", "[", "]",
    "(", ")", "![", "](", "]: ", "https://", "http://", "ftp://", "//", "www.", "WWW.",
    "example.com", "/issues/", "/pull/", "github.com/o/r", "mailto:", "xmpp:", "a@b.co",
    "javascript:", ":", "\\", "*", "_", "|", "---", "===", "- ", "1. ", "> ", "    ", "\t",
    "\n", "\n\n", "\r\n", "\r", " ", "x", "<https://e.co>", "&lt;", "\u2028", ZWJ, ZWSP,
]  # fmt: skip

hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40
).map("".join)

# How promptloop places untrusted prose: alone, in a quote, a list item, a table cell, a
# heading, and always followed by more of its own Markdown.
CONTEXTS = {
    "paragraph": "{}",
    "quote": "> {}",
    "list item": "- **2 of 5 failing cases:** {}",
    "table cell": "| case | note |\n| --- | --- |\n| c1 | {} |",
    "heading": "### {}",
}
TRAILER = "after-ours"


def place(context: str, text: str) -> str:
    shown = neutralize(text)
    if context == "table cell":
        shown = " ".join(shown.split()).replace("|", "\\|")
    return CONTEXTS[context].format(shown) + f"\n\n{TRAILER}\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_text, context=st.sampled_from(sorted(CONTEXTS)))
def test_nothing_neutralised_pings_links_loads_or_renders(text: str, context: str) -> None:
    document = place(context, text)
    assert hazards(document) == [], document
    # Promptloop's own Markdown after it is still a paragraph of its own: no fence, HTML
    # block or comment swallowed it.
    last = GFM.parse(document)[-3:]
    assert [t.type for t in last] == ["paragraph_open", "inline", "paragraph_close"], document
    assert last[1].content == TRAILER and last[0].level == 0


@settings(max_examples=200, deadline=None)
@given(text=hostile_text)
def test_neutralised_text_reads_as_written(text: str) -> None:
    assert neutralize(text).replace(ZWJ, "").replace(ZWSP, "") == text.replace(ZWJ, "").replace(
        ZWSP, ""
    )


@settings(max_examples=200, deadline=None)
@given(text=hostile_text)
def test_neutralised_text_never_passes_for_a_marker(text: str) -> None:
    forged = text + "\n" + summary_marker("c0ffee", "abc")
    assert read_marker(neutralize(forged)) is None
    assert "<!--" not in neutralize(forged)


# Each payload the issue names, as a critique or a note would carry it.
PAYLOADS = {
    "stray backtick": "see `@octocat please",
    "decimal entity": "&#64;octocat",
    "named entity": "&commat;octocat",
    "hex entity": "&#x40;octocat",
    "escaped at sign": "\\@octocat",
    "team": "@my-org/reviewers",
    "issue number": "fixes #1",
    "GH- reference": "see GH-1",
    "cross-repository reference": "octo/other#12",
    "issue URL": "https://github.com/octo/other/issues/1",
    "pull URL": "see https://github.com/octo/other/pull/2.",
    "www issue URL": "www.github.com/octo/other/issues/1",
    "escaped slashes": "https:\\/\\/evil.example/approve",
    "slash, escaped slash": "see /\\/evil.example",
    "escaped www dot": "see www\\.evil.example/x",
    "escaped mailto colon": "mailto\\:admin@example.com",
    "tracking image": "![x](https://tracker.example/pixel.gif)",
    "reference image": "![x][p]\n\n[p]: https://tracker.example/p.gif",
    "link in our voice": "[Approve](https://evil.example/approve)",
    "reference link": "[Approve][a]\n\n[a]: https://evil.example",
    "autolink": "<https://evil.example>",
    "email": "write to admin@example.com",
    "mailto": "mailto:admin@example.com",
    "raw HTML": '<img src="https://tracker.example/p.gif"> <b>bold</b>',
    "HTML block": "<details>\n<summary>open me</summary>\n\n@octocat\n</details>",
    "entity-encoded tag": "&lt;b&gt;",
    "fence that swallows the rest": "```\n@octocat",
    "tilde fence": "~~~md\nx",
    "mention in a heading": "# @octocat",
    "mention in a table": "| a |\n| - |\n| @octocat |",
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_each_payload_of_the_issue_is_inert(payload: str, context: str) -> None:
    assert hazards(place(context, payload)) == []


def test_the_payloads_are_hazards_before_neutralising() -> None:
    # The checker sees each of them, so the test above could fail.
    for name, payload in PAYLOADS.items():
        if name in ("entity-encoded tag",):
            continue
        assert hazards(payload + f"\n\n{TRAILER}\n"), name
