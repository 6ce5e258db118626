"""Trace exports read into ``TraceSpan``s: OTLP JSON with the OpenTelemetry GenAI or the
OpenInference (Arize Phoenix) attributes, Langfuse trace exports, Phoenix span annotations,
and promptloop's plain JSONL log shape. Pure: text in, values out; each mistake is one
``file:line`` error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from promptloop.errors import UserError
from promptloop.traces.spans import SpanFeedback, TraceSpan, verdict_of

# A trace file is read whole: past this it is refused rather than read into memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_SPANS = 100_000


@dataclass(frozen=True)
class Annotation:
    """Feedback recorded apart from its span (Phoenix exports annotations on their own)."""

    span_id: str
    feedback: SpanFeedback


@dataclass(frozen=True)
class TraceFile:
    spans: tuple[TraceSpan, ...]
    annotations: tuple[Annotation, ...] = ()
    # Spans read but not model calls (tool or chain spans), for the summary line.
    ignored: int = 0


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
    annotations: list[Annotation] = []
    ignored = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(
                f"invalid JSON: {error.msg} (column {error.colno})", path=display, line=number
            ) from None
        part = _read_document(record, display, line=number)
        spans.extend(part.spans)
        annotations.extend(part.annotations)
        ignored += part.ignored
        if len(spans) > MAX_SPANS:
            raise UserError(f"more than {MAX_SPANS} spans in one file", path=display, line=number)
    return TraceFile(tuple(spans), tuple(annotations), ignored)


def _read_document(document: Any, display: str, line: int | None) -> TraceFile:
    if isinstance(document, dict) and "resourceSpans" in document:
        return _read_otlp(document, display, line)
    if isinstance(document, dict) and "resourceLogs" in document:
        # An OTLP file holds log lines too (promptloop's own `--otel` file does): no spans.
        return TraceFile(())
    if (
        isinstance(document, dict)
        and "span_id" in document
        and ("annotator_kind" in document or "result" in document)
    ):
        annotation = _phoenix_annotation(document)
        return TraceFile((), (annotation,) if annotation else ())
    if isinstance(document, dict) and isinstance(document.get("annotations"), list):
        found = [_phoenix_annotation(a) for a in document["annotations"] if isinstance(a, dict)]
        return TraceFile((), tuple(a for a in found if a is not None))
    traces = _langfuse_traces(document)
    if traces is not None:
        return _read_langfuse(traces)
    if isinstance(document, dict) and ("output" in document or "messages" in document):
        return TraceFile((_plain(document, display, line),))
    raise UserError(
        "not a trace export promptloop reads (OTLP JSON with `resourceSpans`, a Langfuse "
        "trace export, Phoenix span annotations, or the JSONL shape in the README)",
        path=display,
        line=line,
    )


# --- OTLP JSON ---------------------------------------------------------------------------


def any_value(value: Any) -> Any:
    """OTLP's AnyValue in its JSON encoding, as a plain Python value."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes_of(value["kvlistValue"].get("values", []))
    return None


