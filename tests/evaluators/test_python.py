from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.evaluators import build_evaluator
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.python_check import CaseView, PythonEvaluator
from promptloop.models.base import ModelRequest, ModelResponse

CASE = Case(
    id="p1",
    vars={"ticket": "charged twice", "nested": {"k": [1]}},
    expected="billing",
    metadata={"source": "prod"},
    tags=("smoke",),
)

CHECKS = """
import asyncio

def is_billing(output, case):
    return output.strip() == case["expected"]

def attr_access(output, case):
    return case.vars["ticket"] in output and case.metadata["source"] == "prod"

def graded(output, case):
    return len(output) / 10

def explained(output, case):
    ok = "sorry" in output.lower()
    return {"passed": ok, "reason": "apologises" if ok else "does not apologise",
            "error_type": None if ok else "tone", "suggested_fix": "Say sorry first."}

def score_only(output, case):
    return {"score": 0.4}

def near(output, case, target, tolerance=0):
    return abs(len(output) - target) <= tolerance

def boom(output, case):
    return 1 / 0

def nothing(output, case):
    pass

def too_big(output, case):
    return 1.5

def wrong_keys(output, case):
    return {"pass": True}

def mutate(output, case):
    case.vars["nested"]["k"].append(2)
    return True

def exits(output, case):
    raise SystemExit(3)

def ids(output, case):
    return {"passed": True, "reason": f"{case.id} {list(case)} {case.tags}"}

async def slow_ok(output, case):
    await asyncio.sleep(0)
    return True

def hog(output, case):
    held = []
    for _ in range(128):  # 1 GB at most, should the cap not hold
        held.append(b"x" * (8 << 20))
    return True

def modest(output, case):
    return len(b"x" * (16 << 20)) > 0

class Holder:
    @staticmethod
    def check(output, case):
        return True

NOT_CALLABLE = 3
"""


class _NoJudge:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("python checks must not call a model")


CTX = EvalContext(judge=_NoJudge(), judge_model="unused")


@dataclass
class Spec:
    kind: str
    args: Any = None
    weight: float = 1.0
    name: str | None = None


@pytest.fixture
def checks_dir(tmp_path: Path) -> Path:
    # A unique module name per test: imported modules are cached in sys.modules.
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "checks.py").write_text(CHECKS)
    return tmp_path


def build(args: Any, base_dir: Path, **options: Any) -> Any:
    return build_evaluator(Spec("python", args, **options), base_dir=base_dir)


def run(args: Any, output: str, base_dir: Path, case: Case = CASE) -> EvalResult:
    return asyncio.run(build(args, base_dir).evaluate(output, case, CTX))


def test_file_target_relative_to_base_dir(checks_dir: Path) -> None:
    result = run("evals/checks.py:is_billing", " billing ", checks_dir)
    assert result.passed
    assert result.score == 1.0
    assert result.evaluator == "python:is_billing"
    assert result.reason == "evals/checks.py:is_billing passed"
    failed = run("evals/checks.py:is_billing", "technical", checks_dir)
    assert not failed.passed
    assert failed.reason == 'evals/checks.py:is_billing returned False for output "technical"'


def test_module_target_found_in_base_dir(tmp_path: Path) -> None:
    module = f"plchecks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(CHECKS)
    try:
        assert run(f"{module}:is_billing", "billing", tmp_path).passed
        assert str(tmp_path) not in sys.path  # the import did not leave base_dir behind
    finally:
        sys.modules.pop(module, None)


def test_case_view_supports_attribute_and_mapping_access(checks_dir: Path) -> None:
    assert run("evals/checks.py:attr_access", "about: charged twice", checks_dir).passed
    result = run("evals/checks.py:ids", "x", checks_dir)
    assert result.reason == (
        "p1 ['id', 'vars', 'expected', 'metadata', 'tags', 'tool_calls', 'messages'] ('smoke',)"
    )


def test_case_view_is_a_copy(checks_dir: Path) -> None:
    run("evals/checks.py:mutate", "x", checks_dir)
    assert CASE.vars["nested"] == {"k": [1]}
    view = CaseView.of(CASE)
    with pytest.raises(TypeError):
        view.vars["ticket"] = "changed"  # type: ignore[index]


def test_float_score_passes_at_threshold(checks_dir: Path) -> None:
    low = run("evals/checks.py:graded", "abc", checks_dir)
    assert not low.passed
    assert low.score == pytest.approx(0.3)
    assert "scored 0.30 (needs 0.50)" in low.reason
    high = run("evals/checks.py:graded", "abcdef", checks_dir)
    assert high.passed
    assert "scored 0.60 (passes at 0.50)" in high.reason


def test_custom_threshold(checks_dir: Path) -> None:
    args = {"function": "evals/checks.py:graded", "threshold": 0.2}
    assert run(args, "abc", checks_dir).passed


def test_dict_result_carries_reason_and_fields(checks_dir: Path) -> None:
    failed = run("evals/checks.py:explained", "No.", checks_dir)
    assert not failed.passed
    assert failed.score == 0.0
    assert failed.reason == "does not apologise"
    assert failed.error_type == "tone"
    assert failed.suggested_fix == "Say sorry first."
    passed = run("evals/checks.py:explained", "Sorry!", checks_dir)
    assert passed.passed
    assert passed.reason == "apologises"


def test_dict_with_score_only_uses_threshold(checks_dir: Path) -> None:
    result = run("evals/checks.py:score_only", "x", checks_dir)
    assert not result.passed
    assert result.score == pytest.approx(0.4)


def test_keyword_args_are_passed(checks_dir: Path) -> None:
    args = {"function": "evals/checks.py:near", "args": {"target": 5, "tolerance": 1}}
    assert run(args, "abcd", checks_dir).passed
    assert not run(args, "ab", checks_dir).passed


