"""Trace exports read into ``TraceSpan``s, whatever the tracer: OTLP JSON (``traces.otlp``),
Langfuse exports (``traces.langfuse``), Phoenix span annotations, and promptloop's plain
JSONL log shape. Pure: text in, values out; each mistake is one ``file:line`` error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from promptloop.dataset.jsonl import json_lines
from promptloop.errors import UserError
from promptloop.traces.langfuse import langfuse_traces, read_langfuse
from promptloop.traces.otlp import phoenix_annotation, phoenix_spans, read_otlp
from promptloop.traces.shapes import chat_turns, optional_str, text_of
from promptloop.traces.spans import (
    MAX_SPANS,
    SpanAnnotation,
    SpanFeedback,
    TraceFile,
    TraceSpan,
    verdict_of,
)

# A trace file is read whole: past this it is refused rather than read into memory.
MAX_FILE_BYTES = 64 * 1024 * 1024


def read_trace_text(text: str, display: str) -> TraceFile:
    stripped = text.lstrip()
    if not stripped:
        return TraceFile(())
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            if stripped.startswith("{") and "\n{" in text.strip():
                return _read_lines(text, display)
            raise UserError(
                f"invalid JSON: {error.msg} (column {error.colno})", path=display, line=error.lineno
            ) from None
        return _read_document(document, display, line=None)
    return _read_lines(text, display)


def _read_lines(text: str, display: str) -> TraceFile:
    spans: list[TraceSpan] = []
    annotations: list[SpanAnnotation] = []
    ignored = 0
    for number, record in json_lines(text, display):
        part = _read_document(record, display, line=number)
        spans.extend(part.spans)
        annotations.extend(part.annotations)
        ignored += part.ignored
        if len(spans) > MAX_SPANS:
            raise UserError(f"more than {MAX_SPANS} spans in one file", path=display, line=number)
    return TraceFile(tuple(spans), tuple(annotations), ignored)


def _read_document(document: Any, display: str, line: int | None) -> TraceFile:
    if isinstance(document, dict) and "resourceSpans" in document:
        return read_otlp(document, display, line)
    if isinstance(document, dict) and "resourceLogs" in document:
        # An OTLP file holds log lines too (promptloop's own `--otel` file does): no spans.
        return TraceFile(())
    if (
        isinstance(document, dict)
        and "span_id" in document
        and ("annotator_kind" in document or "result" in document)
    ):
        annotation = phoenix_annotation(document)
        return TraceFile((), (annotation,) if annotation else ())
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        # Phoenix's REST exports: spans (``spans/otlpv1``) or span annotations.
        items = [d for d in document["data"] if isinstance(d, dict)]
        if items and all("trace_id" in d and "attributes" in d for d in items):
            return read_otlp(phoenix_spans(items), display, line)
        if items and all("span_id" in d and "annotator_kind" in d for d in items):
            document = {"annotations": items}
    if isinstance(document, dict) and isinstance(document.get("annotations"), list):
        found = [phoenix_annotation(a) for a in document["annotations"] if isinstance(a, dict)]
        return TraceFile((), tuple(a for a in found if a is not None))
    traces = langfuse_traces(document)
    if traces is not None:
        return read_langfuse(traces)
    if isinstance(document, dict) and ("output" in document or "messages" in document):
        return TraceFile((_plain(document, display, line),))
    raise UserError(
        "not a trace export promptloop reads (OTLP JSON with `resourceSpans`, a Langfuse "
        "trace export, Phoenix span annotations, or the JSONL shape in the README)",
        path=display,
        line=line,
    )


def _plain(record: Mapping[str, Any], display: str, line: int | None) -> TraceSpan:
    """promptloop's own log shape (README, "From production to pull request")."""
    messages = record.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise UserError(
            "`messages` must be a list of chat turns", path=display, line=line, key="messages"
        )
    variables = record.get("vars")
    if variables is not None and not isinstance(variables, dict):
        raise UserError("`vars` must be an object", path=display, line=line, key="vars")
    feedback = []
    for item in record.get("feedback") or []:
        if not isinstance(item, dict):
            continue
        verdict = verdict_of(item.get("verdict") or item.get("label"), item.get("score"))
        if verdict is None:
            raise UserError(
                "a feedback item needs a verdict: good or bad",
                path=display,
                line=line,
                key="feedback",
            )
        feedback.append(
            SpanFeedback(
                verdict,
                str(item.get("note") or ""),
                str(item.get("by") or "production"),
                "feedback",
            )
        )
    output = record.get("output")
    return TraceSpan(
        format="jsonl",
        trace_id=str(record.get("trace_id") or ""),
        span_id=str(record.get("span_id") or record.get("id") or (line or 0)),
        messages=tuple(chat_turns(messages)),
        output=text_of(output) if output is not None else None,
        model=optional_str(record.get("model")),
        prompt_name=optional_str(record.get("prompt")),
        prompt_version=optional_str(record.get("version")),
        variables=dict(variables) if isinstance(variables, dict) else None,
        attributes=dict(record.get("attributes") or {})
        if isinstance(record.get("attributes"), dict)
        else {},
        feedback=tuple(feedback),
    )


def with_annotations(
    spans: tuple[TraceSpan, ...], annotations: tuple[SpanAnnotation, ...]
) -> list[TraceSpan]:
    """Each span with the annotations recorded apart for it."""
    by_span: dict[str, list[SpanFeedback]] = {}
    for annotation in annotations:
        by_span.setdefault(annotation.span_id, []).append(annotation.feedback)
    return [
        replace(span, feedback=span.feedback + tuple(by_span.get(span.span_id, ())))
        for span in spans
    ]
