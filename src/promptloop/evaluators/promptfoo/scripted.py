"""promptfoo's script assertions: ``javascript`` (in the embedded QuickJS sandbox, see
``promptloop.scripts``) and ``python`` (a user's function, run as promptloop's ``python:``
checks are: in-process, in a worker thread stopped at the config's timeout).

Inline code is wrapped as promptfoo wraps it: JavaScript as ``function(output, context)``
with ``return`` put before a one-line expression (after its declarations), Python as the
body of ``def main(output, context)``. Files name a function: ``file://x.js[:fn]`` (the
module's own or default export otherwise) and ``file://x.py[:fn]`` (``get_assert``
otherwise). Results are read with promptfoo's rules: a bool, a number (passing above 0, or
at ``threshold``), or a GradingResult ``{pass, score, reason}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from promptloop.bounds import confined
from promptloop.evaluators.base import EvalContext
from promptloop.evaluators.promptfoo.core import Grade, Grader, Seen
from promptloop.evaluators.promptfoo.spec import Spec
from promptloop.evaluators.python_check import resolve_function
from promptloop.models.stop import RunStopped
from promptloop.scripts import JS_EXTENSIONS, ScriptError, js, split_file_reference
from promptloop.scripts.python import quietly
from promptloop.watchdog import (
    Abandoned,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    call_with_timeout,
    script_memory_limit,
)

_DECLARATION = re.compile(r"^(const|let|var)\s")


def _last_statement_semicolon(code: str) -> int:
    """The last ``;`` outside strings, template literals and brackets, or -1."""
    depth, last, quote, i = 0, -1, "", 0
    while i < len(code):
        char = code[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == ";" and depth == 0:
            last = i
        i += 1
    return last


def function_body(code: str) -> str:
    """promptfoo's ``buildFunctionBody`` for a one-line assertion."""
    trimmed = re.sub(r";+\s*$", "", code.strip())
    if _DECLARATION.match(trimmed):
        semicolon = _last_statement_semicolon(trimmed)
        if semicolon != -1 and trimmed[semicolon + 1 :].strip():
            return f"{trimmed[: semicolon + 1]} return {trimmed[semicolon + 1 :].strip()}"
        return trimmed
    return f"return {trimmed}"