def test_async_function_is_awaited(checks_dir: Path) -> None:
    assert run("evals/checks.py:slow_ok", "x", checks_dir).passed


def test_dotted_attribute(checks_dir: Path) -> None:
    assert run("evals/checks.py:Holder.check", "x", checks_dir).passed


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        ("boom", "evals/checks.py:boom raised ZeroDivisionError: division by zero"),
        ("nothing", "returned None"),
        ("too_big", "returned score 1.5, outside 0..1"),
        ("wrong_keys", "unknown key pass"),
        ("exits", "raised SystemExit: 3"),
    ],
)
def test_bad_behaviour_is_an_error_never_a_pass(
    checks_dir: Path, function: str, fragment: str
) -> None:
    result = run(f"evals/checks.py:{function}", "x", checks_dir)
    assert not result.passed
    assert result.score == 0.0
    assert result.error is not None
    assert fragment in result.error
    assert fragment in result.reason


def test_returned_eval_result_is_renamed() -> None:
    evaluator = PythonEvaluator(name="mine", target="m:f", function=lambda o, c: None, weight=3)
    given = EvalResult(evaluator="other", passed=True, score=0.9, reason="fine")
    result = evaluator.interpret(given, "x")
    assert result.evaluator == "mine"
    assert result.weight == 3
    assert result.reason == "fine"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ("evals/checks.py", 'expected "module:function"'),
        ("evals/missing.py:f", "file evals/missing.py not found"),
        ("evals/checks.py:absent", "has no attribute 'absent'"),
        ("evals/checks.py:NOT_CALLABLE", "is a int, not a function"),
        ("no_such_module_pl:f", "cannot import module 'no_such_module_pl'"),
        ({"function": "evals/checks.py:near"}, "cannot be called as fn(output, case)"),
        (
            {"function": "evals/checks.py:is_billing", "args": {"x": 1}},
            "cannot be called as fn(output, case, x=...)",
        ),
        ({"function": "evals/checks.py:graded", "threshold": 2}, "threshold must be"),
        ({"fn": "evals/checks.py:graded"}, "unknown key fn"),
        ({"args": {}}, "missing key function"),
        (42, 'expected "module:function"'),
    ],
)
def test_build_errors(checks_dir: Path, args: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        build(args, checks_dir)
    assert fragment in str(info.value)
    assert str(info.value).startswith("python:")
    # Said as the config wrote it: the machine's layout stays out of the message.
    assert str(checks_dir) not in str(info.value)


def test_module_that_fails_to_import_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(textwrap.dedent("raise RuntimeError('no config')\n"))
    with pytest.raises(ValueError, match=r"importing bad.py failed: RuntimeError: no config"):
        build("bad.py:f", tmp_path)


def test_a_file_whose_import_never_ends_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its top level runs at import, before any check: bounded like the check itself.
    monkeypatch.setattr("promptloop.scripts.python.IMPORT_LIMIT_S", 0.5)
    (tmp_path / "spin.py").write_text("while True:\n    pass\n")
    with pytest.raises(ValueError, match=r"^python: importing spin\.py took longer than 0\.5 s"):
        build("spin.py:f", tmp_path)
    # Stopped, not half imported: the next build imports it afresh and is stopped again.
    with pytest.raises(ValueError, match=r"took longer than 0\.5 s"):
        build("spin.py:f", tmp_path)


def test_a_module_whose_import_never_ends_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promptloop.evaluators.python_check.IMPORT_LIMIT_S", 0.5)
    name = f"spin_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("while True:\n    pass\n")
    stopped = rf"^python: importing module '{name}' took longer than 0\.5 s"
    with pytest.raises(ValueError, match=stopped):
        build(f"{name}:f", tmp_path)
    assert name not in sys.modules


def test_a_file_whose_import_eats_memory_is_stopped_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SCRIPT_MEMORY_MB", "64")
    (tmp_path / "hoard.py").write_text(
        "kept = []\nwhile True:\n    kept.append(bytearray(1 << 20))\n"
    )
    with pytest.raises(ValueError, match=r"^python: importing hoard\.py used more than 64 MB"):
        build("hoard.py:f", tmp_path)


def test_same_file_is_loaded_once(checks_dir: Path) -> None:
    first = build("evals/checks.py:is_billing", checks_dir)
    second = build("evals/checks.py:graded", checks_dir)
    assert first.function.__module__ == second.function.__module__
    assert first.function.__globals__ is second.function.__globals__


def test_custom_name(checks_dir: Path) -> None:
    evaluator = build("evals/checks.py:is_billing", checks_dir, name="label-ok")
    assert evaluator.name == "label-ok"


def test_a_check_that_keeps_allocating_is_stopped_at_its_memory_cap(
    checks_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SCRIPT_MEMORY_MB", "64")
    result = run("evals/checks.py:hog", "x", checks_dir)
    assert not result.passed
    assert result.error is not None
    # Stopped for its memory well before the config's timeout (CTX: 60 s).
    assert result.error.startswith(
        "evals/checks.py:hog used more than 64 MB of memory and was stopped"
    ), result.error
    assert "\n" not in result.error
    # ...and a check within the cap passes as before.
    assert run("evals/checks.py:modest", "x", checks_dir).passed


def test_a_memory_cap_that_is_not_a_number_is_one_clear_error(
    checks_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SCRIPT_MEMORY_MB", "lots")
    with pytest.raises(UserError, match="PROMPTLOOP_SCRIPT_MEMORY_MB='lots': expected a whole"):
        run("evals/checks.py:modest", "x", checks_dir)
