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


EXIT_CODES_HELP = """\b
Exit codes:
  0  every gate passed (or was inconclusive)
  1  a gate failed
  2  usage or configuration error
  3  infrastructure error (a provider or GitHub kept failing)
  130/143  stopped by Ctrl-C / SIGTERM (partial reports, marked incomplete)
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
    "[default: ./promptloop-results].",
)
model_option = click.option(
    "--model",
    "-m",
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


def project_options(fn: F) -> F:
    """--dir, --config and --results, for commands that read a run's results.json."""
    for option in reversed(
        (
            click.option(
                "--dir",
                "directory",
                type=click.Path(path_type=Path, file_okay=False, exists=True),
                default=".",
                help="Project directory [default: here].",
            ),
            config_option,
            click.option(
                "--results",
                "results_path",
                type=click.Path(path_type=Path, dir_okay=False),
                help="The run's results.json [default: ./promptloop-results/results.json].",
            ),
        )
    ):
        fn = option(fn)
    return fn


def results_or_default(results_path: Path | None) -> Path:
    return results_path or Path.cwd() / "promptloop-results" / "results.json"
