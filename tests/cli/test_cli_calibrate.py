"""`promptloop calibrate` on a run's results and the reviewers' feedback file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.models.scripted import register_script
from tests.support import copy_project


def sentiment(call: dict[str, Any]) -> str:
    """Says "positive" to everything; as a judge, passes everything (an uncalibrated judge)."""
    if call["json_schema"] is not None:
        return json.dumps({"critique": "looks like a fine label", "passed": True, "score": 1.0})
    return "positive"


@pytest.fixture
def project(tmp_path: Path, clean_scripts: None) -> Path:
    register_script("sentiment", sentiment)
    root = copy_project("sentiment", tmp_path)
    config = root / "promptloop.yaml"
    config.write_text(
        config.read_text() + '      - judge: "The label matches the review."\n        name: tone\n'
    )
    return root


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_calibration_shows_agreement_kappa_and_the_disagreement(project: Path) -> None:
    out = project / "out"
    ran = invoke("run", "-q", str(project), "-o", str(out))
    results = str(out / "results.json")
    # "positive" to every review: the negative ones fail their label, which nothing gates.
    cases = json.loads((out / "results.json").read_text())["suites"][0]["cases"]
    labels = [json.loads(line)["label"] for line in (project / "evals" / "reviews.jsonl").open()]
    assert [c["status"] for c in cases] == [
        "pass" if label == "positive" else "fail" for label in labels
    ]
    assert ran.exit_code == 0, ran.output
    common = ["--dir", str(project), "--results", results, "--by", "dana"]
    assert invoke("feedback", "add", "sentiment", "r01", "good", *common).exit_code == 0
    added = invoke("feedback", "add", "sentiment", "r02", "bad", "it is a complaint", *common)
    assert added.exit_code == 0, added.output
    res = invoke("calibrate", "sentiment", "--dir", str(project), "--results", results)
    assert res.exit_code == 0, res.output
    # Judge passes both; reviewers: one good, one bad → agreement 1/2, kappa 0,
    # SE = sqrt(0.25 / (2 * 0.25)) = 0.707, so the interval spans everything.
    assert "sentiment / tone: 2 labelled outputs, agreement 50%, kappa 0.00" in res.output
    assert "(95% CI -1.00 to 1.00)" in res.output
    assert "  judge pass                 1             1" in res.output
    assert "r02: judge pass (looks like a fine label); reviewer bad (it is a complaint)" in (
        res.output
    )


def test_an_unknown_suite_is_a_usage_error(project: Path) -> None:
    res = invoke("calibrate", "sentimnt", "--dir", str(project))
    assert res.exit_code == 2
    assert "no suite named 'sentimnt'" in res.stderr
