"""Every verdict as OpenTelemetry: one ``gen_ai.evaluation.result`` event per evaluator
and case, following the GenAI semantic conventions, in OTLP's JSON encoding.

The run is one trace, each case a span in it (``promptloop.case``), and each evaluation an
event (an OTLP log record) parented to its case's span, as the conventions ask, and the same
event on the case's span for backends that take traces only. Written by
hand rather than through opentelemetry-sdk: the OTLP/JSON encoding is a stable,
documented wire format, the same bytes go to a file (``--otel FILE``) and to a collector,
and the SDK's Python events API is still experimental; so promptloop needs no extra
package for it. Pure: the results in, the two request bodies out.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from promptloop.engine.results import RunResult

SCOPE = {"name": "promptloop"}
EVENT = "gen_ai.evaluation.result"


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _attributes(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in pairs.items() if v is not None]


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def run_ids(result: RunResult) -> tuple[str, str]:
    """The run's trace id and root span id: the same results give the same ids."""
    key = f"{result.created_at}|{result.config_path}|{result.shard or ''}"
    return _hex(key, 32), _hex("run|" + key, 16)


def _nanos(result: RunResult) -> int:
    try:
        return int(datetime.fromisoformat(result.created_at).timestamp() * 1e9)
    except ValueError:
        return 0


def _resource(result: RunResult) -> dict[str, Any]:
    return {
        "attributes": _attributes(
            {"service.name": "promptloop", "service.version": result.promptloop_version}
        )
    }


def telemetry_payloads(result: RunResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """(traces, logs): OTLP ExportTraceServiceRequest and ExportLogsServiceRequest bodies."""
    trace_id, root = run_ids(result)
    start = _nanos(result)
    end = start + int(result.wall_s * 1e9)
    spans: list[dict[str, Any]] = [
        {
            "traceId": trace_id,
            "spanId": root,
            "name": "promptloop run",
            "kind": 1,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": _attributes(
                {
                    "promptloop.config": result.config_path,
                    "promptloop.baseline": result.baseline_ref,
                    "promptloop.verdict": result.verdict.status if result.verdict else None,
                }
            ),
        }
    ]
    records: list[dict[str, Any]] = []
    for suite in result.suites:
        for case in suite.cases:
            span_id = _hex(f"{trace_id}|{suite.name}|{case.id}|{case.repeat}", 16)
            case_end = str(start + int(case.latency_s * 1e9))
            spans.append(
                {
                    "traceId": trace_id,
                    "spanId": span_id,
                    "parentSpanId": root,
                    "name": f"promptloop.case {case.id}",
                    "kind": 1,
                    "startTimeUnixNano": str(start),
                    "endTimeUnixNano": case_end,
                    "attributes": _attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.request.model": suite.model,
                            "gen_ai.usage.input_tokens": case.prompt_tokens,
                            "gen_ai.usage.output_tokens": case.completion_tokens,
                            "promptloop.suite": suite.name,
                            "promptloop.case.id": case.id,
                            "promptloop.case.repeat": case.repeat,
                            "promptloop.case.status": case.status,
                            "promptloop.prompt.sha256": suite.prompt_sha256,
                        }
                    ),
                }
            )
            events: list[dict[str, Any]] = []
            for evaluation in case.evaluations:
                label = "error" if evaluation.error else ("pass" if evaluation.passed else "fail")
                explanation = evaluation.error or evaluation.reason
                if evaluation.suggested_fix:
                    explanation = f"{explanation} Suggested fix: {evaluation.suggested_fix}"
                attributes = _attributes(
                    {
                        "event.name": EVENT,
                        "gen_ai.evaluation.name": evaluation.evaluator,
                        "gen_ai.evaluation.score.value": float(evaluation.score),
                        "gen_ai.evaluation.score.label": label,
                        "gen_ai.evaluation.explanation": explanation or None,
                        "error.type": evaluation.error_type if evaluation.error else None,
                        "promptloop.evaluator.version": result.promptloop_version,
                        "promptloop.suite": suite.name,
                        "promptloop.case.id": case.id,
                    }
                )
                records.append(
                    {
                        "timeUnixNano": str(end),
                        "observedTimeUnixNano": str(end),
                        "severityNumber": 9,
                        "severityText": "INFO",
                        "eventName": EVENT,
                        "traceId": trace_id,
                        "spanId": span_id,
                        "attributes": attributes,
                    }
                )
                events.append({"timeUnixNano": case_end, "name": EVENT, "attributes": attributes})
            # The same events on the case's span too: backends that take traces only
            # (Arize Phoenix, Jaeger) show span events, not log records.
            spans[-1]["events"] = events
    traces = {
        "resourceSpans": [
            {"resource": _resource(result), "scopeSpans": [{"scope": SCOPE, "spans": spans}]}
        ]
    }
    logs = {
        "resourceLogs": [
            {"resource": _resource(result), "scopeLogs": [{"scope": SCOPE, "logRecords": records}]}
        ]
    }
    return traces, logs


_IDS = ("traceId", "spanId", "parentSpanId")


def _proto_json(value: Any) -> Any:
    """OTLP/JSON → protobuf's JSON mapping: ids are hex in the one, base64 in the other."""
    if isinstance(value, list):
        return [_proto_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: base64.b64encode(bytes.fromhex(v)).decode() if k in _IDS and v else _proto_json(v)
        for k, v in value.items()
    }


def encode_protobuf(body: dict[str, Any], signal: str) -> bytes:
    """An OTLP request body (from ``telemetry_payloads``) as binary protobuf, for receivers
    that take only that (``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``). Needs the `otel`
    extra (opentelemetry-proto); ImportError without it."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest() if signal == "traces" else ExportLogsServiceRequest()
    ParseDict(_proto_json(body), message)
    return bytes(message.SerializeToString())
