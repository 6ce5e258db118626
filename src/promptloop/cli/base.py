"""What every command shares: the group, the common options, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


# The verdict rule and the exit codes, as the README's top states them.
EXIT_CODES_HELP = """\b
Verdict: a suite fails when its pass rate is below its threshold, when it
fell significantly by more than gate.max_regression_pp against --baseline,
or when a critical case broke; with too few cases to tell, it is
inconclusive, which passes unless gate.inconclusive is fail. Errors are
never prompt failures.

\b
Exit codes:
  0  every suite passed (or was inconclusive)
  1  a suite failed on the cases that could be judged
  2  usage or configuration error, or an evaluator could not judge some cases
     (a python check raised, a judge answered garbage)
  3  infrastructure error (a provider or GitHub kept failing)
  130/143  stopped by Ctrl-C / SIGTERM (partial reports, marked incomplete;
           a run whose every case finished is reported whole)

\b
Environment:
  PROMPTLOOP_LOCAL_THREADS  threads of the embedded model
                            [default: half the usable cores, at least 1]
"""


def friendly_errors(fn: F) -> F:
    """Turn our errors into one line on stderr and the documented exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import os

        from promptloop.commands.interrupts import Interrupted
        from promptloop.errors import PromptloopError
        from promptloop.safety import known_secrets, mask_secrets

        try:
            return fn(*args, **kwargs)
        except PromptloopError as exc:
            line = mask_secrets(exc.one_line(), known_secrets(os.environ))
            click.echo(f"promptloop: error: {line}", err=True)
            sys.exit(exc.exit_code)
        except Interrupted as exc:
            click.echo(f"promptloop: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("promptloop: interrupted", err=True)
            sys.exit(130)
        except (MemoryError, RecursionError) as exc:
            # A file or value too big or too deeply nested for the limits to catch by name.
            kind = "out of memory" if isinstance(exc, MemoryError) else "input nested too deeply"
            click.echo(f"promptloop: error: {kind}: an input is too large to handle", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(package_name="promptloop")
def cli() -> None:
    """Evaluate LLM prompts, explain every failure, and learn better prompts from the critiques.

    Start with `promptloop run` in a folder that has a promptloop.yaml. With no model
    configured and no provider key set, promptloop runs the embedded SmolLM2 model locally.
    """


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Path to promptloop.yaml or a promptfoo config (default: promptloop.yaml, else "
    "promptfooconfig.yaml, found in DIRECTORY or its parents).",
)
output_option = click.option(
    "--output-dir",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write results.json, junit.xml, report.md and report.html "
    "[default: promptloop-results/ in the project, beside promptloop.yaml].",
)


def named_model(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A model option's value. An empty one is refused: it would read as no option at all,
    and the config's model would run without a word."""
    if value is not None and not value.strip():
        raise click.BadParameter(
            "empty; name a model, e.g. openai/gpt-4o-mini or local/smollm2 (or leave the "
            "option out to use the config's)",
            ctx,
            param,
        )
    return value


model_option = click.option(
    "--model",
    "-m",
    callback=named_model,
    help="Model under test, any litellm model string "
    "(overrides the config), e.g. openai/gpt-4o-mini or local/smollm2.",
)
concurrency_option = click.option(
    "--concurrency",
    "-j",
    type=click.IntRange(min=1),
    help="Model calls in flight at once [default: from config, 8].",
)
no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Ignore and don't fill the response cache."
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress, only the summary.")


def stdout_console() -> Console:
    """Rich assumes 80 columns when stdout is not a terminal; CI logs are wider than that."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    return console


# One spelling for the project folder in every command (`run DIR` is the deprecated one).
dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    help="The project: the folder with promptloop.yaml, or one below it [default: here].",
)


def project_options(fn: F) -> F:
    """--dir, --config and --results, for commands that read a run's results.json."""
    for option in reversed(
        (
            dir_option,
            config_option,
            click.option(
                "--results",
                "results_path",
                type=click.Path(path_type=Path, dir_okay=False),
                help="The run's results.json [default: promptloop-results/results.json in the "
                "project, beside promptloop.yaml].",
            ),
        )
    ):
        fn = option(fn)
    return fn


def budget_options(fn: F) -> F:
    """--max-usd and --max-calls: the run's budget (``budget:`` in the config), for every
    command that calls models."""
    for option in reversed(
        (
            click.option(
                "--max-usd",
                type=click.FloatRange(min=0),
                help="Budget: US dollars this run may spend on every call, a learned "
                "revision's included [default: budget.max_usd].",
            ),
            click.option(
                "--max-calls",
                type=click.IntRange(min=0),
                help="Budget: model calls this run may make; cached answers are free "
                "[default: budget.max_calls].",
            ),
        )
    ):
        fn = option(fn)
    return fn


def one_directory(old_directory: Path | None, directory: Path) -> Path:
    """`run DIR`, from before every command took --dir, still works (and says so: see
    ``deprecated_directory``)."""
    if old_directory is None:
        return directory
    if directory != Path("."):
        raise click.UsageError("give the project folder once: --dir DIR (DIR alone is the old way)")
    return old_directory


def deprecated_directory(old_directory: Path | None) -> None:
    # Said after the run, so an error stays the one line on stderr it always was.
    if old_directory is not None:
        click.echo(
            f"promptloop: `run {old_directory}` is deprecated; write "
            f"`run --dir {old_directory}` (every command takes --dir)",
            err=True,
        )
