"""The publisher's ledger: what publishing has learned over one run (its warnings, whether
the token can write, the writes a dry run planned), read by the reports, the exit
line and ``ci --dry-run``. Pure: the publisher records here what GitHub answered."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ledger:
    """What the publisher has learned so far: warnings for the reports and the runner,
    whether the token can write, and the actions a dry run would have applied."""

    warnings: list[str] = field(default_factory=list)
    read_only: bool = False
    planned: list[str] = field(default_factory=list)
    # Set only by a failure that stopped a phase: what GitHub answered, for the exit line.
    last_failure: str | None = None
    # Whether any summary comment or check run reached GitHub.
    published: bool = False

    def read_only_token(self, answer: str) -> None:
        """GitHub refused a write as the token's (``answer``): nothing more is written."""
        self.read_only = True
        # The answer says what was refused and which permission is missing; one sentence. A
        # warning, so the job's log says it too: a fork's read-only token never gets here
        # (nothing is tried), a workflow that forgot a permission does.
        self.warnings.append(
            f"{answer[:1].upper()}{answer[1:]}. promptloop reports through the exit code, "
            "annotations and this job summary instead."
        )

    def failed(self, what: str, answer: str) -> None:
        """Could not ``what``: GitHub's ``answer`` stopped it."""
        self.warnings.append(_could_not(what, answer))
        self.last_failure = answer

    def gave_up(self, what: str, answer: str, passes: int) -> None:
        """Could not ``what`` in ``passes`` tries, each ended by a conflict or a write GitHub
        may not have applied (the last one's ``answer``)."""
        self.warnings.append(f"{_could_not(what, answer)} (tried {passes} times)")
        self.last_failure = answer


def _could_not(what: str, answer: str) -> str:
    """One "could not ..." line: GitHub's answers already say what could not be done."""
    return answer if answer.startswith("could not") else f"could not {what}: {answer}"
