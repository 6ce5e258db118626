"""JavaScript from a config, run in an embedded QuickJS engine (``quickjs-ng``), not Node.

A config comes from a pull request: its code must not reach the runner's files, network,
environment or secrets. QuickJS alone has none of Node's modules (no ``require``, no
``process``, no ``fs``, no sockets), and every call gets a fresh context, with its own heap
capped at ``MEMORY_LIMIT_BYTES`` and a time limit, so one case cannot see another's state
and an endless loop or allocation ends in a clear error (bench/results/js-engines.md says
why this engine).

Values cross as JSON: what goes in is what ``JSON.stringify`` would see, and a result that
JSON cannot carry (a function, ``undefined``) comes back as ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptloop.scripts.errors import ScriptError

MEMORY_LIMIT_BYTES = 64 << 20
# The engine counts the process's CPU time, checked as it runs (regex matching included): on
# a busy machine a stopped script has taken longer than this in wall-clock time.
TIME_LIMIT_S = 5.0
MAX_STACK_BYTES = 1 << 20
MAX_SOURCE_CHARS = 1 << 20

# ``process`` as promptfoo's inline code sees it (its shim for ``process.mainModule.require``),
# minus everything Node would give: no environment (it holds the runner's secrets), no require.
_PRELUDE = """
const process = Object.freeze({
  env: Object.freeze({}),
  get mainModule() {
    throw new Error("require is not available: promptloop runs JavaScript in a sandbox "
      + "without Node's modules (no require, fs, network or environment)");
  },
});
// promptfoo's scripts log for debugging; what they log is dropped, as for Python scripts.
const console = Object.freeze(Object.fromEntries(
  ["log", "info", "warn", "error", "debug", "trace", "dir", "table"].map((k) => [k, () => {}])
));
const require = function () {
  throw new Error("require is not available: promptloop runs JavaScript in a sandbox "
    + "without Node's modules (no require, fs, network or environment)");
};
"""


def _engine() -> Any:
    try:
        import quickjs
    except ImportError:
        raise ScriptError(
            "running JavaScript needs the quickjs-ng package: pip install quickjs-ng"
        ) from None
    return quickjs


_ESM_DEFAULT = re.compile(r"^\s*export\s+default\s+", re.MULTILINE)
_ESM_NAMED = re.compile(
    r"^\s*export\s+((?:async\s+)?function\s*\*?\s*|const\s+|let\s+|var\s+|class\s+)([A-Za-z_$][\w$]*)",
    re.MULTILINE,
)


def module_source(code: str) -> str:
    """A file's code as a function body that returns its exports: CommonJS as it is, and
    the ES module forms promptfoo's examples use (``export default``, ``export function``)."""
    names: list[str] = []

    def named(match: re.Match[str]) -> str:
        names.append(match.group(2))
        return f"{match.group(1)}{match.group(2)}"

    body = _ESM_NAMED.sub(named, code)
    body = _ESM_DEFAULT.sub("module.exports.default = ", body)
    exports = "".join(f"module.exports.{n} = {n};\n" for n in names)
    return (
        "const module = { exports: {} }; let exports = module.exports;\n"
        f"{body}\n;{exports}return module.exports;"
    )


def _call_source(function_source: str, arguments: Sequence[Any]) -> str:
    args = json.dumps(list(arguments), ensure_ascii=False, allow_nan=False)
    return (
        f"{_PRELUDE}\nglobalThis.__outcome = undefined;\n"
        f"try {{\n  const __fn = ({function_source});\n"
        f"  Promise.resolve(__fn(...{args})).then(\n"
        "    (v) => {\n"
        "      globalThis.__outcome = JSON.stringify({ ok: v === undefined ? null : v });\n"
        "    },\n"
        "    (e) => { globalThis.__outcome = JSON.stringify({ err: __describe(e) }); });\n"
        "} catch (e) { globalThis.__outcome = JSON.stringify({ err: __describe(e) }); }\n"
    )


