"""The commands that bring production in: `cases import`."""

from __future__ import annotations

import re
from pathlib import Path

import click

from promptloop.cli.base import cli, config_option, friendly_errors
from promptloop.safety import terminal_text


@cli.group()
def cases() -> None:
    """A suite's cases: bring production traces in as new cases."""


def _pair(text: str, option: str, sep: str = "=") -> tuple[str, str]:
    key, found, value = text.partition(sep)
    if not found or not key:
        raise click.BadParameter(f"expected KEY{sep}VALUE, got {text!r}", param_hint=option)
    return key, value


@cases.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--suite", required=True, help="The suite whose dataset receives the cases.")
@click.option(
    "--prompt-name",
    help="Keep only spans of this prompt (Langfuse promptName, OpenInference or JSONL prompt).",
)
@click.option("--prompt-version", help="Keep only spans of this prompt version.")
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="ATTR=VALUE",
    help="Keep only spans whose attribute ATTR equals VALUE (repeatable).",
)
@click.option(
    "--mask",
    "mask",
    multiple=True,
    metavar="NAME=REGEX",
    help="Also replace matches of REGEX with [NAME] (repeatable); emails, card and phone "
    "numbers are masked by default.",
)
@click.option("--no-default-pii", is_flag=True, help="Do not mask emails, card and phone numbers.")
@click.option("--dry-run", is_flag=True, help="Print what would be added; write nothing.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    help="Project directory [default: here].",
)
@config_option
@friendly_errors
def import_(
    files: tuple[Path, ...],
    suite: str,
    prompt_name: str | None,
    prompt_version: str | None,
    where: tuple[str, ...],
    mask: tuple[str, ...],
    no_default_pii: bool,
    dry_run: bool,
    directory: Path,
    config_path: Path | None,
) -> None:
    """Append the model calls in FILES (OpenTelemetry GenAI or OpenInference OTLP JSON,
    Langfuse exports, Phoenix annotations, JSONL logs) to SUITE's dataset as new cases, and
    people's feedback on them (a thumbs-down and its note) as reviewers' verdicts. Cases
    already in the dataset are skipped, so importing a file twice adds nothing."""
    from promptloop.commands.cases import ImportRequest, import_cases, render_outcome
    from promptloop.commands.run import ProjectQuery
    from promptloop.traces.plan import SpanFilter

    for pattern in mask:
        _, regex = _pair(pattern, "--mask")
        try:
            re.compile(regex)
        except re.error as error:
            raise click.BadParameter(f"{regex!r}: {error}", param_hint="--mask") from None
    outcome = import_cases(
        ProjectQuery(start_dir=directory, config_path=config_path),
        ImportRequest(
            files=files,
            suite=suite,
            span_filter=SpanFilter(
                prompt_name, prompt_version, tuple(_pair(w, "--where") for w in where)
            ),
            mask=tuple(_pair(m, "--mask") for m in mask),
            default_pii=not no_default_pii,
            dry_run=dry_run,
        ),
    )
    for line in render_outcome(outcome):
        click.echo(terminal_text(line))
