"""Opt-in: a real OTLP receiver. Arize Phoenix (from PyPI; large, so not in the dev extra)
runs on loopback on SQLite; `promptloop run` sends its verdicts there with
OTEL_EXPORTER_OTLP_ENDPOINT as OTLP protobuf, and Phoenix's own client reads the spans back.

Skipped unless ``PROMPTLOOP_PHOENIX_PYTHON`` names a Python that has ``arize-phoenix`` (it
may live in a venv of its own: its dependencies need not agree with promptloop's):

    python -m venv /tmp/phoenix && /tmp/phoenix/bin/pip install arize-phoenix
    PROMPTLOOP_PHOENIX_PYTHON=/tmp/phoenix/bin/python pytest tests/traces/test_phoenix.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli_env, copy_project, run_promptloop

PHOENIX_PYTHON = os.environ.get("PROMPTLOOP_PHOENIX_PYTHON", "")
pytestmark = pytest.mark.skipif(
    not PHOENIX_PYTHON, reason="opt-in: set PROMPTLOOP_PHOENIX_PYTHON to a Python with Phoenix"
)

# Read back through Phoenix's client, in Phoenix's interpreter: every span with its events.
READ_SPANS = """
import json, sys, time
from phoenix.client import Client
client, want = Client(base_url=sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60  # Phoenix writes what it received in batches
while True:
    spans = client.spans.get_spans(project_identifier="default", limit=1000)
    if len(spans) >= want or time.monotonic() > deadline:
        break
    time.sleep(1)
print(json.dumps(spans, default=str))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    port, grpc = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(tmp_path / "phoenix"),  # its SQLite database
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (tmp_path / "phoenix.log").open("w")
    proc = subprocess.Popen(
        [PHOENIX_PYTHON, "-m", "phoenix.server.main", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Phoenix did not start:\n" + (tmp_path / "phoenix.log").read_text())
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_verdicts_arrive_in_phoenix_as_evaluation_events(
    tmp_path: Path, phoenix: str, serve: Any
) -> None:
    project = copy_project("sentiment", tmp_path)
    _, url = serve()
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace(
            "model: scripted/sentiment", f"model: openai/stub\napi_base: {url}"
        )
    )
    env = cli_env(
        OPENAI_API_KEY="sk-test",
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix,
        # Phoenix takes OTLP as protobuf, and traces only.
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_LOGS_EXPORTER="none",
    )
    proc = run_promptloop(project, "run", ".", "-o", "out", "-q", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert "OTLP" not in proc.stderr, proc.stderr  # no warning: Phoenix took the request
    cases = json.loads((project / "out" / "results.json").read_text())["suites"][0]["cases"]

    read = subprocess.run(
        [PHOENIX_PYTHON, "-c", READ_SPANS, phoenix, str(len(cases) + 1)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert read.returncode == 0, read.stderr
    spans: list[dict[str, Any]] = json.loads(read.stdout)
    by_case = {
        s["attributes"]["promptloop.case.id"]: s
        for s in spans
        if "promptloop.case.id" in s["attributes"]
    }
    assert set(by_case) == {c["id"] for c in cases}
    [run] = [s for s in spans if s["name"] == "promptloop run"]
    for case in cases:
        span = by_case[case["id"]]
        assert span["parent_id"] == run["context"]["span_id"]
        events = {e["attributes"]["gen_ai.evaluation.name"]: e for e in span["events"]}
        assert {e["name"] for e in span["events"]} == {"gen_ai.evaluation.result"}
        assert set(events) == {e["evaluator"] for e in case["evaluations"]}
        for evaluation in case["evaluations"]:
            a = events[evaluation["evaluator"]]["attributes"]
            assert a["gen_ai.evaluation.score.value"] == evaluation["score"]
            assert a["gen_ai.evaluation.score.label"] == (
                "pass" if evaluation["passed"] else "fail"
            )
            assert a["gen_ai.evaluation.explanation"] == evaluation["reason"]
