"""One model call seen in production, whatever tracer recorded it.

Every reader (OpenTelemetry GenAI, OpenInference, Langfuse, plain JSONL) turns its format
into these values; what to do with them is decided elsewhere (``traces.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptloop.dataset.feedback import ReviewerVerdict

# More spans than this in one file is refused: an import is reviewed line by line in a PR.
MAX_SPANS = 100_000

# Labels people and tools give feedback, read as a verdict (lower-case, `-`/` ` as `_`).
GOOD_LABELS = frozenset(
    {"good", "pass", "passed", "correct", "positive", "thumbs_up", "up", "yes", "true", "1"}
)
BAD_LABELS = frozenset(
    {"bad", "fail", "failed", "incorrect", "negative", "thumbs_down", "down", "no", "false", "0"}
)


@dataclass(frozen=True)
class SpanFeedback:
    """A person's judgement of the span's output (a thumbs-down with a note, an annotation)."""

    verdict: ReviewerVerdict
    note: str
    by: str
    # What the tracer called it ("user-feedback", "thumbs"), for the record's source.
    name: str = ""


@dataclass(frozen=True)
class TraceSpan:
    """One model call: what was asked, what came back, and who said what about it."""

    format: str
    trace_id: str
    span_id: str
    # The conversation sent, in OpenAI's chat shape (role, content, tool_calls).
    messages: tuple[dict[str, Any], ...]
    output: str | None
    model: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    prompt_name: str | None = None
    prompt_version: str | None = None
    template: str | None = None
    # The template's variables, when the tracer recorded them (OpenInference, JSONL).
    variables: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    feedback: tuple[SpanFeedback, ...] = ()

    @property
    def source(self) -> str:
        return f"{self.format}:{self.trace_id}/{self.span_id}"


def verdict_of(label: Any = None, score: Any = None) -> ReviewerVerdict | None:
    """A label first ("thumbs-down", "incorrect"), else a score: below 0.5 is bad."""
    if isinstance(label, bool):
        return "good" if label else "bad"
    if isinstance(label, str) and label.strip():
        key = label.strip().lower().replace("-", "_").replace(" ", "_")
        if key in GOOD_LABELS:
            return "good"
        if key in BAD_LABELS:
            return "bad"
    if isinstance(score, bool):
        return "good" if score else "bad"
    if isinstance(score, int | float):
        return "good" if score >= 0.5 else "bad"
    return None


@dataclass(frozen=True)
class SpanAnnotation:
    """Feedback recorded apart from its span (Phoenix exports annotations on their own)."""

    span_id: str
    feedback: SpanFeedback


@dataclass(frozen=True)
class TraceFile:
    spans: tuple[TraceSpan, ...]
    annotations: tuple[SpanAnnotation, ...] = ()
    # Spans read but not model calls (tool or chain spans), for the summary line.
    ignored: int = 0
