"""``python:`` evaluators: a user's own function decides.

Config forms::

    python: "checks:is_polite"              # module on sys.path or next to promptloop.yaml
    python: "evals/checks.py:is_polite"     # a file, relative to the config's folder
    python: {function: "checks:near", args: {tolerance: 0.1}, threshold: 0.7}

The function is called as ``fn(output, case, **args)``; it may be ``async``. ``case`` is a
``CaseView``: read it as a mapping (``case["vars"]["ticket"]``) or by attribute
(``case.vars``, ``case.expected``, ``case.metadata``, ``case.id``, ``case.tags``,
``case.tool_calls``, the output's calls, and ``case.messages``, the case's earlier turns in
OpenAI's chat shape). It holds copies, so a check that mutates it cannot disturb other
evaluators.

The function returns one of:

- ``bool``: pass or fail;
- a number in [0, 1]: the score, passing at ``threshold`` (default 0.5) or above;
- a mapping with ``passed`` and/or ``score``, and optionally ``reason``, ``error_type``,
  ``evidence``, ``suggested_fix`` — return a ``reason``: the optimizer learns from it;
- an ``EvalResult``, used as is (its name and weight are replaced by the config's).

A function that raises, or returns anything else, gives an errored result (never a pass)
instead of stopping the run. Problems found when the project is loaded — a module that
does not import, a missing function, a signature that cannot take ``(output, case,
**args)`` — raise ``ValueError`` so the loader can point at the line (the kind itself is
declared in ``kinds/python``).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from promptloop.bounds import confined
from promptloop.dataset.cases import Case, history_dicts
from promptloop.evaluators.base import EvalContext, EvalResult, EvaluatorFileError, quote
from promptloop.models.base import ToolCall
from promptloop.models.stop import RunStopped
from promptloop.scripts import ScriptError
from promptloop.scripts.python import (
    IMPORT_LIMIT_S,
    ScriptImportError,
    load_module,
    on_sys_path,
)
from promptloop.watchdog import (
    Abandoned,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    call_with_timeout,
    run_limited,
    script_memory_limit,
)

_RESULT_KEYS = ("passed", "score", "reason", "error_type", "evidence", "suggested_fix")
_VIEW_KEYS = ("id", "vars", "expected", "metadata", "tags", "tool_calls", "messages")


@dataclass(frozen=True)
class CaseView(Mapping[str, Any]):
    """The case as a user's check sees it: a mapping that also answers attribute access."""

    id: str
    vars: Mapping[str, Any]
    expected: Any
    metadata: Mapping[str, Any]
    tags: tuple[str, ...] = ()
    # The output's tool calls: ``{id, name, arguments, raw_arguments, error}`` each.
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    # The case's earlier turns: ``{role, content}``, with ``tool_calls`` or ``tool_call_id``.
    messages: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, case: Case, tool_calls: Sequence[ToolCall] = ()) -> CaseView:
        return cls(
            id=case.id,
            vars=MappingProxyType(copy.deepcopy(dict(case.vars))),
            expected=copy.deepcopy(case.expected),
            metadata=MappingProxyType(copy.deepcopy(dict(case.metadata))),
            tags=tuple(case.tags),
            tool_calls=tuple(
                MappingProxyType(copy.deepcopy(call.as_dict())) for call in tool_calls
            ),
            messages=tuple(MappingProxyType(turn) for turn in history_dicts(case.messages)),
        )

    def __getitem__(self, key: str) -> Any:
        if key not in _VIEW_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_VIEW_KEYS)

    def __len__(self) -> int:
        return len(_VIEW_KEYS)


