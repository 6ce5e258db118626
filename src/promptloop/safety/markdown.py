"""Untrusted text in promptloop's Markdown: prose neutralised, code shown verbatim, bodies
kept within GitHub's limits.

Model output, datasets, reviewers' notes and tools' messages are untrusted: they must not
ping people, cross-reference issues, link or load anything, inject HTML or hidden markers,
break out of a code fence, or exceed GitHub's size limits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

# GitHub rejects issue/PR/review comment bodies and check-run summaries above 65,535
# characters; stay a little below because GitHub's count is not documented precisely.
GITHUB_BODY_LIMIT = 65_535
DEFAULT_BODY_LIMIT = 65_000

ZWJ = "\u200d"
# Inside code, "<" must stay as written, so an HTML comment opener gets a zero-width space
# instead: it reads the same, but can never be taken for a hidden marker or close one.
ZWSP = "\u200b"
_COMMENT_OPEN = "<!--"
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_BACKTICK_RUN = re.compile(r"`+")

# Each thing GitHub would turn into a ping, a cross-reference, a link, an image, HTML or a
# fence, and the invisible character that stops it. A backslash before punctuation is an
# escape GitHub drops as it renders (``https:\/\/`` shows as ``https://``), so the rules
# that look at the next character look past one. Only zero-width characters are added, so
# the text reads the same whether it lands in prose or in code (in code nothing needs
# stopping, and nothing shows): neutralising never has to guess where code starts.
_DEFUSE = re.compile(
    r"""
      (?P<zwj>@(?!\u200d)                          # @user, @org/team, emails
      | \#(?=[0-9])                                # #1, owner/repo#1
      | (?<![A-Za-z0-9])[Gg][Hh]-(?=[0-9])         # GH-1
      )
    | (?P<zwsp><(?!\u200b)                         # HTML, comments, autolinks (<x://…>)
      | &(?!\u200b)                                # entities: &#64; decodes to "@"
      | \](?=[(\[:])                               # [text](url), ![x][ref], [ref]: url
      | /(?=\\?/)                                 # https://… and //host autolinks
      | (?i:www)(?=\\?\.)                          # www.host autolinks
      | (?i:mailto|xmpp)\\?:(?!\u200b)             # mailto: and xmpp: autolinks
      | ``(?=`) | ~~(?=~)                          # fences: no run of three
      )
    """,
    re.VERBOSE,
)


def _defuse(match: re.Match[str]) -> str:
    return match.group(0) + (ZWJ if match.group("zwj") else ZWSP)


def neutralize(text: str) -> str:
    """Untrusted prose (from a model, a dataset, a reviewer or a tool) made safe to put
    anywhere in promptloop's Markdown: it pings nobody (no @mention, however written: an
    entity, after a stray backtick, in a heading or table), cross-references no issue (#1,
    GH-1, owner/repo#1, issue URLs), links and loads nothing (URLs show as inert text),
    renders no HTML, cannot pass for a hidden marker, and opens or closes no code fence.

    It only inserts zero-width characters, so the text reads exactly as it was written, and
    neutralising twice changes nothing more."""
    return _DEFUSE.sub(_defuse, text)


def defuse_comments(piece: str) -> str:
    """``<!--`` in code shown as code: the same to the eye, never an HTML comment or marker."""
    return piece.replace(_COMMENT_OPEN, "<" + ZWSP + "!--")


def fenced_lines(text: str) -> Iterator[tuple[bool, str]]:
    """(inside a fenced code block, line) for each line of Markdown ``text``, keeping line
    endings."""
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if fence is None:
            match = _FENCE_OPEN.match(stripped)
            # A backtick fence's info string may not contain backticks (it would be inline code).
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
            yield fence is not None, line
            continue
        yield True, line
        body = stripped.lstrip(" ")
        if (
            len(stripped) - len(body) <= 3
            and body.rstrip() == fence[0] * len(body.rstrip())
            and len(body.rstrip()) >= len(fence)
        ):
            fence = None


def open_fence(text: str) -> str | None:
    """The fence still open at the end of ``text`` (so a truncation can close it), else None."""
    fence: str | None = None
    for line in text.splitlines():
        if fence is None:
            match = _FENCE_OPEN.match(line)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
        else:
            body = line.strip()
            if body and body == fence[0] * len(body) and len(body) >= len(fence):
                fence = None
    return fence


def fence_for(text: str, *, minimum: int = 3) -> str:
    """A backtick fence longer than any backtick run in ``text``, so it cannot close early."""
    longest = max((len(m.group(0)) for m in _BACKTICK_RUN.finditer(text)), default=0)
    return "`" * max(minimum, longest + 1)


def code_block(text: str, info: str = "") -> str:
    """``text`` shown verbatim in a fenced block it cannot break out of (nor hide a marker in)."""
    text = defuse_comments(text)
    fence = fence_for(text)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def inline_code(text: str) -> str:
    """A code span that shows ``text`` verbatim, whatever backticks it contains."""
    one_line = defuse_comments(" ".join(text.splitlines()))
    longest = max((len(m.group(0)) for m in _BACKTICK_RUN.finditer(one_line)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") or not one_line else ""
    return f"{ticks}{pad}{one_line}{pad}{ticks}"


def truncate_body(
    body: str,
    limit: int = DEFAULT_BODY_LIMIT,
    *,
    suffix: str = "",
    note: str = "*… truncated: {omitted} characters omitted.*",
) -> str:
    """Keep ``body`` + ``suffix`` within ``limit`` characters, saying visibly what was cut.

    ``suffix`` (typically a hidden marker) is always kept whole; an open code fence is closed
    before the note so the note does not render as code.
    """
    if len(body) + len(suffix) <= limit:
        return body + suffix
    # Room for the closing fence and the note, whose length depends on the count it prints.
    reserve = len(suffix) + len(note) + 24
    for _ in range(3):
        cut = max(0, limit - reserve)
        kept = body[:cut]
        newline = kept.rfind("\n")
        if newline >= cut - 2000 and newline > 0:
            kept = kept[:newline]
        fence = open_fence(kept)
        closing = f"\n{fence[0] * len(fence)}" if fence else ""
        tail = closing + "\n\n" + note.format(omitted=len(body) - len(kept))
        result = kept + tail + suffix
        if len(result) <= limit:
            return result
        reserve += len(result) - limit + len(fence or "")
    raise ValueError(f"limit {limit} is too small for the truncation note and suffix")


def fingerprint(*parts: str) -> str:
    """A short stable id for a finding (e.g. path, case id, suggested text)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]
