"""Error types that split a user's mistake from a failure of the world around us.

Every error that reaches the user is rendered as one line; ``location`` carries
``file:line`` when the mistake sits in a file the user wrote.
"""

from __future__ import annotations


class PromptloopError(Exception):
    """Base class; ``str(error)`` is the one line shown to the user."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        super().__init__(self.one_line())

    @property
    def location(self) -> str | None:
        if self.path is None:
            return None
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def one_line(self) -> str:
        parts = [p for p in (self.location, self.key) if p]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split("\n"))


class UserError(PromptloopError):
    """Bad configuration, prompt, dataset or command-line input (exit code 2)."""

    exit_code = 2


class InfraError(PromptloopError):
    """Something outside the user's files failed: a provider, the network, GitHub (exit 3)."""

    exit_code = 3
