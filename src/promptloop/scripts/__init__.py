"""Scripts a promptfoo config carries: transforms and script assertions, in JavaScript
(an embedded QuickJS engine, ``js``) or Python (in-process with a time limit, ``python``).

``transform`` runs promptfoo's ``transform``, ``options.transform`` and ``transformVars``:
inline JavaScript (an expression, or a function body when it spans lines, as promptfoo
wraps it), ``file://x.js[:fn]`` or ``file://x.py[:fn]``. Everything that goes wrong is one
``ScriptError`` line; a failed transform is never a pass. A foundation package: it imports
only ``bounds`` and ``watchdog``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from promptloop.bounds import confined
from promptloop.scripts import js, python
from promptloop.scripts.errors import ScriptError

__all__ = ["JS_EXTENSIONS", "ScriptError", "split_file_reference", "transform"]

JS_EXTENSIONS = (".js", ".cjs", ".mjs")
TRANSFORM_SECONDS = 5.0


def split_file_reference(reference: str) -> tuple[str, str | None]:
    """``file://path[:function]`` as ``(path, function)``; the colon splits only after a
    ``.js``/``.py`` path, as in promptfoo (a drive letter or a colon in a folder stays)."""
    rest = reference.removeprefix("file://")
    colon = rest.rfind(":")
    if colon > 1:
        head = rest[:colon]
        if head.endswith(JS_EXTENSIONS) or head.endswith(".py"):
            return head, rest[colon + 1 :] or None
    return rest, None


def read_script(path: str, base_dir: Path) -> tuple[Path, str]:
    full = confined(path, base_dir, lambda message: ScriptError(f"file://{message}"))
    try:
        return full, full.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"file://{path} cannot be read: {exc.strerror or exc}") from None


def inline_function(code: str, parameter: str) -> str:
    """promptfoo's wrapping of inline code: one line is an expression, several a body."""
    body = code if "\n" in code else f"return {code}"
    return f"function ({parameter}, context) {{\n{body}\n}}"


def transform(
    code: str,
    value: Any,
    context: Mapping[str, Any],
    *,
    base_dir: Path,
    input_name: Literal["output", "vars"] = "output",
    seconds: float = TRANSFORM_SECONDS,
) -> Any:
    """``value`` transformed by ``code`` (see the module); ``None`` back is an error, as in
    promptfoo."""
    shown = " ".join(code.split())
    shown = shown if len(shown) <= 80 else shown[:79] + "…"
    arguments = [js.as_json_value(value), js.as_json_value(dict(context))]
    if code.startswith("file://"):
        path, function = split_file_reference(code)
        what = f"transform file://{path}"
        if path.endswith(".py"):
            full = confined(path, base_dir, lambda message: ScriptError(f"file://{message}"))
            fn = python.load_function(full, function or "get_transform", shown=f"file://{path}")
            result = python.call_function(fn, arguments, what=what, seconds=seconds)
        elif path.endswith(JS_EXTENSIONS):
            _, source = read_script(path, base_dir)
            result = js.call_function(
                js.file_function(source, function, what=f"file://{path}"),
                arguments,
                what=what,
                seconds=seconds,
            )
        else:
            raise ScriptError(
                f"transform file://{path}: only .js, .cjs, .mjs and .py files can transform"
            )
    else:
        what = f"transform `{shown}`"
        result = js.call_function(
            inline_function(code, input_name), arguments, what=what, seconds=seconds
        )
    if result is None:
        raise ScriptError(f"{what} did not return a value")
    return result
