"""Langfuse trace exports: GENERATION observations, and the scores people gave them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptloop.traces.shapes import chat_turns, optional_str, text_of
from promptloop.traces.spans import SpanFeedback, TraceFile, TraceSpan, verdict_of


def langfuse_traces(document: Any) -> list[dict[str, Any]] | None:
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, dict) and "observations" in document:
        document = [document]
    if (
        isinstance(document, list)
        and all(isinstance(t, dict) and "observations" in t for t in document)
        and document
    ):
        return document
    return None


def read_langfuse(traces: list[dict[str, Any]]) -> TraceFile:
    spans: list[TraceSpan] = []
    ignored = 0
    for trace in traces:
        scores = [s for s in trace.get("scores") or [] if isinstance(s, dict)]
        for obs in trace.get("observations") or []:
            if not isinstance(obs, dict) or obs.get("type") != "GENERATION":
                ignored += 1
                continue
            output = obs.get("output")
            calls = list(output.get("tool_calls") or []) if isinstance(output, dict) else []
            feedback = tuple(
                f
                for s in scores
                if s.get("observationId") in (obs.get("id"), None)
                for f in [_langfuse_feedback(s)]
                if f is not None
            )
            spans.append(
                TraceSpan(
                    format="langfuse",
                    trace_id=str(obs.get("traceId") or trace.get("id") or ""),
                    span_id=str(obs.get("id") or ""),
                    messages=tuple(chat_turns(obs.get("input"))),
                    output=text_of(output) if output is not None else None,
                    model=optional_str(obs.get("model")),
                    tool_calls=tuple(calls),
                    prompt_name=optional_str(obs.get("promptName")),
                    prompt_version=optional_str(obs.get("promptVersion")),
                    attributes={str(k): v for k, v in (obs.get("metadata") or {}).items()}
                    if isinstance(obs.get("metadata"), dict)
                    else {},
                    feedback=feedback,
                )
            )
    return TraceFile(tuple(spans), (), ignored)


def _langfuse_feedback(score: Mapping[str, Any]) -> SpanFeedback | None:
    # EVAL scores are LLM judges; a person's come from the UI (ANNOTATION) or the app (API).
    if str(score.get("source") or "API").upper() == "EVAL":
        return None
    verdict = verdict_of(score.get("stringValue"), score.get("value"))
    if verdict is None:
        return None
    name = str(score.get("name") or "score")
    return SpanFeedback(
        verdict, str(score.get("comment") or ""), str(score.get("authorUserId") or name), name
    )
