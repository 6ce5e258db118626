"""Python from a config (``file://x.py:fn``), in this process with a time and memory limit.

promptfoo starts a Python process per call; here the function runs in-process, as
promptloop's own ``python:`` checks do, and is stopped at its next instruction when it
runs past its time or grows the process past its memory cap (``watchdog.run_limited``). It
gets copies of its arguments, so it cannot change what other checks see.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from promptloop.scripts.errors import ScriptError
from promptloop.watchdog import (
    MemoryLimitExceeded,
    TimeLimitExceeded,
    run_limited,
    script_memory_limit,
)


class ScriptImportError(ScriptError):
    """Importing a Python file failed; ``line`` is the line of that file to fix, when known."""

    def __init__(self, message: str, *, line: int | None) -> None:
        self.line = line
        super().__init__(message)


# A file's import runs its top-level code, which a pull request may have written: bounded
# like its functions, with room for a heavy library's import on a busy machine.
IMPORT_LIMIT_S = 60.0

# Held while a file is imported; reentrant, since a file's import may load another's.
_loading = threading.RLock()


def load_module(path: Path, *, shown: str) -> ModuleType:
    """The Python file at ``path`` as a module, imported once per file (``shown`` is how
    the config wrote it). Raises ``ScriptError``, or ``ScriptImportError`` when its code
    fails to import."""
    path = path.resolve()
    if not path.is_file():
        raise ScriptError(f"file {shown} not found")
    # Graders load in worker threads at once: one imports, the others wait for its module
    # rather than take it from sys.modules half executed.
    with _loading:
        return _load_module(path, shown=shown)


def _load_module(path: Path, *, shown: str) -> ModuleType:
    # One module per file, reused when several checks name the same file.
    module_name = "_promptloop_check_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScriptError(f"cannot load {shown} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    loader = spec.loader
    memory_bytes = script_memory_limit()  # a malformed cap is its own error
    try:
        with on_sys_path(path.parent):  # so the file can import its neighbours
            run_limited(
                lambda: loader.exec_module(module),
                IMPORT_LIMIT_S,
                f"importing {shown}",
                memory_bytes=memory_bytes,
            )
    except (TimeLimitExceeded, MemoryLimitExceeded) as exc:
        del sys.modules[module_name]
        raise ScriptImportError(str(exc), line=None) from None
    except BaseException as exc:
        del sys.modules[module_name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ScriptImportError(
            f"importing {shown} failed: {type(exc).__name__}: {_without_location(exc)}",
            line=_failing_line(exc, path),
        ) from exc
    return module


def _failing_line(exc: BaseException, path: Path) -> int | None:
    """The line of ``path`` where importing it failed: a syntax error's own line, else the
    innermost traceback frame in that file."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path:
        return exc.lineno
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename) == path:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _without_location(exc: BaseException) -> str:
    # A SyntaxError's text repeats the file and line, which the error line already shows.
    if isinstance(exc, SyntaxError) and exc.msg:
        return exc.msg
    return str(exc)


@contextlib.contextmanager
def on_sys_path(folder: Path) -> Iterator[None]:
    """Put a folder first on ``sys.path`` for the duration of an import, then take it off."""
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def load_function(path: Path, name: str, *, shown: str) -> Callable[..., Any]:
    """The function ``name`` of the Python file at ``path``."""
    function = getattr(load_module(path, shown=shown), name, None)
    if not callable(function):
        raise ScriptError(f"{shown} has no function {name!r}")
    return function  # type: ignore[no-any-return]


class _Routed:
    """``sys.stdout``/``sys.stderr`` once a script has run: what a thread running a script
    prints is dropped, everything else goes where it went before. promptfoo's scripts print
    freely (its examples do), and promptfoo runs them in a child process whose output it
    keeps to itself; here they share promptloop's terminal and its machine-read output."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if getattr(_quiet, "on", False):
            return len(text)
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_quiet = threading.local()
_install = threading.Lock()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Drop what this thread prints for the duration (see ``_Routed``)."""
    with _install:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _Routed):
                setattr(sys, name, _Routed(stream))
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = False


def quietly(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with what it prints dropped (see ``_Routed``)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with quiet():
            return function(*args, **kwargs)

    return call


def call_function(
    function: Callable[..., Any], arguments: Sequence[Any], *, what: str, seconds: float
) -> Any:
    """``function(*arguments)`` stopped after ``seconds`` or past the memory cap; any
    exception becomes one line."""
    arguments = copy.deepcopy(list(arguments))
    memory_bytes = script_memory_limit()
    try:
        with quiet():
            return run_limited(
                lambda: function(*arguments), seconds, what, memory_bytes=memory_bytes
            )
    except MemoryLimitExceeded as exc:
        raise ScriptError(str(exc)) from None
    except TimeLimitExceeded:
        raise ScriptError(
            f"{what} ran past the time limit of {seconds:g} s and was stopped"
        ) from None
    except (Exception, SystemExit) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ScriptError(f"{what} raised {detail}") from None
