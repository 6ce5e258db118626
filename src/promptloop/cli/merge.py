"""`promptloop merge`: the shards of `run --shard I/N` as one run, judged once."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from promptloop.cli.base import EXIT_CODES_HELP, cli, friendly_errors, output_option


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument(
    "results", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@output_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="promptloop.yaml whose gate: judges the merged run (default: found from the current "
    "directory upwards, else the default gate).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing; only write the reports.")
@friendly_errors
def merge(
    results: tuple[Path, ...], output_dir: Path | None, config_path: Path | None, quiet: bool
) -> None:
    """Combine the results.json files of `run --shard I/N` jobs into one verdict and report.

    Give every shard's results.json; the merged results.json, junit.xml, report.md and
    report.html are written to --output-dir, and the exit code is the merged gate's.
    """
    from rich.console import Console

    from promptloop.commands.merge import merge_command

    sys.exit(
        merge_command(
            list(results),
            output_dir=output_dir,
            config_path=config_path,
            console=None if quiet else Console(),
        )
    )
