"""The client ``promptloop ci`` is given: what it reads from GitHub (``reads``) and the writes
it can make (``writes``), over ``transport`` (the wire, its retries and errors). Only
``publish`` calls the writes."""

from __future__ import annotations

from typing import Any

from promptloop.github.reads import Reads
from promptloop.github.transport import Transport
from promptloop.github.writes import Writes


class GitHubClient(Reads, Writes):
    """One repository's pull requests, branches and checks, as promptloop uses them."""

    def __init__(
        self,
        token: str,
        base_url: str,
        repo_full_name: str,
        *,
        bot_login: str | None = None,
        **transport: Any,
    ) -> None:
        self._t = Transport(token, base_url, repo_full_name, **transport)
        self._own_login = bot_login
        self._own_login_known = bot_login is not None

    @property
    def token(self) -> str:
        return self._t.token