async def call_check(
    function: Callable[..., Any],
    output: str,
    view: CaseView,
    kwargs: Mapping[str, Any],
    *,
    seconds: float,
    what: str,
    memory_bytes: int,
) -> Any:
    """Run a user's check on one output: the one place their code runs during a run. In a
    worker thread, stopped after ``seconds`` (``TimeLimitExceeded``): a slow check must not
    stall the other cases' model calls, and one that never returns must not hang the run;
    stopped too once it grows the process by ``memory_bytes`` (``MemoryLimitExceeded``), so
    one that keeps allocating cannot take the machine's memory."""
    return await call_with_timeout(
        function, (output, view), kwargs, seconds=seconds, what=what, memory_bytes=memory_bytes
    )


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class PythonEvaluator:
    name: str
    target: str
    function: Callable[..., Any] = field(repr=False)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    threshold: float = 0.5
    weight: float = 1.0
    # Read when the check is built, so a bad cap in the environment stops the run at once.
    memory_bytes: int = field(default_factory=script_memory_limit, repr=False)

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        try:
            value = await call_check(
                self.function,
                output,
                CaseView.of(case, ctx.tool_calls),
                self.kwargs,
                seconds=ctx.timeout_s,
                what=self.target,
                memory_bytes=self.memory_bytes,
            )
        except MemoryLimitExceeded as exc:
            return self._error(str(exc))
        except TimeLimitExceeded:
            return self._error(
                f"{self.target} did not return within {ctx.timeout_s:g} s (the config's "
                "timeout) and was stopped"
            )
        except Abandoned:
            raise RunStopped from None
        except (Exception, SystemExit) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._error(f"{self.target} raised {detail}")
        return self.interpret(value, output)

    def interpret(self, value: Any, output: str) -> EvalResult:
        """Turn whatever the function returned into a result (public for direct use)."""
        if isinstance(value, EvalResult):
            return dataclasses.replace(value, evaluator=self.name, weight=self.weight)
        if isinstance(value, bool):
            return self._result(value, 1.0 if value else 0.0, None, output)
        if isinstance(value, int | float):
            score = float(value)
            if not math.isfinite(score) or not 0.0 <= score <= 1.0:
                return self._error(f"{self.target} returned score {value!r}, outside 0..1")
            return self._result(score >= self.threshold, score, None, output)
        if isinstance(value, Mapping):
            return self._from_mapping(value, output)
        if value is None:
            return self._error(
                f"{self.target} returned None; return True/False, a score in 0..1, "
                "or a dict with passed/score/reason"
            )
        return self._error(
            f"{self.target} returned a {type(value).__name__}; return True/False, a score "
            "in 0..1, or a dict with passed/score/reason"
        )

    def _from_mapping(self, value: Mapping[Any, Any], output: str) -> EvalResult:
        unknown = sorted(str(k) for k in value if k not in _RESULT_KEYS)
        if unknown:
            return self._error(
                f"{self.target} returned unknown key {', '.join(unknown)}; "
                f"allowed: {', '.join(_RESULT_KEYS)}"
            )
        passed, score = value.get("passed"), value.get("score")
        if passed is None and score is None:
            return self._error(f"{self.target} returned a dict without passed or score")
        if passed is not None and not isinstance(passed, bool):
            return self._error(f"{self.target} returned passed={passed!r}; it must be a bool")
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, int | float):
                return self._error(f"{self.target} returned score={score!r}; it must be a number")
            if not math.isfinite(score) or not 0.0 <= score <= 1.0:
                return self._error(f"{self.target} returned score {score!r}, outside 0..1")
        for key in ("reason", "error_type", "evidence", "suggested_fix"):
            if value.get(key) is not None and not isinstance(value[key], str):
                return self._error(f"{self.target} returned {key}={value[key]!r}; need a string")
        final_score = float(score) if score is not None else (1.0 if passed else 0.0)
        final_passed = passed if passed is not None else final_score >= self.threshold
        result = self._result(final_passed, final_score, value.get("reason") or None, output)
        return dataclasses.replace(
            result,
            error_type=value.get("error_type"),
            evidence=value.get("evidence"),
            suggested_fix=value.get("suggested_fix"),
        )

    def _result(self, passed: bool, score: float, reason: str | None, output: str) -> EvalResult:
        if reason is None:
            reason = self._default_reason(passed, score, output)
        return EvalResult(self.name, passed, score, reason, weight=self.weight)

    def _default_reason(self, passed: bool, score: float, output: str) -> str:
        graded = 0.0 < score < 1.0
        if passed:
            return (
                f"{self.target} scored {score:.2f} (passes at {self.threshold:.2f})"
                if graded
                else f"{self.target} passed"
            )
        verdict = f"scored {score:.2f} (needs {self.threshold:.2f})" if graded else "returned False"
        return f"{self.target} {verdict} for output {quote(output)}"

    def _error(self, message: str) -> EvalResult:
        return EvalResult.errored(self.name, message, weight=self.weight)


# --- building ------------------------------------------------------------------------------


def split_target(target: str) -> tuple[str, str]:
    where, sep, attr = target.rpartition(":")
    if not sep or not where.strip() or not attr.strip():
        raise ValueError(
            f'expected "module:function" or "path/to/file.py:function", got {target!r}'
        )
    return where.strip(), attr.strip()


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _module_from_file(where: str, base_dir: Path) -> ModuleType:
    path = confined(where, base_dir, ValueError)
    try:
        return load_module(path, shown=where)
    except ScriptImportError as exc:
        raise EvaluatorFileError(str(exc), file=where, line=exc.line) from exc.__cause__
    except ScriptError as exc:
        raise ValueError(str(exc)) from None


def _module_by_name(where: str, base_dir: Path) -> ModuleType:
    memory_bytes = script_memory_limit()  # a malformed cap is its own error
    try:
        with on_sys_path(base_dir):
            return run_limited(
                lambda: importlib.import_module(where),
                IMPORT_LIMIT_S,
                f"importing module {where!r}",
                memory_bytes=memory_bytes,
            )
    except (TimeLimitExceeded, MemoryLimitExceeded) as exc:
        raise ValueError(str(exc)) from None
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"cannot import module {where!r} (not on sys.path nor in the config's folder): {exc}"
        ) from exc
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ValueError(f"importing module {where!r} failed: {type(exc).__name__}: {exc}") from exc


def resolve_function(target: str, *, base_dir: Path) -> Callable[..., Any]:
    """Resolve ``module:function`` / ``file.py:function`` (dotted attributes allowed)."""
    where, attr = split_target(target)
    module = (
        _module_from_file(where, base_dir) if _is_file(where) else _module_by_name(where, base_dir)
    )
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{where} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{target} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def check_signature(fn: Callable[..., Any], target: str, kwargs: Mapping[str, Any]) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # some builtins have no signature; find out when called
    try:
        signature.bind("output", "case", **kwargs)
    except TypeError as exc:
        extra = "".join(f", {k}=..." for k in kwargs)
        raise ValueError(f"{target} cannot be called as fn(output, case{extra}): {exc}") from exc
