"""What every activity of one `promptloop ci` job starts from: the options the action
passed, the runner's environment, GitHub to read from, the one publisher that writes to
it, and the project's config as the checkout holds it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptloop.github.api import GitHubClient
from promptloop.github.publish import Publisher
from promptloop.github.runtime import ActionsRuntime
from promptloop.models.stop import StopSignal
from promptloop.project.loaded import LoadedConfig, find_config, load_config
from promptloop.safety import mask_secrets


@dataclass
class CiOptions:
    working_directory: Path = Path(".")
    config_path: Path | None = None
    output_dir: Path | None = None
    comment: bool = True
    suggest: str = "suggestion"
    fail_on: str = "gate"
    concurrency: int | None = None
    cache_dir: Path | None = None
    # The job's budget (every call: run, second look, optimizer), over the config's `budget:`.
    max_usd: float | None = None
    max_calls: int | None = None
    # Post an existing results.json (e.g. `promptloop merge` of a sharded run) instead of
    # running the suites here; no revision is learned then.
    results_path: Path | None = None
    # Print what would be written to GitHub and write nothing there.
    dry_run: bool = False
    # The CLI's signal handlers: a cancelled job posts what finished, marked incomplete.
    stop: StopSignal | None = None


@dataclass(frozen=True)
class Ci:
    """What every activity of one `promptloop ci` run starts from: the options, the runner's
    environment, GitHub to read from, and the one publisher that writes to it."""

    opts: CiOptions
    runtime: ActionsRuntime
    github: Callable[[], GitHubClient]
    publisher: Publisher
    secrets: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def workdir(self) -> Path:
        return ((self.runtime.workspace or Path.cwd()) / self.opts.working_directory).resolve()

    def output_dir(self) -> Path:
        """Where the report files go: ``--output-dir`` (from the working directory), else
        its promptloop-results/."""
        if self.opts.output_dir is not None:
            return (self.workdir() / self.opts.output_dir).resolve()
        return self.workdir() / "promptloop-results"

    def load_config(self) -> LoadedConfig:
        """promptloop.yaml as the checkout holds it (``--config``, else the nearest one to the
        working directory, where this is called), with the response cache where the action
        keeps it: the answers the default branch's baseline and this pull request's own runs
        left there are the ones every activity reads."""
        given = self.opts.config_path
        path = given or find_config(Path("."))
        if given is None and not path.is_absolute():
            path = Path(os.path.relpath(path.resolve(), Path.cwd()))
        return load_config(path, cache_dir=self.opts.cache_dir)
