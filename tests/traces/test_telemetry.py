"""Every verdict as OpenTelemetry: `promptloop run` sends `gen_ai.evaluation.result` events
to an OTLP/HTTP collector on loopback (or writes them to `--otel FILE`), and nothing at
all when neither is set."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli_env, copy_project, run_promptloop


def decode_protobuf(path: str, raw: bytes) -> dict[str, Any]:
    """A protobuf OTLP request as OTLP/JSON (ids back to hex), through opentelemetry-proto."""
    import base64

    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest() if path.endswith("traces") else ExportLogsServiceRequest()
    message.ParseFromString(raw)

    def hex_ids(value: Any) -> Any:
        if isinstance(value, list):
            return [hex_ids(v) for v in value]
        if not isinstance(value, dict):
            return value
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId")
            else hex_ids(v)
            for k, v in value.items()
        }

    return dict(hex_ids(MessageToDict(message)))


class Collector:
    """A minimal OTLP/HTTP receiver: keeps each JSON body by path, answers 200."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[dict[str, Any]]] = {}
        self.headers: list[dict[str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                protobuf = self.headers.get("Content-Type") == "application/x-protobuf"
                body = decode_protobuf(self.path, raw) if protobuf else json.loads(raw)
                collector.bodies.setdefault(self.path, []).append(body)
                collector.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()


def stub_project(tmp_path: Path, serve: Any) -> Path:
    """The sentiment project answered by the loopback stub (which echoes the prompt)."""
    project = copy_project("sentiment", tmp_path)
    _, url = serve()
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace(
            "model: scripted/sentiment", f"model: openai/stub\napi_base: {url}"
        )
    )
    return project


def env_with(**extra: str) -> dict[str, str]:
    env = cli_env(OPENAI_API_KEY="sk-test", **extra)
    for key in [k for k in env if k.startswith("OTEL_")]:
        if key not in extra:
            del env[key]
    return env


def attrs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {i["key"]: next(iter(i["value"].values())) for i in items}


def test_each_verdict_arrives_at_the_collector(
    tmp_path: Path, collector: Collector, serve: Any
) -> None:
    project = stub_project(tmp_path, serve)
    env = env_with(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20abc",
    )
    proc = run_promptloop(project, "run", ".", "-o", "out", "-q", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads((project / "out" / "results.json").read_text())
    cases = results["suites"][0]["cases"]
    [logs] = collector.bodies["/v1/logs"]
    [traces] = collector.bodies["/v1/traces"]
    records = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert len(records) == sum(len(c["evaluations"]) for c in cases)
    spans = {s["spanId"]: s for s in traces["resourceSpans"][0]["scopeSpans"][0]["spans"]}
    run_span = next(s for s in spans.values() if s["name"] == "promptloop run")
    by_case = {
        (r_attrs["promptloop.case.id"], r_attrs["gen_ai.evaluation.name"]): (r, r_attrs)
        for r in records
        for r_attrs in [attrs(r["attributes"])]
    }
    for case in cases:
        for evaluation in case["evaluations"]:
            record, a = by_case[(case["id"], evaluation["evaluator"])]
            assert record["eventName"] == "gen_ai.evaluation.result"
            assert a["gen_ai.evaluation.score.value"] == evaluation["score"]
            assert a["gen_ai.evaluation.score.label"] == (
                "pass" if evaluation["passed"] else "fail"
            )
            assert a["gen_ai.evaluation.explanation"] == evaluation["reason"]
            assert a["promptloop.evaluator.version"] == results["promptloop_version"]
            # Linked to the case's span, which is linked to the run's.
            span = spans[record["spanId"]]
            assert attrs(span["attributes"])["promptloop.case.id"] == case["id"]
            assert span["parentSpanId"] == run_span["spanId"]
            assert record["traceId"] == run_span["traceId"]
    assert {h.get("authorization") or h.get("Authorization") for h in collector.headers} == {
        "Bearer abc"
    }


def test_otel_file_holds_the_same_events(tmp_path: Path, serve: Any) -> None:
    project = stub_project(tmp_path, serve)
    proc = run_promptloop(
        project,
        "run",
        ".",
        "-o",
        "out",
        "-q",
        "--otel",
        "out/otel.jsonl",
        env=env_with(),
    )
    assert proc.returncode in (0, 1), proc.stderr
    lines = (project / "out" / "otel.jsonl").read_text().splitlines()
    assert [next(iter(json.loads(line))) for line in lines] == ["resourceSpans", "resourceLogs"]
    records = json.loads(lines[1])["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    names = {attrs(r["attributes"])["gen_ai.evaluation.name"] for r in records}
    assert names == {"label", "short"}


def test_nothing_is_sent_or_written_unless_asked(
    tmp_path: Path, collector: Collector, serve: Any
) -> None:
    project = stub_project(tmp_path, serve)
    env = env_with()
    proc = run_promptloop(project, "run", ".", "-o", "out", "-q", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert collector.bodies == {}
    assert sorted(p.name for p in (project / "out").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.md",
        "results.json",
    ]


def test_a_collector_that_is_down_is_a_warning_not_a_failure(tmp_path: Path, serve: Any) -> None:
    project = stub_project(tmp_path, serve)
    env = env_with(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    ok = run_promptloop(project, "run", ".", "-o", "plain", "-q", env=env_with())
    proc = run_promptloop(project, "run", ".", "-o", "out", "-q", env=env)
    assert proc.returncode == ok.returncode
    assert (
        "promptloop: warning: could not reach the OTLP collector at http://127.0.0.1:9/v1/traces"
        in proc.stderr
    )
    assert (project / "out" / "results.json").is_file()


def test_protobuf_for_receivers_that_take_only_that_and_traces_only(
    tmp_path: Path, collector: Collector, serve: Any
) -> None:
    """Arize Phoenix's shape of receiver: OTLP protobuf, traces only (the evaluation events
    ride on the case spans); tests/traces/test_phoenix.py runs the real one."""
    project = stub_project(tmp_path, serve)
    env = env_with(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_LOGS_EXPORTER="none",
    )
    proc = run_promptloop(project, "run", ".", "-o", "out", "-q", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert "warning" not in proc.stderr
    assert {h.get("Content-Type") for h in collector.headers} == {"application/x-protobuf"}
    assert list(collector.bodies) == ["/v1/traces"]
    cases = json.loads((project / "out" / "results.json").read_text())["suites"][0]["cases"]
    [traces] = collector.bodies["/v1/traces"]
    spans = traces["resourceSpans"][0]["scopeSpans"][0]["spans"]
    run_span = next(s for s in spans if s["name"] == "promptloop run")
    for case in cases:
        [span] = [
            s for s in spans if attrs(s["attributes"]).get("promptloop.case.id") == case["id"]
        ]
        assert span["parentSpanId"] == run_span["spanId"]
        events = {attrs(e["attributes"])["gen_ai.evaluation.name"]: e for e in span["events"]}
        assert set(events) == {e["evaluator"] for e in case["evaluations"]}
        for evaluation in case["evaluations"]:
            event = events[evaluation["evaluator"]]
            a = attrs(event["attributes"])
            assert event["name"] == "gen_ai.evaluation.result"
            assert a["gen_ai.evaluation.score.value"] == evaluation["score"]
            assert a["gen_ai.evaluation.explanation"] == evaluation["reason"]
