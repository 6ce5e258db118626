"""Which lines of a comment GitHub shows as the commenter's own words (pure).

Hand-written line rules miss what CommonMark decides for the whole document: a lazy line that
continues a quote, an HTML block that runs to a blank line, a comment that a second ``<!--``
keeps open, a ``<details>`` or ``<pre>`` around paragraphs, a code span over three lines. So the
comment is parsed as GitHub parses it (CommonMark with GFM tables and strikethrough, raw HTML
allowed; markdown-it-py) and rendered, and a line counts only when both say it is: a
top-level paragraph in the parse, and plain text at a line start of a top-level ``<p>`` in the
rendered HTML, outside every comment and element. Each candidate line is tagged with a random
word at its start so the two views can be matched back to it; nobody writing the comment can
guess the word.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

# Elements with no end tag; every other open element encloses what follows it.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def own_lines(
    body: str, pattern: re.Pattern[str], *, shown: bool = True
) -> Iterator[tuple[int, str]]:
    """(line number from 1, line) for each line matching ``pattern`` that starts a line of a
    top-level paragraph; with ``shown``, only where GitHub also shows it as plain text (not
    inside an HTML comment, ``<details>`` or any other element). Lines end at ``\\n`` or
    ``\\r\\n`` only."""
    lines = body.replace("\r\n", "\n").split("\n")
    wanted = {n: line for n, line in enumerate(lines, start=1) if pattern.match(line)}
    if not wanted:
        return
    nonce = "q" + secrets.token_hex(8)
    tagged = [
        _tag(line, f"{nonce}n{n}x") if n in wanted else line
        for n, line in enumerate(lines, start=1)
    ]
    tokens = _parser().parse("\n".join(tagged))
    found = _paragraph_line_starts(tokens, nonce)
    if shown:
        found &= _shown_line_starts(_parser().renderer.render(tokens, _parser().options, {}), nonce)
    for n in sorted(found):
        if n in wanted:
            yield n, wanted[n]


def _tag(line: str, tag: str) -> str:
    indent = len(line) - len(line.lstrip(" "))
    return line[:indent] + tag + line[indent:]


def _tags_in(text: str, nonce: str) -> Iterator[tuple[int, int]]:
    """(offset, line number) of each tag in ``text``."""
    for match in re.finditer(rf"{nonce}n(\d+)x", text):
        yield match.start(), int(match.group(1))


def _paragraph_line_starts(tokens: list[Token], nonce: str) -> set[int]:
    """Tags that begin a line of plain text, outside any emphasis, link or code, in a
    paragraph that no quote, list or table holds."""
    found: set[int] = set()
    top_paragraph = False
    for token in tokens:
        if token.nesting == 1:
            top_paragraph = token.type == "paragraph_open" and token.level == 0
        if token.type != "inline" or not top_paragraph or token.children is None:
            continue
        line_start = True
        for child in token.children:
            if child.type in ("softbreak", "hardbreak"):
                line_start = True
                continue
            if child.type == "text" and child.level == 0 and line_start:
                found.update(n for at, n in _tags_in(child.content, nonce) if at == 0)
            line_start = False
    return found


def _shown_line_starts(html: str, nonce: str) -> set[int]:
    walker = _Shown(nonce)
    walker.feed(_without_comments(html))
    walker.close()
    return walker.found


def _without_comments(html: str) -> str:
    """The HTML with every comment removed; one never closed hides the rest, as browsers do.
    A comment is closed only by ``-->`` after its opening, so it is never shorter here than
    in a browser."""
    parts: list[str] = []
    at = 0
    while (start := html.find("<!--", at)) >= 0:
        parts.append(html[at:start])
        end = html.find("-->", start + 4)
        if end < 0:
            return "".join(parts)
        at = end + 3
    parts.append(html[at:])
    return "".join(parts)


class _Shown(HTMLParser):
    """Collects tags at a line start of a ``<p>`` that no other element encloses."""

    def __init__(self, nonce: str) -> None:
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.stack: list[str] = []
        self.line_start = False
        self.found: set[int] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.line_start = tag == "br"
            return
        self.stack.append(tag)
        self.line_start = self.stack == ["p"]

    def handle_endtag(self, tag: str) -> None:
        # Nothing ends <plaintext>: the rest of the page is its text.
        if tag in self.stack and "plaintext" not in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]
        self.line_start = False

    def handle_data(self, data: str) -> None:
        if self.stack == ["p"]:
            for at, n in _tags_in(data, self.nonce):
                if (at == 0 and self.line_start) or (at > 0 and data[at - 1] == "\n"):
                    self.found.add(n)
        self.line_start = False
