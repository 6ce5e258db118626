"""What a fork's read-only run decided to say, as the file its artifact carries, and how the
base repository's ``workflow_run`` reads it back: as untrusted input.

Whoever opens the fork's pull request controls that run, so the file may say anything. It
is read only if it is small enough, has exactly the keys written here, is bound to the pull
request and head commit the ``workflow_run`` payload names (GitHub's word, not the file's),
links only to this repository, and carries none of promptloop's hidden markers (the reader
adds them itself). Its prose is neutralised again, keeping only the markup promptloop writes
itself; nothing in it is ever run. Any breach refuses the whole file with one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.bounds import check_file_size
from promptloop.errors import UserError
from promptloop.github.markers import review_marker
from promptloop.github.pull_request import Saying
from promptloop.github.review import PlannedComment
from promptloop.github.summary import Link
from promptloop.github.workflow import Annotation
from promptloop.safety import GITHUB_BODY_LIMIT, fenced_lines, neutralize

SAYING_FILE = "promptloop-say.json"
FORMAT: Literal["promptloop-say/1"] = "promptloop-say/1"
# Every body is at most GitHub's limit; a file this size holds far more than one run says.
MAX_SAYING_BYTES = 4 << 20
_MAX_COMMENTS = 500
_SHA = r"^[0-9a-f]{40}$"
# promptloop's hidden markers, however spaced or cased: the reader writes its own.
_MARKER = re.compile(r"<!--\s*promptloop", re.IGNORECASE)
# The markup promptloop writes around neutralised text, and nothing else, survives as markup.
_TAGS = (
    r"</?(?:details|summary|sub|sup|b|i|em|strong|code|kbd|br|p|ul|ol|li|table|thead|tbody"
    r"|tr|td|th)>"
)
_OPEN_DETAILS = r"<details open>"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WireComment(_Wire):
    path: str = Field(min_length=1, max_length=1024)
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16}$")
    body: str = Field(max_length=GITHUB_BODY_LIMIT)
    line: int | None = Field(default=None, ge=1)
    start_line: int | None = Field(default=None, ge=1)
    kind: Literal["finding", "suggestion"] = "finding"
    complete: str = Field(default="", max_length=GITHUB_BODY_LIMIT)


class WireAnnotation(_Wire):
    level: Literal["error", "warning", "notice"]
    message: str = Field(max_length=64 * 1024)
    path: str | None = Field(default=None, max_length=1024)
    line: int | None = Field(default=None, ge=1)
    end_line: int | None = Field(default=None, ge=1)
    title: str | None = Field(default=None, max_length=255)
    priority: float = 0.0


class WireLink(_Wire):
    label: str = Field(max_length=100)
    url: str = Field(max_length=2048)


class SayingWire(_Wire):
    format: Literal["promptloop-say/1"]
    number: int = Field(ge=1)
    head_sha: str = Field(pattern=_SHA)
    verdict: Literal["pass", "fail", "inconclusive"]
    conclusion: Literal["success", "failure", "neutral", "cancelled"]
    title: str = Field(max_length=255)
    review_body: str = Field(max_length=GITHUB_BODY_LIMIT)
    inline: list[WireComment] = Field(max_length=_MAX_COMMENTS)
    unplaced: list[WireComment] = Field(max_length=_MAX_COMMENTS)
    report_md: str = Field(max_length=GITHUB_BODY_LIMIT)
    notes: list[str] = Field(max_length=100)
    links: list[WireLink] = Field(max_length=20)
    annotations: list[WireAnnotation] = Field(max_length=_MAX_COMMENTS)
    run_url: str | None = Field(default=None, max_length=2048)
    report_url: str | None = Field(default=None, max_length=2048)
    pass_rate: float | None = Field(default=None, ge=0, le=1)
    delta_pp: float | None = Field(default=None, ge=-100, le=100)


def _unmarked(comment: PlannedComment, head_sha: str) -> str:
    """A comment's body without the marker its maker ended it with (the reader adds it)."""
    suffix = f"\n\n{review_marker(comment.fingerprint, head_sha)}"
    return comment.body.removesuffix(suffix)


def write_saying(
    path: Path, number: int, saying: Saying, *, mask: Callable[[str], str] = str
) -> Path:
    """The file a fork's read-only run leaves in its artifact, secrets ``mask``ed."""

    def wire(c: PlannedComment) -> WireComment:
        body = _unmarked(c, saying.head_sha)
        return WireComment(
            path=c.path,
            fingerprint=c.fingerprint,
            body=body,
            line=c.line,
            start_line=c.start_line,
            kind="suggestion" if c.kind == "suggestion" else "finding",
            complete=c.complete,
        )

    doc = SayingWire(
        format=FORMAT,
        number=number,
        head_sha=saying.head_sha,
        verdict=saying.verdict,  # type: ignore[arg-type]
        conclusion=saying.conclusion,  # type: ignore[arg-type]
        title=saying.title,
        review_body=saying.review_body,
        inline=[wire(c) for c in saying.inline],
        unplaced=[wire(c) for c in saying.unplaced],
        report_md=saying.report_md,
        notes=list(saying.notes),
        links=[WireLink(label=lk.label, url=lk.url) for lk in saying.links],
        annotations=[
            WireAnnotation(
                level=a.level,
                message=a.message,
                path=a.path,
                line=a.line,
                end_line=a.end_line,
                title=a.title,
                priority=a.priority,
            )
            for a in saying.annotations
        ],
        run_url=saying.run_url,
        report_url=saying.report_url,
        pass_rate=saying.pass_rate,
        delta_pp=saying.delta_pp,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mask(doc.model_dump_json(indent=1)) + "\n", encoding="utf-8")
    return path


