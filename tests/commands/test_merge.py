"""`promptloop merge`: shards of one run merge into the verdict of the unsharded run, and
inputs that cannot be parts of one run are refused with one line naming the file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.commands.merge import ShardInput, gate_settings, merge_command, merge_results
from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.engine.results import (
    CaseRecord,
    RunResult,
    SuiteResult,
    UsageTotals,
    read_results,
    write_results,
)
from promptloop.errors import UserError
from promptloop.gate.verdicts import judge_run
from promptloop.models.scripted import clear_scripts, register_script
from promptloop.project.config.gate import GateConfig

WRONG = ("alpha-3", "gamma-2", *(f"beta-{i}" for i in range(1, 7)))


@pytest.fixture(autouse=True)
def _scripts() -> Iterator[None]:
    clear_scripts()
    register_script("merge", _answer)
    yield
    clear_scripts()


def _answer(call: dict[str, Any]) -> str:
    """Echo the case's word, wrong on a few cases so the suites both pass and fail."""
    text = str(call["messages"][-1]["content"])
    word = text.rsplit(" ", 1)[-1].strip()
    return "nope" if word in WRONG else word


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}\n")
    for suite in ("alpha", "beta", "gamma"):
        rows = [
            {"id": f"{suite}-{i}", "vars": {"word": f"{suite}-{i}"}, "expected": f"{suite}-{i}"}
            for i in range(9)
        ]
        rows[0]["tags"] = ["critical"]
        (root / "evals" / f"{suite}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suites = "".join(
        f"""  - name: {suite}
    prompt: prompts/echo.md
    dataset: evals/{suite}.jsonl
    threshold: {threshold}
    evaluators:
      - equals: "{{{{ word }}}}"
        name: word
"""
        for suite, threshold in (("alpha", 0.5), ("beta", 0.95), ("gamma", 0.5))
    )
    (root / "promptloop.yaml").write_text(
        f"model: scripted/merge\nconcurrency: 3\nseed: 3\nrepeat: 2\nsuites:\n{suites}"
    )
    return root


def _run(project: Path, out: Path, shard: str | None = None) -> RunResult:
    opts = RunOptions(output_dir=out, no_cache=True)
    result = execute_run(opts, project_for(ProjectQuery(start_dir=project, shard=shard)))
    write_results(result, out / "results.json")
    return result


def _counts(result: RunResult) -> dict[str, tuple[int, int, int]]:
    return {s.name: s.counts for s in result.suites}