_DESCRIBE = """
function __describe(e) {
  if (e && typeof e === "object" && "message" in e) {
    return String(e.name || "Error") + ": " + String(e.message);
  }
  return "threw " + String(e);
}
"""


def call_function(
    function_source: str,
    arguments: Sequence[Any],
    *,
    what: str,
    seconds: float = TIME_LIMIT_S,
    memory_bytes: int = MEMORY_LIMIT_BYTES,
) -> Any:
    """``(function_source)(...arguments)`` in a fresh sandboxed context; awaits a promise.

    Raises ``ScriptError`` (one line) when the code does not parse, throws, runs past
    ``seconds``, allocates past ``memory_bytes`` or returns what JSON cannot carry."""
    if len(function_source) > MAX_SOURCE_CHARS:
        raise ScriptError(
            f"{what} is {len(function_source)} characters; the limit is {MAX_SOURCE_CHARS}"
        )
    quickjs = _engine()
    try:
        source = _DESCRIBE + _call_source(function_source, arguments)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"{what}: its input cannot be passed to JavaScript ({exc})") from None
    # Each call makes its own context (its own QuickJS runtime) and uses it on this thread
    # from start to end, so calls in different threads may run side by side; the engine
    # lets go of the GIL while it runs, so a long script does not stall the event loop.
    context = quickjs.Context()
    context.set_memory_limit(memory_bytes)
    context.set_time_limit(seconds)
    context.set_max_stack_size(MAX_STACK_BYTES)
    try:
        context.eval(source)
        while context.execute_pending_job():
            pass
        outcome = context.get("__outcome")
    except quickjs.JSException as exc:
        raise ScriptError(f"{what} failed: {_js_error(str(exc), seconds, memory_bytes)}") from None
    except quickjs.StackOverflow:
        raise ScriptError(f"{what} failed: stack overflow (recursion too deep)") from None
    finally:
        del context
    if not isinstance(outcome, str):
        raise ScriptError(f"{what} never settled its promise (it must resolve or reject)")
    try:
        result = json.loads(outcome)
    except ValueError:
        raise ScriptError(f"{what} returned a value JSON cannot carry") from None
    if "err" in result:
        message = str(result["err"])
        if "out of memory" in message.lower():
            raise ScriptError(f"{what} failed: {_js_error(message, seconds, memory_bytes)}")
        raise ScriptError(f"{what} threw {_one_line(message)}")
    return result.get("ok")


def _js_error(message: str, seconds: float, memory_bytes: int) -> str:
    first = _one_line(message)
    if "interrupted" in first.lower():
        return f"it ran past the time limit of {seconds:g} s and was stopped"
    if "out of memory" in first.lower():
        return f"it used more than {memory_bytes >> 20} MB of memory and was stopped"
    return first


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def file_function(code: str, function_name: str | None, *, what: str) -> str:
    """A JavaScript expression for the function a file exports, picked as promptfoo picks
    it: the named export, else the module itself when it is a function, else its default."""
    name = json.dumps(function_name)
    return (
        "(function () {\n"
        f"  const m = (function () {{\n{module_source(code)}\n}})();\n"
        f"  const name = {name};\n"
        "  if (name !== null) {\n"
        "    const own = m && Object.prototype.hasOwnProperty.call(m, name);\n"
        "    if (own && typeof m[name] === 'function') { return m[name]; }\n"
        f"    throw new Error({json.dumps(what)} + ' exports no function named ' + name);\n"
        "  }\n"
        "  if (typeof m === 'function') { return m; }\n"
        "  if (m && typeof m.default === 'function') { return m.default; }\n"
        f"  throw new Error({json.dumps(what)} + ' must export a function'\n"
        "    + ' (module.exports = ..., or a default export)');\n"
        "})()"
    )


def as_json_value(value: Any) -> Any:
    """``value`` as JSON would carry it into JavaScript (mappings and sequences copied)."""
    if isinstance(value, Mapping):
        return {str(k): as_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
