"""OTLP JSON: spans with the OpenTelemetry GenAI attributes or the OpenInference ones
(Arize Phoenix), and Phoenix's span annotations."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from promptloop.errors import UserError
from promptloop.traces.shapes import json_value, optional_str, tool_call, turn
from promptloop.traces.spans import (
    MAX_SPANS,
    SpanAnnotation,
    SpanFeedback,
    TraceFile,
    TraceSpan,
    verdict_of,
)


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


_SNAKE_VALUES = {
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
    "array_value": "arrayValue",
    "kvlist_value": "kvlistValue",
}


def _camel_value(value: Any) -> Any:
    """An AnyValue as Phoenix's span export writes it (snake_case keys, unset ones null)."""
    if isinstance(value, list):
        return [_camel_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {_SNAKE_VALUES.get(k, k): _camel_value(v) for k, v in value.items() if v is not None}


def phoenix_spans(data: list[Any]) -> dict[str, Any]:
    """Arize Phoenix's own span export (``GET /v1/projects/{id}/spans/otlpv1``: a ``data``
    list of OTLP spans in snake_case) as an OTLP JSON document."""
    spans = [
        {
            "traceId": span.get("trace_id"),
            "spanId": span.get("span_id"),
            "name": span.get("name"),
            "attributes": [
                {"key": a.get("key"), "value": _camel_value(a.get("value"))}
                for a in span.get("attributes") or []
                if isinstance(a, dict)
            ],
            "events": span.get("events") or [],
        }
        for span in data
        if isinstance(span, dict)
    ]
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def _variables(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """OpenInference's template variables: one JSON attribute, or (as Phoenix exports them)
    one attribute per variable under ``llm.prompt_template.variables.``."""
    whole = json_value(attrs.get("llm.prompt_template.variables"))
    if isinstance(whole, dict):
        return whole
    prefix = "llm.prompt_template.variables."
    flat = {k.removeprefix(prefix): v for k, v in attrs.items() if k.startswith(prefix)}
    return flat or None


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


def read_otlp(document: Mapping[str, Any], display: str, line: int | None) -> TraceFile:
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
            calls.append(tool_call(part.get("name"), part.get("arguments"), part.get("id")))
        elif kind == "tool_call_response":
            answered = str(part.get("id") or "") or None
            response = part.get("response")
            texts.append(response if isinstance(response, str) else json.dumps(response))
    return "".join(texts), calls, answered


def _genai(
    attrs: dict[str, Any], raw: dict[str, Any], trace_id: str, span_id: str
) -> TraceSpan | None:
    messages: list[dict[str, Any]] = []
    system = json_value(attrs.get("gen_ai.system_instructions"))
    if system:
        text, _, _ = _genai_parts(system if isinstance(system, list) else [system])
        if text:
            messages.append({"role": "system", "content": text})
    inputs = json_value(attrs.get("gen_ai.input.messages"))
    outputs = json_value(attrs.get("gen_ai.output.messages"))
    if isinstance(inputs, list):
        for message in inputs:
            if isinstance(message, dict):
                text, calls, answered = _genai_parts(message.get("parts"))
                messages.append(turn(str(message.get("role") or "user"), text, calls, answered))
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
        prompt_name=optional_str(attrs.get("gen_ai.prompt.name")),
        prompt_version=optional_str(attrs.get("gen_ai.prompt.version")),
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
                tool_call(
                    attrs[f"{base}.name"], attrs.get(f"{base}.arguments"), attrs.get(f"{base}.id")
                )
            )
            j += 1
        turns.append(turn(role, content, calls, None))
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
    variables = _variables(attrs)
    return TraceSpan(
        format="openinference",
        trace_id=trace_id,
        span_id=span_id,
        messages=tuple(messages),
        output=output,
        model=optional_str(attrs.get("llm.model_name")),
        tool_calls=tuple(calls),
        prompt_name=optional_str(
            attrs.get("llm.prompt_template.name") or attrs.get("metadata.prompt_name")
        ),
        prompt_version=optional_str(attrs.get("llm.prompt_template.version")),
        template=optional_str(attrs.get("llm.prompt_template.template")),
        variables=variables,
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
                tool_call(
                    attrs[f"{call}.function.name"],
                    attrs.get(f"{call}.function.arguments"),
                    attrs.get(f"{call}.id"),
                )
            )
            j += 1
        role = str(attrs.get(f"{base}.role") or "user")
        turns.append(
            turn(role, str(content or ""), calls, optional_str(attrs.get(f"{base}.tool_call_id")))
        )
        index += 1
    return turns


def phoenix_annotation(record: Mapping[str, Any]) -> SpanAnnotation | None:
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
    return SpanAnnotation(
        span_id=str(record.get("span_id")),
        feedback=SpanFeedback(verdict, str(result.get("explanation") or ""), str(by), name),
    )