def test_two_shards_merge_into_the_unsharded_run(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _run(project, tmp_path / "whole")
    one = _run(project, tmp_path / "s1", "1/2")
    two = _run(project, tmp_path / "s2", "2/2")
    # The shards really split the work: both non-empty, neither the whole.
    assert 0 < sum(len(s.cases) for s in one.suites) < sum(len(s.cases) for s in whole.suites)
    assert sum(len(s.cases) for s in two.suites) > 0

    monkeypatch.chdir(project)  # the gate comes from the promptloop.yaml found here
    out = tmp_path / "merged"
    code = merge_command(
        [tmp_path / "s2" / "results.json", tmp_path / "s1" / "results.json"],
        output_dir=out,
        config_path=None,
        console=None,
    )
    merged = read_results(out / "results.json")
    assert {p.name for p in out.iterdir()} >= {
        "results.json",
        "junit.xml",
        "report.md",
        "report.html",
    }
    assert _counts(merged) == _counts(whole)
    for m, w in zip(merged.suites, whole.suites, strict=True):
        assert m.name == w.name
        # Same cases in the same (dataset, repeat) order as the unsharded run.
        assert [(c.id, c.repeat) for c in m.cases] == [(c.id, c.repeat) for c in w.cases]
        assert [(e.name, e.passed, e.failed) for e in m.evaluators] == [
            (e.name, e.passed, e.failed) for e in w.evaluators
        ]
    assert merged.usage.model_calls == whole.usage.model_calls
    assert merged.usage.model_calls == one.usage.model_calls + two.usage.model_calls
    assert merged.wall_s == max(one.wall_s, two.wall_s)
    assert merged.shard is None
    assert whole.verdict is not None and merged.verdict is not None
    assert merged.verdict.status == whole.verdict.status == "fail"
    assert {k: v.status for k, v in merged.verdicts.items()} == {
        k: v.status for k, v in whole.verdicts.items()
    }
    assert code == 1  # beta passes 3 of 9 against its 0.95 threshold


def _case(case_id: str, status: str = "pass", source: str | None = None) -> CaseRecord:
    return CaseRecord(
        id=case_id,
        split="train",
        source=source,
        vars={},
        output="x",
        status=status,  # type: ignore[arg-type]
        score=1.0 if status == "pass" else 0.0,
    )


def _suite(name: str, cases: list[CaseRecord], sha: str = "a" * 64, **kw: Any) -> SuiteResult:
    return SuiteResult(
        name=name,
        prompt_path="p.md",
        prompt_sha256=sha,
        model="m",
        cases=cases,
        usage=UsageTotals(prompt_tokens=len(cases)),
        **kw,
    )


def _result(shard: str | None, suites: list[SuiteResult], **kw: Any) -> RunResult:
    fields: dict[str, Any] = {
        "promptloop_version": "0",
        "created_at": "2026-01-01T00:00:00+00:00",
        "config_path": "promptloop.yaml",
        "model": "m",
        "judge_model": "m",
        "shard": shard,
        "suites": suites,
    }
    fields.update(kw)
    return RunResult(**fields)


def test_merge_concatenates_baseline_and_sums_usage() -> None:
    a = _result(
        "1/2",
        [_suite("s", [_case("c1", source="d.jsonl:1")])],
        baseline=[_suite("s", [_case("c1", "fail", "d.jsonl:1")], sha="b" * 64, variant="base")],
        baseline_ref="main",
        usage=UsageTotals(model_calls=4, cost_usd=0.5),
        wall_s=3.0,
        notices=["n1"],
    )
    b = _result(
        "2/2",
        [_suite("s", [_case("c3", source="d.jsonl:3"), _case("c2", source="d.jsonl:2")])],
        baseline=[_suite("s", [_case("c2", source="d.jsonl:2")], sha="b" * 64, variant="base")],
        baseline_ref="main",
        usage=UsageTotals(model_calls=6, cost_usd=0.25),
        wall_s=5.0,
        notices=["n1", "n2"],
    )
    merged = merge_results([ShardInput("b.json", b), ShardInput("a.json", a)])
    assert [c.id for c in merged.suites[0].cases] == ["c1", "c2", "c3"]
    assert [c.id for c in merged.baseline[0].cases] == ["c1", "c2"]
    assert merged.baseline[0].variant == "base"
    assert merged.usage.model_calls == 10 and merged.usage.cost_usd == 0.75
    assert merged.suites[0].usage.prompt_tokens == 3
    assert merged.wall_s == 5.0
    assert merged.notices == ["n1", "n2"]
    assert merged.baseline_ref == "main"


def _confirming(case_id: str, line: int, status: str) -> list[CaseRecord]:
    return [
        _case(case_id, status, f"d.jsonl:{line}").model_copy(update={"repeat": r}) for r in (1, 2)
    ]


def _confirmed_shard(shard: str, case_id: str, line: int, head_status: str) -> RunResult:
    """A shard with one case that broke on the first look, confirmed twice on each side."""
    source = f"d.jsonl:{line}"
    return _result(
        shard,
        [
            _suite(
                "s",
                [_case(case_id, "fail", source)],
                confirmation_runs=_confirming(case_id, line, head_status),
            )
        ],
        baseline=[
            _suite(
                "s",
                [_case(case_id, source=source)],
                sha="b" * 64,
                variant="base",
                confirmation_runs=_confirming(case_id, line, "pass"),
            )
        ],
        baseline_ref="main",
    )


def test_merge_keeps_each_shards_confirmation_runs_and_judges_them_together() -> None:
    # Each shard confirmed its own broken case (shards confirm every change).
    a = _confirmed_shard("1/2", "c1", 1, "fail")
    b = _confirmed_shard("2/2", "c2", 2, "pass")
    merged = merge_results([ShardInput("b.json", b), ShardInput("a.json", a)])
    # Repeat by repeat, in dataset order within each: as an unsharded run lists them.
    assert [(c.id, c.repeat) for c in merged.suites[0].confirmation_runs] == [
        ("c1", 1),
        ("c2", 1),
        ("c1", 2),
        ("c2", 2),
    ]
    assert len(merged.baseline[0].confirmation_runs) == 4
    judged = judge_run(merged, GateConfig())
    confirmation = judged.comparisons["s"].confirmation
    # c1 fails all three head runs against three base passes; c2 passes 2 of 3 on head.
    assert confirmation.cases == 2 and confirmation.complete is True
    assert confirmation.delta_pp == pytest.approx(100 * (-1 + (2 / 3 - 1)) / 2)


def test_refuses_a_confirmation_run_listed_twice() -> None:
    runs = _confirming("c1", 1, "pass")
    a = _result("1/2", [_suite("s", [_case("c1")], confirmation_runs=runs)])
    b = _result("2/2", [_suite("s", [_case("c2")], confirmation_runs=runs)])
    line = _refusal([ShardInput("one.json", a), ShardInput("two.json", b)])
    assert line.startswith("two.json: ") and "'c1'" in line


def _refusal(inputs: list[ShardInput]) -> str:
    with pytest.raises(UserError) as info:
        merge_results(inputs)
    line = info.value.one_line()
    assert "\n" not in line
    return line


def test_refuses_a_case_run_in_two_inputs() -> None:
    a = _result(None, [_suite("s", [_case("c1"), _case("c2")])])
    b = _result(None, [_suite("s", [_case("c2")])])
    line = _refusal([ShardInput("one.json", a), ShardInput("two.json", b)])
    assert line.startswith("two.json: ")
    assert "'c2'" in line and "one.json" in line


def test_refuses_the_same_shard_twice_and_missing_shards() -> None:
    one = _result("1/3", [_suite("s", [_case("c1")])])
    two = _result("2/3", [_suite("s", [_case("c2")])])
    line = _refusal([ShardInput("x.json", one), ShardInput("y.json", one)])
    assert line.startswith("y.json: ") and "1/3" in line and "x.json" in line
    line = _refusal([ShardInput("x.json", one), ShardInput("z.json", two)])
    assert "3/3 missing" in line and "x.json" in line and "z.json" in line


def test_refuses_shards_of_different_counts_and_whole_runs() -> None:
    one = _result("1/2", [_suite("s", [_case("c1")])])
    other = _result("2/3", [_suite("s", [_case("c2")])])
    line = _refusal([ShardInput("a.json", one), ShardInput("b.json", other)])
    assert line.startswith("b.json: ") and "2/3" in line
    whole = _result(None, [_suite("s", [_case("c3")])])
    two = _result("2/2", [_suite("s", [_case("c2")])])
    line = _refusal([ShardInput("a.json", one), ShardInput("b.json", two), ShardInput("w", whole)])
    assert line.startswith("w: ") and "not a shard" in line


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"model": "other"}, "model"),
        ({"baseline_ref": "v2"}, "baseline_ref"),
    ],
)
def test_refuses_results_of_different_runs(change: dict[str, Any], key: str) -> None:
    one = _result("1/2", [_suite("s", [_case("c1")])])
    two = _result("2/2", [_suite("s", [_case("c2")])], **change)
    line = _refusal([ShardInput("a.json", one), ShardInput("b.json", two)])
    assert line.startswith(f"b.json: {key}: ") and "a.json" in line