def read_saying(
    path: Path, *, number: int, head_sha: str, run_url: str | None, repo_url: str
) -> tuple[Saying, int]:
    """The saying in ``path``, checked against what GitHub said of the run (``number``,
    ``head_sha``, ``run_url``) and neutralised; links may lead only under ``repo_url``.
    Returns it with the pull request's number. Raises ``UserError`` (one line) on any breach."""
    shown = path.name
    check_file_size(path, MAX_SAYING_BYTES, "the fork's saying file", shown)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the fork's artifact: {exc.strerror}", path=str(path)) from exc
    except UnicodeDecodeError:
        raise UserError("the fork's artifact is not UTF-8 text", path=shown) from None
    try:
        doc = SayingWire.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        why = "is not allowed" if first["type"] == "extra_forbidden" else first["msg"]
        raise UserError(
            f"refused the fork's artifact: it is not promptloop's ({why})", path=shown, key=key
        ) from None
    refuse = _Refuser(shown)
    if doc.number != number:
        refuse(f"it is for pull request #{doc.number}, the run was for #{number}", "number")
    if doc.head_sha != head_sha:
        refuse(f"it is for commit {doc.head_sha[:12]}, the run was for {head_sha[:12]}", "head_sha")
    if run_url is not None and doc.run_url not in (None, run_url):
        refuse("it names another workflow run than the one that finished", "run_url")
    if doc.report_url not in (None, f"{doc.run_url}#artifacts"):
        refuse("its report link is not the run's artifacts", "report_url")
    prefix = repo_url.rstrip("/") + "/"
    for index, link in enumerate(doc.links):
        if not link.url.startswith(prefix) or ".." in link.url:
            refuse("a link leads outside this repository", f"links.{index}.url")
    for key, value in _texts(doc):
        if _MARKER.search(value):
            refuse("it carries a forged promptloop marker", key)
    if not doc.title.startswith("promptloop: "):
        refuse("its check run title is not promptloop's", "title")
    clean = _Cleaner(prefix)

    def comment(c: WireComment) -> PlannedComment:
        body = f"{clean(c.body)}\n\n{review_marker(c.fingerprint, doc.head_sha)}"
        return PlannedComment(
            c.path, c.fingerprint, body, c.line, c.start_line, c.kind, clean(c.complete)
        )

    saying = Saying(
        head_sha=doc.head_sha,
        verdict=doc.verdict,
        conclusion=doc.conclusion,
        title=" ".join(doc.title.split()),
        review_body=clean(doc.review_body),
        inline=tuple(comment(c) for c in doc.inline),
        unplaced=tuple(comment(c) for c in doc.unplaced),
        report_md=clean(doc.report_md),
        notes=tuple(clean(n) for n in doc.notes),
        links=tuple(Link(neutralize(lk.label), lk.url) for lk in doc.links),
        annotations=tuple(
            Annotation(
                a.level,
                neutralize(a.message),
                a.path,
                a.line,
                a.end_line,
                neutralize(a.title) if a.title else None,
                a.priority,
            )
            for a in doc.annotations
        ),
        run_url=doc.run_url,
        report_url=doc.report_url,
        pass_rate=doc.pass_rate,
        delta_pp=doc.delta_pp,
    )
    return saying, doc.number


class _Refuser:
    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __call__(self, why: str, key: str) -> None:
        raise UserError(f"refused the fork's artifact: {why}", path=self.shown, key=key)


def _texts(doc: SayingWire) -> list[tuple[str, str]]:
    out = [("title", doc.title), ("review_body", doc.review_body), ("report_md", doc.report_md)]
    for name in ("inline", "unplaced"):
        for i, c in enumerate(getattr(doc, name)):
            out += [(f"{name}.{i}.body", c.body), (f"{name}.{i}.complete", c.complete)]
            out.append((f"{name}.{i}.path", c.path))
    out += [(f"notes.{i}", n) for i, n in enumerate(doc.notes)]
    for i, a in enumerate(doc.annotations):
        out += [(f"annotations.{i}.message", a.message), (f"annotations.{i}.title", a.title or "")]
    out += [(f"links.{i}.label", lk.label) for i, lk in enumerate(doc.links)]
    return out


class _Cleaner:
    """Neutralises prose as ``safety.neutralize`` does, except promptloop's own markup: the
    HTML tags it writes (bare, without attributes) and links into this repository. Code
    blocks are left as written (nothing renders there), so suggested changes stay exact."""

    def __init__(self, prefix: str) -> None:
        # Into the repository, and no ".." to climb out of it.
        link = rf"\]\({re.escape(prefix)}(?:(?!\.\.)[^\s()<>\"'])*\)"
        # "<" before a digit, a space or "=" opens no tag ("p <0.001", "n <= 5").
        self._kept = re.compile(rf"{_TAGS}|{_OPEN_DETAILS}|{link}|<(?=[\d\s=])", re.IGNORECASE)

    def __call__(self, text: str) -> str:
        out: list[str] = []
        for in_code, line in fenced_lines(text):
            out.append(line if in_code else self._line(line))
        return "".join(out)

    def _line(self, line: str) -> str:
        pieces: list[str] = []
        at = 0
        for match in self._kept.finditer(line):
            pieces.append(neutralize(line[at : match.start()]))
            pieces.append(match.group(0))
            at = match.end()
        pieces.append(neutralize(line[at:]))
        return "".join(pieces)