def _grading_result(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """promptfoo's ``isGradingResult`` (after its snake_case mapping): ``pass`` a boolean,
    ``score`` a number and ``reason`` a string, all three required."""
    passed = value["pass"] if "pass" in value else value.get("pass_")
    score = value.get("score")
    if not isinstance(passed, bool) or not isinstance(value.get("reason"), str):
        return None
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return None
    return {**value, "pass": passed}


def normalize(spec: Spec, result: Any, language: str, *, threshold_on_objects: bool) -> Grade:
    """A script's return value read as promptfoo reads it (``scriptResultNormalization``)."""
    code = f"{language} code"
    # JavaScript must return a boolean, a number or a GradingResult; Python's answer may
    # also be text ("true", a JSON object, a number), as it crosses a process in promptfoo.
    if isinstance(result, str) and language == "JavaScript":
        return Grade.failed(
            f"Custom function must return a boolean, number, or GradingResult object; "
            f"got a string {result[:100]!r}"
        )
    if isinstance(result, str):
        lowered = result.lower()
        if lowered in ("true", "false"):
            result = lowered == "true"
        elif result.startswith("{"):
            try:
                result = json.loads(result)
            except ValueError as exc:
                return Grade.failed(f"{code} returned invalid JSON ({exc}): {result[:200]}")
    if isinstance(result, bool):
        passed = result != spec.inverse
        return Grade.of(passed, f"{code} returned {'true' if result else 'false'}")
    if isinstance(result, Mapping):
        graded = _grading_result(result)
        if graded is None:
            return Grade.failed(
                f"{language} assertion must return a boolean, number, or "
                f"{{pass, score, reason}} object; got {json.dumps(result, default=str)[:200]}"
            )
        raw_pass = graded["pass"]
        score = float(graded["score"])
        reason = str(graded["reason"])
        if threshold_on_objects and spec.threshold is not None and score < spec.threshold:
            raw_pass = False
            message = f"{language} score {score:g} is less than threshold {spec.threshold:g}"
            reason = f"{message}: {reason}" if reason else message
        passed = raw_pass != spec.inverse
        if spec.inverse:
            reason = "Assertion passed" if passed else (reason or f"{code} returned true")
        return Grade(passed, score, reason or ("Assertion passed" if passed else f"{code} failed"))
    if result is None or isinstance(result, list):
        return Grade.failed(
            f"{language} assertion must return a boolean, number, or {{pass, score, reason}} "
            f"object; got {json.dumps(result)[:200]}"
        )
    try:
        score = float(result)
    except (TypeError, ValueError):
        return Grade.failed(f"{language} assertion returned {str(result)[:200]!r}, not a score")
    if not math.isfinite(score):
        return Grade.failed(f"{language} assertion returned {score}, not a finite score")
    raw_pass = score > 0 if spec.threshold is None else score >= spec.threshold
    passed = raw_pass != spec.inverse
    return Grade(
        passed, score, "Assertion passed" if passed else f"{code} returned {str(raw_pass).lower()}"
    )


def _not_code(spec: Spec, language: str) -> Grader | None:
    """promptfoo loads a script assertion whose value is a number or a boolean and fails it
    (score 0) when it runs; so does promptloop, saying where it is and what to write."""
    raw = spec.value.raw
    if isinstance(raw, str) or raw is None or isinstance(raw, (list, dict)):
        return None
    message = (
        f"Custom function threw error: Invariant failed: {language} assertion must have a "
        f"string value ({spec.where}: value is {raw!r}; write the code as a string)"
    )

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        # a verdict, not an error: the value is wrong whatever the model answers
        return Grade(False, 0.0, message)

    return grade


def build_javascript(spec: Spec) -> Grader:
    raw = spec.value.raw
    if (not_code := _not_code(spec, "javascript")) is not None:
        return not_code
    if not isinstance(raw, str) or not raw.strip():
        raise spec.problem("needs JavaScript code or a file://x.js reference as value")
    if raw.startswith("file://"):
        path, function = split_file_reference(raw)
        if not path.endswith(JS_EXTENSIONS):
            raise spec.problem(f"names {path}; a javascript assertion runs .js, .cjs or .mjs files")
        try:
            source = confined(path, spec.base_dir, spec.problem).read_text(encoding="utf-8")
        except OSError as exc:
            raise spec.problem(f"names {raw}, which cannot be read ({exc.strerror})") from None
        function_source = js.file_function(source, function, what=f"file://{path}")
        what = f"javascript assertion file://{path}"
        rendered = False
    else:
        function_source = ""
        what = "javascript assertion"
        rendered = True

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        source = function_source
        if rendered:
            code = str(spec.value.render(seen.case)).rstrip()
            body = code if "\n" in code else function_body(code)
            source = f"function (output, context) {{\n{body}\n}}"
        arguments = [js.as_json_value(seen.output), js.as_json_value(dict(seen.context))]
        try:
            result = await asyncio.to_thread(
                js.call_function, source, arguments, what=what, seconds=ctx.timeout_s
            )
        except ScriptError as exc:
            return Grade.failed(f"Custom function threw error: {exc}")
        return normalize(spec, result, "JavaScript", threshold_on_objects=False)

    return grade


def python_source(code: str) -> str:
    """promptfoo's wrapping of inline Python: ``main(output, context)``."""
    if "\n" not in code:
        return f"import json\n\ndef main(output, context):\n    return {code}\n"
    indent = re.search(r"^(?!\s*$)\s+", code, flags=re.MULTILINE)
    prefix = indent.group(0) if indent else "    "
    body = "\n".join(prefix + line for line in code.split("\n"))
    return f"import json\n\ndef main(output, context):\n{body}\n"


def _inline_python(code: str, spec: Spec) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__name__": "promptfoo_inline_assertion"}
    try:
        exec(compile(python_source(code), f"{spec.where} (python assertion)", "exec"), namespace)
    except SyntaxError as exc:
        raise spec.problem(
            f"has Python that does not compile: {exc.msg} (line {exc.lineno})"
        ) from None
    return namespace["main"]  # type: ignore[no-any-return]


def build_python(spec: Spec) -> Grader:
    raw = spec.value.raw
    if (not_code := _not_code(spec, "python")) is not None:
        return not_code
    if not isinstance(raw, str) or not raw.strip():
        raise spec.problem("needs Python code or a file://x.py reference as value")
    if raw.startswith("file://"):
        path, function = split_file_reference(raw)
        if not path.endswith(".py"):
            raise spec.problem(f"names {path}; a python assertion runs .py files")
        try:
            fn = resolve_function(f"{path}:{function or 'get_assert'}", base_dir=spec.base_dir)
        except (ValueError, ScriptError) as exc:
            raise spec.problem(f"cannot load {raw}: {exc}") from None
        what = f"python assertion {raw}"
    else:
        fn = _inline_python(raw, spec)
        what = "python assertion"
    cap = script_memory_limit()

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        arguments = (js.as_json_value(seen.output), js.as_json_value(dict(seen.context)))
        try:
            result = await call_with_timeout(
                quietly(fn), arguments, {}, seconds=ctx.timeout_s, what=what, memory_bytes=cap
            )
        except MemoryLimitExceeded as exc:
            return Grade.failed(str(exc))
        except TimeLimitExceeded:
            return Grade.failed(
                f"{what} did not return within {ctx.timeout_s:g} s (the config's timeout) "
                "and was stopped"
            )
        except Abandoned:
            raise RunStopped from None
        except (Exception, SystemExit) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Grade.failed(f"Python code execution failed: {detail}")
        return normalize(spec, result, "Python", threshold_on_objects=True)

    return grade