def test_refuses_shards_that_ran_different_suites() -> None:
    one = _result("1/2", [_suite("s", [_case("c1")]), _suite("t", [])])
    two = _result("2/2", [_suite("s", [_case("c2")])])
    line = _refusal([ShardInput("a.json", one), ShardInput("b.json", two)])
    assert line.startswith("b.json: suites: ") and "s, t in a.json" in line


def test_refuses_a_suite_whose_prompt_differs() -> None:
    one = _result("1/2", [_suite("s", [_case("c1")])])
    two = _result("2/2", [_suite("s", [_case("c2")], sha="c" * 64)])
    line = _refusal([ShardInput("a.json", one), ShardInput("b.json", two)])
    assert line.startswith("b.json: prompt_sha256: ") and "'s'" in line


def test_cli_merge_reports_a_bad_input_in_one_line(tmp_path: Path) -> None:
    one = _result("1/2", [_suite("s", [_case("c1")])])
    write_results(one, tmp_path / "one.json")
    res = CliRunner().invoke(
        cli, ["merge", str(tmp_path / "one.json"), "-o", str(tmp_path / "out")]
    )
    assert res.exit_code == 2
    assert "2/2 missing" in res.output
    assert not (tmp_path / "out").exists()


def test_cli_merge_writes_reports_and_exits_with_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    failing = [_case(f"c{i}", "fail") for i in range(3, 8)]
    one = _result("1/2", [_suite("s", [_case("c1"), *failing], threshold=0.9)])
    two = _result("2/2", [_suite("s", [_case("c2")], threshold=0.9)])
    write_results(one, tmp_path / "one.json")
    write_results(two, tmp_path / "two.json")
    res = CliRunner().invoke(
        cli, ["merge", "one.json", "two.json", "-o", "merged", "--quiet"], catch_exceptions=False
    )
    merged = read_results(tmp_path / "merged" / "results.json")
    assert merged.suites[0].counts == (2, 5, 0)
    assert merged.verdict is not None and merged.verdict.status == "fail"
    assert res.exit_code == 1
    assert (tmp_path / "merged" / "junit.xml").is_file()


