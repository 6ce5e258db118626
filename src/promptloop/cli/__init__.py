"""Command-line interface. Imports stay inside commands so `--help` is instant."""

from __future__ import annotations

import sys

import click

# Importing the command modules registers their commands on the group.
from promptloop.cli import ci, merge, optimize, project, run, traces
from promptloop.cli.base import cli

__all__ = ["ci", "cli", "main", "merge", "optimize", "project", "run", "traces"]


def main() -> None:
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
