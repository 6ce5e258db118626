"""Send a run's verdicts to an OpenTelemetry collector (OTLP/HTTP, JSON or, with
``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`` and the `otel` extra, protobuf), or write them
to a file. Nothing happens, and nothing is imported, unless the user set an endpoint or
``--otel FILE``: telemetry is the user's opt-in, never a default.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from promptloop.engine.results import RunResult
from promptloop.report.telemetry import encode_protobuf, telemetry_payloads

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
SIGNAL_ENDPOINTS = {
    "traces": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "logs": "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
}


def wanted(env: Mapping[str, str], file: Path | None) -> bool:
    return file is not None or any(env.get(k) for k in (ENDPOINT, *SIGNAL_ENDPOINTS.values()))


def _headers(env: Mapping[str, str], content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    for item in (env.get("OTEL_EXPORTER_OTLP_HEADERS") or "").split(","):
        key, found, value = item.partition("=")
        if found and key.strip():
            headers[key.strip()] = urllib.parse.unquote(value.strip())
    return headers


def _url(env: Mapping[str, str], signal: str) -> str | None:
    # OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER=none turn a signal off, as in the SDKs (a
    # receiver that takes traces only, such as Arize Phoenix, answers the logs with 405).
    if env.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower() == "none":
        return None
    specific = env.get(SIGNAL_ENDPOINTS[signal])
    if specific:
        return specific
    base = env.get(ENDPOINT)
    return f"{base.rstrip('/')}/v1/{signal}" if base else None


def export_telemetry(result: RunResult, file: Path | None, env: Mapping[str, str]) -> list[str]:
    """Write or send the run's spans and evaluation events; returns what went wrong, one
    line each (a collector that is down must not fail the run: the reports are written)."""
    traces, logs = telemetry_payloads(result)
    problems: list[str] = []
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        # The OTLP file exporter's shape: one export request per line.
        file.write_text(json.dumps(traces) + "\n" + json.dumps(logs) + "\n", encoding="utf-8")
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json").strip()
    sending = bool(env.get(ENDPOINT) or any(env.get(k) for k in SIGNAL_ENDPOINTS.values()))
    if protocol not in ("http/json", "http/protobuf") and sending:
        problems.append(
            f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol}; promptloop sends OTLP over HTTP, as "
            "JSON or (http/protobuf) protobuf, to the HTTP port (4318 by default): sent as JSON"
        )
        protocol = "http/json"
    try:
        timeout = float(env.get("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")) / 1000
    except ValueError:
        timeout = 10.0
    for signal, body in (("traces", traces), ("logs", logs)):
        url = _url(env, signal)
        if url is None:
            continue
        if protocol == "http/protobuf":
            try:
                data, content_type = encode_protobuf(body, signal), "application/x-protobuf"
            except ImportError:
                problems.append(
                    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf needs the `otel` extra "
                    "(pip install 'promptloop[otel]'); nothing was sent"
                )
                break
        else:
            data, content_type = json.dumps(body).encode("utf-8"), "application/json"
        request = urllib.request.Request(
            url, data=data, headers=_headers(env, content_type), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            problems.append(f"the OTLP collector at {url} answered {error.code} {error.reason}")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            problems.append(f"could not reach the OTLP collector at {url}: {reason}")
    return problems
