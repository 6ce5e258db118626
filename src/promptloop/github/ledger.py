"""The publisher's ledger: what publishing has learned over one run, read by the reports, the
exit line and ``ci --dry-run``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ledger:
    """What the publisher has learned so far: notes and warnings for the reports, whether
    the token can write, and the actions a dry run would have applied."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_only: bool = False
    planned: list[str] = field(default_factory=list)
    # Set only by a failure that stopped a phase: what GitHub answered, for the exit line.
    last_failure: str | None = None
    # Whether any summary comment or check run reached GitHub.
    published: bool = False
