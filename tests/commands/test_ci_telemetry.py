"""`promptloop ci` sends the run's verdicts to the user's OpenTelemetry collector (set by
OTEL_EXPORTER_OTLP_ENDPOINT), as `run` does; `--dry-run` sends nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.commands.test_ci_github import HEAD_PROMPT, PROMPT, Scenario
from tests.traces.test_telemetry import Collector, attrs


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()


def test_ci_sends_each_verdict_to_the_collector(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], collector: Collector
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url})
    assert res.code == 1
    [logs] = collector.bodies["/v1/logs"]
    records = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    names = {attrs(r["attributes"])["gen_ai.evaluation.name"] for r in records}
    assert "no-exclamation" in names
    failing = [
        a
        for r in records
        for a in [attrs(r["attributes"])]
        if a["gen_ai.evaluation.name"] == "no-exclamation"
    ]
    assert failing and all(a["gen_ai.evaluation.score.label"] == "fail" for a in failing)
    assert "/v1/traces" in collector.bodies


def test_ci_dry_run_sends_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], collector: Collector
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys, dry_run=True, env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url})
    assert collector.bodies == {}
