"""promptloop's own state on a pull request: one hidden marker on the LAST line of a body.

A re-run finds what an earlier run posted by these markers, so they must be unforgeable.
Two rules make them so: a marker is read from the body's last line only (promptloop always
writes it there, after everything else), and only on bodies the token's own identity wrote.
On top of that ``safety.neutralize`` defuses ``<!--`` everywhere in untrusted text, code
blocks included, so no model, dataset or reviewer text can even look like one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = r"[A-Za-z0-9._:-]+"
_FIELD = re.compile(rf"\b([a-z]+)=({_TOKEN})")
_MARKER = re.compile(rf"^<!-- promptloop:([a-z]+)((?: [a-z]+={_TOKEN})*) -->$")
_SAFE = re.compile(rf"^{_TOKEN}$")

SUMMARY = "summary"
REVIEW = "review"
FINDING = "fp"
CHECK = "check"
# promptloop's answer to a reviewer's comment: ``to`` is that comment's id.
REPLY = "reply"


@dataclass(frozen=True)
class Marker:
    kind: str
    fields: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def marker(kind: str, **fields: str) -> str:
    """``<!-- promptloop:KIND a=1 b=2 -->``; every part must be a simple token."""
    for value in (kind, *fields, *fields.values()):
        if not _SAFE.match(value):
            raise ValueError(f"marker parts must be simple tokens: {value!r}")
    parts = "".join(f" {k}={v}" for k, v in fields.items())
    return f"<!-- promptloop:{kind}{parts} -->"


def read_marker(body: str | None) -> Marker | None:
    """The marker on the last non-blank line of ``body``, or None."""
    lines = [line for line in (body or "").splitlines() if line.strip()]
    if not lines:
        return None
    match = _MARKER.match(lines[-1].strip())
    if match is None:
        return None
    return Marker(match.group(1), dict(_FIELD.findall(match.group(2))))


def with_marker(body: str, kind: str, **fields: str) -> str:
    return f"{body.rstrip()}\n\n{marker(kind, **fields)}"


# Review comments keep the shape earlier releases wrote, so their comments stay recognised:
# ``<!-- promptloop:fp=<fingerprint> head=<sha> -->``.
def review_marker(fp: str, head_sha: str) -> str:
    if not _SAFE.match(fp) or not head_sha.isalnum():
        raise ValueError(f"marker parts must be simple tokens: {fp!r}, {head_sha!r}")
    return f"<!-- promptloop:fp={fp} head={head_sha} -->"


_REVIEW_MARKER = re.compile(rf"^<!-- promptloop:fp=({_TOKEN}) head=([0-9A-Za-z]+) -->$")


def parse_review_marker(body: str | None) -> tuple[str, str] | None:
    """(fingerprint, head sha) from the last line of a review comment promptloop posted."""
    lines = [line for line in (body or "").splitlines() if line.strip()]
    if not lines:
        return None
    match = _REVIEW_MARKER.match(lines[-1].strip())
    return (match.group(1), match.group(2)) if match else None


def summary_marker(content: str, head_sha: str) -> str:
    return marker(SUMMARY, head=head_sha, content=content)
