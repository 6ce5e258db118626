"""The GitHub Actions environment a ``promptloop ci`` run sees, read once at startup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptloop.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"

# Explicit action inputs win over the ambient GITHUB_TOKEN: a user who passes a PAT means it.
_TOKEN_VARIABLES = ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "INPUT_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class ActionsRuntime:
    event_path: Path
    event_name: str
    repository: str
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    token: str | None = field(default=None, repr=False)
    output_path: Path | None = None
    step_summary_path: Path | None = None
    workspace: Path | None = None
    sha: str | None = None
    # GITHUB_REF: the branch a schedule runs on (its payload names none).
    ref: str | None = None
    run_id: str | None = None
    # The artifact the action uploads the reports to (it sets PROMPTLOOP_REPORT_ARTIFACT).
    report_artifact: str | None = None

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> ActionsRuntime:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise UserError(
                    f"environment variable {name} is not set; `promptloop ci` must run inside "
                    "GitHub Actions (or set it yourself)",
                    key=name,
                )
            return value

        def optional(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def optional_path(name: str) -> Path | None:
            value = optional(name)
            return Path(value) if value else None

        repository = required("GITHUB_REPOSITORY")
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise UserError(
                f"GITHUB_REPOSITORY must look like owner/name, got {repository!r}",
                key="GITHUB_REPOSITORY",
            )
        token = next((v for v in (optional(n) for n in _TOKEN_VARIABLES) if v), None)
        return cls(
            event_path=Path(required("GITHUB_EVENT_PATH")),
            event_name=required("GITHUB_EVENT_NAME"),
            repository=repository,
            api_url=(optional("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(optional("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            token=token,
            output_path=optional_path("GITHUB_OUTPUT"),
            step_summary_path=optional_path("GITHUB_STEP_SUMMARY"),
            workspace=optional_path("GITHUB_WORKSPACE"),
            sha=optional("GITHUB_SHA"),
            ref=optional("GITHUB_REF"),
            run_id=optional("GITHUB_RUN_ID"),
            report_artifact=optional("PROMPTLOOP_REPORT_ARTIFACT"),
        )

    def require_token(self) -> str:
        if self.token is None:
            raise UserError(
                "no GitHub token: pass `github-token` to the action or set GITHUB_TOKEN",
                key="GITHUB_TOKEN",
            )
        return self.token

    @property
    def run_url(self) -> str | None:
        if self.run_id is None:
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def report_url(self) -> str | None:
        """Where a reviewer downloads report.html: this run's artifacts, when the action
        uploads them; a link promptloop writes from GitHub's own variables."""
        if self.report_artifact is None or self.run_url is None:
            return None
        return f"{self.run_url}#artifacts"

    def commit_url(self, sha: str) -> str:
        return f"{self.server_url}/{self.repository}/commit/{sha}"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in comments or logs."""
        return (self.token,) if self.token else ()
