"""The wire to GitHub's REST API: PyGithub (this is the only module that imports it), its
retries, and every failure turned into a typed one-line error.

Nothing here knows what promptloop says or where; ``api`` reads and writes through it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubRetry, InputGitTreeElement
from github.PullRequest import PullRequest
from github.Repository import Repository
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from promptloop.errors import InfraError
from promptloop.github.state import AmbiguousWriteError

_NOT_ACCESSIBLE = "Resource not accessible by integration"
_ACTIONS_CANNOT_OPEN_PRS = "not permitted to create or approve pull requests"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class GitHubError(InfraError):
    """GitHub answered with an error: ``status`` is its HTTP status (None: no answer),
    ``detail`` GitHub's own words."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(message)


class ReadOnlyTokenError(GitHubError):
    """The token may read but not write (fork PRs, or missing ``permissions:`` in the workflow)."""


def _error_text(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        details: list[str] = []
        for err in data.get("errors") or []:
            if isinstance(err, dict):
                details.append(str(err.get("message") or err.get("code") or ""))
            else:
                details.append(str(err))
        details = [d for d in details if d]
        if details:
            message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
        return message or f"HTTP {exc.status}"
    return str(data or exc.message or f"HTTP {exc.status}")


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """The connection was never made (refused, no route, connect timeout): GitHub cannot
    have seen the request, so it is safe to say it failed."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


class _RetryOnlyWhatIsSafe(GithubRetry):
    """PyGithub's retry, except that a write is never repeated after a 5xx answer or a
    connection that broke once the request was out: GitHub may have applied it already (it
    documents that such retries can duplicate), so the caller re-reads the state instead.
    Rate-limit answers (403/429) and connections never made mean nothing was applied, so
    those are retried for every method."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in _SAFE_METHODS and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(self, method: str | None = None, *args: Any, **kwargs: Any) -> Any:
        error = kwargs.get("error")
        if (
            error is not None
            and method is not None
            and method.upper() not in _SAFE_METHODS
            and self._is_read_error(error)
        ):
            raise error
        return super().increment(method, *args, **kwargs)


class _NoRefusalLines(logging.Filter):
    """PyGithub logs every 403 to the job's stderr ("Request GET /user failed with 403:
    Forbidden"), the refusals promptloop expects (who the Actions token is) included; each
    refusal that matters is reported in promptloop's own words, so only those lines go.
    Its other lines (how long a rate limit makes it wait) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " failed with 403: " not in record.getMessage()


logging.getLogger(GithubRetry.__module__).addFilter(_NoRefusalLines())


class Transport:
    """One repository on one GitHub: the PyGithub objects, and ``call`` around every use of
    them so a failure leaves as a ``GitHubError`` (or ``AmbiguousWriteError`` for a write
    GitHub may have applied)."""

    def __init__(
        self,
        token: str,
        base_url: str,
        repo_full_name: str,
        *,
        retry: bool = True,
        retries: int = 3,
        backoff_factor: float = 1.0,
        secondary_rate_wait: float = 60.0,
        max_rate_limit_wait: float | None = 300.0,
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
        timeout: int = 30,
    ) -> None:
        retry_policy: GithubRetry | None = None
        if retry:
            retry_policy = _RetryOnlyWhatIsSafe(
                total=retries,
                backoff_factor=backoff_factor,
                secondary_rate_wait=secondary_rate_wait,
                max_rate_limit_wait=max_rate_limit_wait,
                # Hand the final error response to PyGithub so it becomes a GithubException.
                raise_on_status=False,
            )
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.repo_full_name = repo_full_name
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=self.base_url,
            retry=retry_policy,
            per_page=100,
            timeout=timeout,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
            # Objects fetch themselves on first use, so e.g. a review costs no extra GETs.
            lazy=True,
        )
        self._repo: Repository | None = None
        self._pulls: dict[int, PullRequest] = {}

    @contextmanager
    def call(
        self, action: str, permission: str | None = None, *, write: bool = False
    ) -> Iterator[None]:
        try:
            yield
        except GithubException as exc:
            if write and exc.status >= 500:
                raise AmbiguousWriteError(
                    f"could not {action}: GitHub answered {exc.status}: {_error_text(exc)}"
                ) from exc
            raise self._translate(exc, action, permission) from exc
        except requests.exceptions.ConnectionError as exc:
            reason = type(exc).__name__
            error = AmbiguousWriteError if write and not _never_sent(exc) else InfraError
            raise error(
                f"could not {action}: cannot reach GitHub at {self.base_url} ({reason})"
            ) from exc
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            error = AmbiguousWriteError if write else InfraError
            raise error(
                f"could not {action}: cannot reach GitHub at {self.base_url} ({reason})"
            ) from exc

    @staticmethod
    def _translate(exc: GithubException, action: str, permission: str | None) -> GitHubError:
        text = _error_text(exc)
        status = exc.status
        if status == 403 and _NOT_ACCESSIBLE in text:
            need = f" (needs `{permission}`)" if permission else ""
            return ReadOnlyTokenError(
                f"could not {action}: the GitHub token is read-only here{need}; pull requests "
                "from forks always get a read-only token, otherwise grant it under "
                "`permissions:` in the workflow",
                status=status,
                detail=text,
            )
        if _ACTIONS_CANNOT_OPEN_PRS in text:
            return GitHubError(
                f"could not {action}: {text}; enable 'Allow GitHub Actions to create and approve "
                "pull requests' in the repository's Actions settings, or use commit mode",
                status=status,
                detail=text,
            )
        if status == 401:
            message = f"could not {action}: GitHub rejected the token ({text})"
        else:
            message = f"could not {action}: GitHub answered {status}: {text}"
        return GitHubError(message, status=status, detail=text)

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = self._gh.get_repo(self.repo_full_name)
        return self._repo

    def pull(self, number: int) -> PullRequest:
        if number not in self._pulls:
            with self.call(f"read pull request #{number}"):
                self._pulls[number] = self.repo.get_pull(number)
        return self._pulls[number]

    def login(self) -> str | None:
        """The token's user, when GitHub tells (it refuses for the Actions token)."""
        try:
            return str(self._gh.get_user().login)
        except (GithubException, requests.exceptions.RequestException):
            return None

    def request(self, method: str, url: str, body: dict[str, Any]) -> None:
        """A request PyGithub has no method for (``url`` absolute or under the API)."""
        self._gh.requester.requestJsonAndCheck(method, url, input=body)

    def minimize(self, node_id: str) -> bool:
        """GraphQL ``minimizeComment`` as outdated; False when GitHub refuses."""
        try:
            _, data = self._gh.requester.graphql_named_mutation(
                mutation_name="minimizeComment",
                mutation_input={"subjectId": node_id, "classifier": "OUTDATED"},
                output_schema="minimizedComment { isMinimized }",
            )
        except (GithubException, requests.exceptions.RequestException):
            return False
        minimized = (data or {}).get("minimizedComment") or {}
        return minimized.get("isMinimized") is True

    @staticmethod
    def blob(path: str, text: str) -> InputGitTreeElement:
        return InputGitTreeElement(path, "100644", "blob", content=text)
