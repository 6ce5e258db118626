"""Python from a config (``file://x.py:fn``), in this process with a time limit.

promptfoo starts a Python process per call; here the function runs in-process, as
promptloop's own ``python:`` checks do, and is stopped at its next instruction when it
runs past its time (``bounds.time_limit``). It gets copies of its arguments, so it cannot
change what other checks see.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from promptloop.bounds import TimeLimitExceeded, time_limit
from promptloop.scripts.errors import ScriptError


def load_function(path: Path, name: str, *, shown: str) -> Callable[..., Any]:
    """The function ``name`` of the Python file at ``path`` (``shown`` as written)."""
    path = path.resolve()
    if not path.is_file():
        raise ScriptError(f"{shown}: file not found")
    module_name = "_promptloop_script_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ScriptError(f"{shown}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[module_name]
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise ScriptError(
                f"{shown}: importing it failed: {type(exc).__name__}: {exc}"
            ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ScriptError(f"{shown} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def call_function(
    function: Callable[..., Any], arguments: Sequence[Any], *, what: str, seconds: float
) -> Any:
    """``function(*arguments)`` stopped after ``seconds``; any exception becomes one line."""
    arguments = copy.deepcopy(list(arguments))
    try:
        with time_limit(seconds, what):
            return function(*arguments)
    except TimeLimitExceeded:
        raise ScriptError(
            f"{what} ran past the time limit of {seconds:g} s and was stopped"
        ) from None
    except (Exception, SystemExit) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ScriptError(f"{what} raised {detail}") from None