def attributes_of(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {
        str(item["key"]): any_value(item.get("value"))
        for item in items
        if isinstance(item, dict) and "key" in item
    }


def _otlp_spans(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in document.get("resourceSpans") or []:
        for scope in (resource or {}).get("scopeSpans") or []:
            for span in (scope or {}).get("spans") or []:
                if isinstance(span, dict):
                    yield span


def _read_otlp(document: Mapping[str, Any], display: str, line: int | None) -> TraceFile:
    spans: list[TraceSpan] = []
    ignored = 0
    for raw in _otlp_spans(document):
        attrs = attributes_of(raw.get("attributes"))
        trace_id, span_id = str(raw.get("traceId") or ""), str(raw.get("spanId") or "")
        if "openinference.span.kind" in attrs or any(k.startswith("llm.") for k in attrs):
            span = _openinference(attrs, trace_id, span_id)
        elif any(k.startswith("gen_ai.") for k in attrs):
            span = _genai(attrs, raw, trace_id, span_id)
        else:
            span = None
        if span is None:
            ignored += 1
            continue
        spans.append(span)
        if len(spans) > MAX_SPANS:
            raise UserError(f"more than {MAX_SPANS} spans in one file", path=display, line=line)
    return TraceFile(tuple(spans), (), ignored)


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _genai_parts(parts: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    """Text, tool calls and the answered call id of a GenAI message's ``parts``."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    answered: str | None = None
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content") or ""))
        elif kind == "tool_call":
            calls.append(_call(part.get("name"), part.get("arguments"), part.get("id")))
        elif kind == "tool_call_response":
            answered = str(part.get("id") or "") or None
            response = part.get("response")
            texts.append(response if isinstance(response, str) else json.dumps(response))
    return "".join(texts), calls, answered


def _call(name: Any, arguments: Any, call_id: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    call: dict[str, Any] = {
        "type": "function",
        "function": {"name": str(name or ""), "arguments": arguments},
    }
    if call_id:
        call["id"] = str(call_id)
    return call


def _turn(
    role: str, content: str, calls: list[dict[str, Any]], answered: str | None
) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": role, "content": content}
    if calls:
        turn["tool_calls"] = calls
    if role == "tool" and answered:
        turn["tool_call_id"] = answered
    return turn


def _genai(
    attrs: dict[str, Any], raw: dict[str, Any], trace_id: str, span_id: str
) -> TraceSpan | None:
    messages: list[dict[str, Any]] = []
    system = _json_value(attrs.get("gen_ai.system_instructions"))
    if system:
        text, _, _ = _genai_parts(system if isinstance(system, list) else [system])
        if text:
            messages.append({"role": "system", "content": text})
    inputs = _json_value(attrs.get("gen_ai.input.messages"))
    outputs = _json_value(attrs.get("gen_ai.output.messages"))
    if isinstance(inputs, list):
        for message in inputs:
            if isinstance(message, dict):
                text, calls, answered = _genai_parts(message.get("parts"))
                messages.append(_turn(str(message.get("role") or "user"), text, calls, answered))
    else:
        messages.extend(_indexed_prompt(attrs, "gen_ai.prompt"))
    output: str | None = None
    tool_calls: list[dict[str, Any]] = []
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        output, tool_calls, _ = _genai_parts(outputs[0].get("parts"))
    else:
        completion = _indexed_prompt(attrs, "gen_ai.completion")
        if completion:
            output = completion[0]["content"]
            tool_calls = list(completion[0].get("tool_calls") or [])
    if not messages or (output is None and not tool_calls):
        return None
    feedback = tuple(
        f
        for event in raw.get("events") or []
        if isinstance(event, dict) and event.get("name") == "gen_ai.evaluation.result"
        for f in [_evaluation_feedback(attributes_of(event.get("attributes")))]
        if f is not None
    )
    model = attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model")
    return TraceSpan(
        format="otel",
        trace_id=trace_id,
        span_id=span_id,
        messages=tuple(messages),
        output=output,
        model=str(model) if model else None,
        tool_calls=tuple(tool_calls),
        prompt_name=_str(attrs.get("gen_ai.prompt.name")),
        prompt_version=_str(attrs.get("gen_ai.prompt.version")),
        attributes=attrs,
        feedback=feedback,
    )


def _indexed_prompt(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The older flattened shape: ``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content``."""
    turns: list[dict[str, Any]] = []
    index = 0
    while f"{prefix}.{index}.content" in attrs or f"{prefix}.{index}.role" in attrs:
        role = str(attrs.get(f"{prefix}.{index}.role") or "user")
        content = str(attrs.get(f"{prefix}.{index}.content") or "")
        calls = []
        j = 0
        while f"{prefix}.{index}.tool_calls.{j}.name" in attrs:
            base = f"{prefix}.{index}.tool_calls.{j}"
            calls.append(
                _call(
                    attrs[f"{base}.name"], attrs.get(f"{base}.arguments"), attrs.get(f"{base}.id")
                )
            )
            j += 1
        turns.append(_turn(role, content, calls, None))
        index += 1
    return turns


def _evaluation_feedback(attrs: dict[str, Any]) -> SpanFeedback | None:
    verdict = verdict_of(
        attrs.get("gen_ai.evaluation.score.label"), attrs.get("gen_ai.evaluation.score.value")
    )
    if verdict is None:
        return None
    name = str(attrs.get("gen_ai.evaluation.name") or "evaluation")
    return SpanFeedback(
        verdict=verdict,
        note=str(attrs.get("gen_ai.evaluation.explanation") or ""),
        by=str(attrs.get("user.id") or attrs.get("enduser.id") or name),
        name=name,
    )


def _openinference(attrs: dict[str, Any], trace_id: str, span_id: str) -> TraceSpan | None:
    kind = str(attrs.get("openinference.span.kind") or "LLM").upper()
    if kind != "LLM":
        return None
    messages = _oi_messages(attrs, "llm.input_messages")
    outputs = _oi_messages(attrs, "llm.output_messages")
    if not messages and attrs.get("input.value") is not None:
        messages = [{"role": "user", "content": str(attrs["input.value"])}]
    output: str | None = None
    calls: list[dict[str, Any]] = []
    if outputs:
        output = outputs[0]["content"]
        calls = list(outputs[0].get("tool_calls") or [])
    elif attrs.get("output.value") is not None:
        output = str(attrs["output.value"])
    if not messages or (output is None and not calls):
        return None
    variables = _json_value(attrs.get("llm.prompt_template.variables"))
    return TraceSpan(
        format="openinference",
        trace_id=trace_id,
        span_id=span_id,
        messages=tuple(messages),
        output=output,
        model=_str(attrs.get("llm.model_name")),
        tool_calls=tuple(calls),
        prompt_name=_str(
            attrs.get("llm.prompt_template.name") or attrs.get("metadata.prompt_name")
        ),
        prompt_version=_str(attrs.get("llm.prompt_template.version")),
        template=_str(attrs.get("llm.prompt_template.template")),
        variables=variables if isinstance(variables, dict) else None,
        attributes=attrs,
    )


def _oi_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    turns = []
    index = 0
    while any(k.startswith(f"{prefix}.{index}.") for k in attrs):
        base = f"{prefix}.{index}.message"
        content = attrs.get(f"{base}.content")
        if content is None:
            parts = []
            j = 0
            while f"{base}.contents.{j}.message_content.text" in attrs:
                parts.append(str(attrs[f"{base}.contents.{j}.message_content.text"]))
                j += 1
            content = "".join(parts)
        calls = []
        j = 0
        while f"{base}.tool_calls.{j}.tool_call.function.name" in attrs:
            call = f"{base}.tool_calls.{j}.tool_call"
            calls.append(
                _call(
                    attrs[f"{call}.function.name"],
                    attrs.get(f"{call}.function.arguments"),
                    attrs.get(f"{call}.id"),
                )
            )
            j += 1
        role = str(attrs.get(f"{base}.role") or "user")
        turns.append(
            _turn(role, str(content or ""), calls, _str(attrs.get(f"{base}.tool_call_id")))
        )
        index += 1
    return turns


def _phoenix_annotation(record: Mapping[str, Any]) -> Annotation | None:
    """A Phoenix span annotation; only a person's (annotator_kind HUMAN) is a verdict."""
    if str(record.get("annotator_kind") or "HUMAN").upper() != "HUMAN":
        return None
    result = record.get("result") if isinstance(record.get("result"), dict) else record
    assert isinstance(result, Mapping)
    verdict = verdict_of(result.get("label"), result.get("score"))
    if verdict is None:
        return None
    name = str(record.get("name") or "annotation")
    by = record.get("user_id") or record.get("identifier") or record.get("source") or name
    return Annotation(
        span_id=str(record.get("span_id")),
        feedback=SpanFeedback(verdict, str(result.get("explanation") or ""), str(by), name),
    )


# --- Langfuse ----------------------------------------------------------------------------


def _langfuse_traces(document: Any) -> list[dict[str, Any]] | None:
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


def _langfuse_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list):
        return [
            _turn(
                str(m.get("role") or "user"),
                _text(m.get("content")),
                list(m.get("tool_calls") or []),
                _str(m.get("tool_call_id")),
            )
            for m in value
            if isinstance(m, dict)
        ]
    if value is None:
        return []
    return [{"role": "user", "content": _text(value)}]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(str(p.get("text") or "") for p in value if isinstance(p, dict))
    if isinstance(value, dict) and "content" in value:
        return _text(value["content"])
    return "" if value is None else json.dumps(value)


def _read_langfuse(traces: list[dict[str, Any]]) -> TraceFile:
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
                    messages=tuple(_langfuse_messages(obs.get("input"))),
                    output=_text(output) if output is not None else None,
                    model=_str(obs.get("model")),
                    tool_calls=tuple(calls),
                    prompt_name=_str(obs.get("promptName")),
                    prompt_version=_str(obs.get("promptVersion")),
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


# --- plain JSONL -------------------------------------------------------------------------


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
        messages=tuple(_langfuse_messages(messages)),
        output=_text(output) if output is not None else None,
        model=_str(record.get("model")),
        prompt_name=_str(record.get("prompt")),
        prompt_version=_str(record.get("version")),
        variables=dict(variables) if isinstance(variables, dict) else None,
        attributes=dict(record.get("attributes") or {})
        if isinstance(record.get("attributes"), dict)
        else {},
        feedback=tuple(feedback),
    )


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def with_annotations(
    spans: tuple[TraceSpan, ...], annotations: tuple[Annotation, ...]
) -> list[TraceSpan]:
    """Each span with the annotations recorded apart for it."""
    by_span: dict[str, list[SpanFeedback]] = {}
    for annotation in annotations:
        by_span.setdefault(annotation.span_id, []).append(annotation.feedback)
    return [
        replace(span, feedback=span.feedback + tuple(by_span.get(span.span_id, ())))
        for span in spans
    ]
