"""Command-line interface. Imports stay inside commands so `--help` is instant."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO, cast

import click

# Importing the command modules registers their commands on the group.
from promptloop.cli import ci, merge, optimize, project, run, traces
from promptloop.cli.base import cli

__all__ = ["ci", "cli", "main", "merge", "optimize", "project", "run", "traces"]


class _UntilClosed:
    """A standard stream that, once its reader has gone (``promptloop run | head -1``),
    sends the rest to the null device: the command goes on and exits with its own code.
    Left alone, click and rich turn the closed pipe into exit 1, which the exit codes
    document as "a suite failed"."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard()

    def _discard(self) -> None:
        # The descriptor itself, so what is still buffered, and every later write, lands
        # nowhere instead of failing again (at exit too).
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self._stream.fileno())
        os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    sys.stdout = cast("TextIO", _UntilClosed(sys.stdout))
    sys.stderr = cast("TextIO", _UntilClosed(sys.stderr))
    try:
        cli(prog_name="promptloop")
    except SystemExit as exc:
        _exit(exc.code)
    _exit(0)


def _exit(code: object) -> None:
    """Exit, skipping the interpreter's teardown once litellm is loaded: freeing its
    modules object by object takes a second or more (bench/results/throughput.md), and
    the operating system frees the memory at once. Exit handlers still run."""
    if "litellm" not in sys.modules:
        sys.exit(code)  # type: ignore[arg-type]
    import atexit
    import contextlib
    import os

    if code is not None and not isinstance(code, int):
        click.echo(code, err=True)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more can be said on it.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
