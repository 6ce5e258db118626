"""Make model- and dataset-written text safe to put in a comment, a check run or a log.

Model output is untrusted: it must not ping people (@mentions), create backlinks on other
issues (#123), inject HTML or hidden markers, break out of a code fence, exceed GitHub's size
limits, leak a secret, or smuggle in workflow commands.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Literal

# GitHub rejects issue/PR/review comment bodies and check-run summaries above 65,535
# characters; stay a little below because GitHub's count is not documented precisely.
GITHUB_BODY_LIMIT = 65_535
DEFAULT_BODY_LIMIT = 65_000

ZWJ = "\u200d"
_MENTION = re.compile(r"(?<![A-Za-z0-9_`])@(?=[A-Za-z0-9])")
# owner/repo#7 links too, so only an HTML entity (&#60;) keeps its "#".
_ISSUE_REF = re.compile(r"(?<!&)#(?=\d)")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_BACKTICK_RUN = re.compile(r"`+")

AnnotationLevel = Literal["error", "warning", "notice"]

# Inside code, "<" must stay as written, so an HTML comment opener gets a zero-width space
# instead: it reads the same, but can never be taken for a hidden marker or close one.
ZWSP = "\u200b"
_COMMENT_OPEN = "<!--"


def _fence_lines(text: str) -> Iterator[tuple[bool, str]]:
    """Yield (inside_fenced_block, line) for each line, keeping line endings."""
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if fence is None:
            match = _FENCE_OPEN.match(stripped)
            # A backtick fence's info string may not contain backticks (it would be inline code).
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
                yield True, line
                continue
            yield False, line
        else:
            body = stripped.lstrip(" ")
            closes = (
                len(stripped) - len(body) <= 3
                and body.rstrip() == fence[0] * len(body.rstrip())
                and len(body.rstrip()) >= len(fence)
            )
            yield True, line
            if closes:
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


def _inline_segments(line: str) -> Iterator[tuple[bool, str]]:
    """Split one prose line into (is_code_span, text) pieces."""
    pos = 0
    search_from = 0
    while True:
        opening = _BACKTICK_RUN.search(line, search_from)
        if opening is None:
            break
        start, run = opening.start(), opening.group(0)
        backslashes = len(line[:start]) - len(line[:start].rstrip("\\"))
        if backslashes % 2 == 1:
            # An escaped backtick is literal; the rest of the run may still open a span.
            start += 1
            run = run[1:]
            if not run:
                search_from = opening.end()
                continue
        closing = None
        for candidate in _BACKTICK_RUN.finditer(line, start + len(run)):
            if len(candidate.group(0)) == len(run):
                closing = candidate
                break
        if closing is None:
            search_from = opening.end()
            continue
        if start > pos:
            yield False, line[pos:start]
        yield True, line[start : closing.end()]
        pos = search_from = closing.end()
    if pos < len(line):
        yield False, line[pos:]


def split_code(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into (is_code, text) pieces: fenced blocks and single-line code spans.

    Deliberately conservative: anything the scanner is unsure about counts as prose, so at worst
    an escape shows up literally inside code, never an unescaped mention or tag in prose.
    """
    pieces: list[tuple[bool, str]] = []
    for in_fence, line in _fence_lines(text):
        if in_fence:
            pieces.append((True, line))
        else:
            pieces.extend(_inline_segments(line))
    merged: list[tuple[bool, str]] = []
    for is_code, piece in pieces:
        if merged and merged[-1][0] == is_code:
            merged[-1] = (is_code, merged[-1][1] + piece)
        else:
            merged.append((is_code, piece))
    return merged


def defuse_comments(piece: str) -> str:
    """``<!--`` in code shown as code: the same to the eye, never an HTML comment or marker."""
    return piece.replace(_COMMENT_OPEN, "<" + ZWSP + "!--")


def _escape_prose(piece: str, *, mentions: bool, html: bool) -> str:
    if html:
        piece = piece.replace("<", "&lt;")
    if mentions:
        piece = _MENTION.sub("@" + ZWJ, piece)
        piece = _ISSUE_REF.sub("#" + ZWJ, piece)
    return piece


def break_mentions(text: str) -> str:
    """Stop ``@user``, ``@org/team`` and ``#123`` outside code from notifying or cross-linking."""
    return "".join(
        p if code else _escape_prose(p, mentions=True, html=False) for code, p in split_code(text)
    )


def escape_html(text: str) -> str:
    """Show raw HTML (and hidden ``<!-- -->`` markers) literally instead of rendering it."""
    return "".join(
        defuse_comments(p) if code else _escape_prose(p, mentions=False, html=True)
        for code, p in split_code(text)
    )


def neutralize(text: str) -> str:
    """Everything untrusted text needs before it goes into Markdown: mentions and HTML, and
    no ``<!--`` even inside code, so it can never pass for one of promptloop's markers."""
    return "".join(
        defuse_comments(p) if code else _escape_prose(p, mentions=True, html=True)
        for code, p in split_code(text)
    )


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


def mask_secrets(text: str, secrets: Iterable[str | None], mask: str = "***") -> str:
    """Replace every secret (and each line of a multi-line one) with ``mask``."""
    needles: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        needles.add(secret)
        needles.update(line for line in secret.splitlines() if len(line.strip()) >= 4)
    # Longest first, so a secret containing a shorter one is masked whole.
    for needle in sorted(needles, key=len, reverse=True):
        text = text.replace(needle, mask)
    return text


def escape_data(value: str) -> str:
    """Escape the message part of a workflow command."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a ``key=value`` property of a workflow command."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation_command(
    level: AnnotationLevel,
    file: str | None,
    line: int | None,
    end_line: int | None,
    title: str | None,
    message: str,
) -> str:
    """``::error file=F,line=L,endLine=E,title=T::message`` with everything escaped."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    props: list[str] = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={int(line)}")
            if end_line is not None and end_line != line:
                props.append(f"endLine={int(end_line)}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def fingerprint(*parts: str) -> str:
    """A short stable id for a finding (e.g. path, case id, suggested text)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]
