"""The commands around a project: init, schema, calibrate, feedback and view."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import click

from promptloop.cli.base import cli, friendly_errors, project_options
from promptloop.wording import plural


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Convert this promptfoo config (promptfooconfig.yaml) instead of writing a starter. "
    "promptloop also runs promptfoo configs as they are; convert to switch for good.",
)
@friendly_errors
def init(directory: Path, source: Path | None) -> None:
    """Create a starter promptloop.yaml, prompt and dataset in DIRECTORY (default: here)."""
    from promptloop.commands.init import write_converted, write_starter

    if source is not None:
        written, not_carried = write_converted(source, directory)
        for path in written:
            click.echo(f"created {path}")
        for line in not_carried:
            click.echo(f"not carried over: {line}")
        if not_carried:
            are = "is" if len(not_carried) == 1 else "are"
            click.echo(
                f"{plural(len(not_carried), 'thing')} above {are} not in promptloop.yaml; run "
                f"{source} as it is with `promptloop run --config {source}` to keep them"
            )
        here = directory.resolve() == Path.cwd().resolve()
        click.echo(f"Next: promptloop run{'' if here else f' --dir {directory}'}")
        return
    for path in write_starter(directory):
        click.echo(f"created {path}")
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory} && "
    click.echo(
        f"Next: {where}promptloop run   (12 cases, the embedded model when no key is set; "
        "then edit prompts/summary.md and compare with `promptloop run --baseline HEAD` "
        "once it is committed, or try `promptloop optimize`)"
    )


@cli.command()
@click.option(
    "--feedback",
    "feedback_schema",
    is_flag=True,
    help="Print the schema of one line of a reviewers' feedback file instead.",
)
@friendly_errors
def schema(feedback_schema: bool) -> None:
    """Print the JSON Schema of promptloop.yaml (point your editor's YAML plugin at it)."""
    import json

    from promptloop.dataset.feedback import feedback_json_schema
    from promptloop.project.config.file import config_json_schema

    chosen = feedback_json_schema() if feedback_schema else config_json_schema()
    click.echo(json.dumps(chosen, indent=2))


@cli.command()
@click.argument("suite", required=False)
@project_options
@friendly_errors
def calibrate(
    suite: str | None, directory: Path, config_path: Path | None, results_path: Path | None
) -> None:
    """Compare each judge's verdicts with the reviewers' on the same outputs (SUITE: one)."""
    from promptloop.commands.calibrate import calibrate_suites, render_calibration
    from promptloop.commands.run import ProjectQuery, project_for

    project = project_for(ProjectQuery(start_dir=directory, config_path=config_path))
    found = calibrate_suites(project, suite, results_path)
    click.echo(render_calibration(found))


@cli.group()
def feedback() -> None:
    """Reviewers' verdicts on outputs, kept in a feedback file beside each dataset."""


@feedback.command("add")
@click.argument("suite")
@click.argument("case")
@click.argument("verdict", type=click.Choice(["good", "bad"]))
@click.argument("note", default="")
@project_options
@click.option("--output", "output_text", help="Judge this output text instead of the last run's.")
@click.option("--by", help="Who gives the verdict [default: your login name].")
@friendly_errors
def feedback_add(
    suite: str,
    case: str,
    verdict: str,
    note: str,
    directory: Path,
    config_path: Path | None,
    results_path: Path | None,
    output_text: str | None,
    by: str | None,
) -> None:
    """Record that CASE's last output in SUITE is good or bad, and why (NOTE)."""
    from promptloop.commands.feedback import FeedbackAdd, add_feedback
    from promptloop.commands.run import ProjectQuery

    added = add_feedback(
        ProjectQuery(start_dir=directory, config_path=config_path),
        FeedbackAdd(
            suite=suite,
            case=case,
            verdict=cast("Literal['good', 'bad']", verdict),
            note=note,
            results_path=results_path,
            output=output_text,
            by=by,
        ),
    )
    click.echo(f"{added.display}: {added.record.verdict} on {added.name} recorded")


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--no-open",
    is_flag=True,
    help="Only write the report if needed and print its path (for a machine with no browser).",
)
@friendly_errors
def view(path: Path | None, no_open: bool) -> None:
    """Open a run's report.html in your browser.

    PATH is a results.json, a report.html or the folder holding them [default: the
    project's promptloop-results/, the one `promptloop run` writes]. The report is rebuilt
    from results.json when it is missing or older.
    """
    import webbrowser

    from promptloop.commands.view import carry_out, plan_view

    plan = plan_view(path, Path.cwd())
    report = carry_out(plan)
    if plan.rebuild_from is not None:
        click.echo(f"wrote {report} from {plan.rebuild_from.name}")
    uri = report.as_uri()
    if no_open:
        click.echo(str(report))
    elif webbrowser.open(uri):
        click.echo(f"opened {uri}")
    else:
        click.echo(f"no browser found here; open {uri}")