def test_gate_comes_from_config_then_cwd_then_defaults(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "promptloop.yaml"
    config.write_text(
        "seed: 9\ngate: {max_regression_pp: 2.5}\nsuites:\n"
        "  - {name: s, prompt: p.md, dataset: d.jsonl}\n"
    )
    explicit = gate_settings(config, tmp_path)
    assert (explicit.gate.max_regression_pp, explicit.seed) == (2.5, 9)
    found = gate_settings(None, tmp_path / "cfg")
    assert found.gate.max_regression_pp == 2.5
    empty = tmp_path / "empty"
    empty.mkdir()
    assert gate_settings(None, empty).gate == GateConfig()


def test_an_interrupted_shard_makes_the_merged_run_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stopped = _result(
        "1/2", [_suite("s", [_case("c1")], not_run=4)], incomplete="interrupted by SIGTERM"
    )
    write_results(stopped, tmp_path / "one.json")
    write_results(_result("2/2", [_suite("s", [_case("c2")])]), tmp_path / "two.json")
    res = CliRunner().invoke(cli, ["merge", "one.json", "two.json", "-o", "merged", "--quiet"])
    merged = read_results(tmp_path / "merged" / "results.json")
    # Every case that ran passed, yet a run missing cases is never a pass.
    assert merged.suites[0].counts == (2, 0, 0) and merged.suites[0].not_run == 4
    assert merged.incomplete == "one.json was interrupted by SIGTERM"
    assert merged.verdict is not None and merged.verdict.failed_checks == ["incomplete"]
    assert res.exit_code == 1
    assert "4 cases did not run" in (tmp_path / "merged" / "report.md").read_text()
