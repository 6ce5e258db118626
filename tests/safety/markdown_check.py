"""What GitHub would do with a piece of Markdown, read from a CommonMark + GFM parse: the
live mentions, cross-references, links, images, raw HTML and fences in it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

# As GitHub renders comments: CommonMark, GFM tables, strikethrough and autolinks, raw HTML.
# linkify-it's fuzzy links ("example.com") are off because GFM does not link those; what GFM
# does link without a scheme (www., emails) and what GitHub turns into pings and references
# after parsing are read from the text itself (``TEXT_HAZARDS``), as GitHub's filters do.
GFM = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
    ["table", "strikethrough", "linkify"]
)
GFM.linkify.set({"fuzzy_link": False, "fuzzy_email": False})

TEXT_HAZARDS = {
    "mention": re.compile(r"@[A-Za-z0-9]"),
    "issue reference": re.compile(r"#[0-9]|(?<![A-Za-z0-9])[Gg][Hh]-[0-9]"),
    # GFM's extended autolinks: a scheme, www., mailto:/xmpp: followed by an address.
    "autolink": re.compile(r"[A-Za-z]://|//[^\s/]|(?i:www)\.|(?i:mailto|xmpp):[A-Za-z0-9._+-]"),
}
TOKEN_HAZARDS = {
    "html_inline": "raw HTML",
    "html_block": "raw HTML",
    "image": "image",
    "link_open": "link",
    "fence": "fence",
}


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from walk(token.children)


def hazards(markdown: str) -> list[str]:
    """Everything in ``markdown`` that would ping, reference, link, load, render HTML or
    open a fence on GitHub; empty when it is inert."""
    found: list[str] = []
    for token in walk(GFM.parse(markdown)):
        if token.type in TOKEN_HAZARDS:
            found.append(f"{TOKEN_HAZARDS[token.type]}: {token.markup or token.content!r}")
        if token.type == "text":
            for name, pattern in TEXT_HAZARDS.items():
                if match := pattern.search(token.content):
                    found.append(f"{name}: {match.group(0)!r} in {token.content!r}")
    return found
