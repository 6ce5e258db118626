"""The verdicts of one comment, recorded: fingerprinted on the outputs the head gives, then
committed onto the pull request's branch in one commit (a push in between is answered by
reading the branch again), or offered as a suggested change for teams that forbid bot commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from promptloop.dataset.feedback import (
    FeedbackRecord,
    append_lines,
    output_fingerprint,
    parse_feedback,
)
from promptloop.errors import InfraError
from promptloop.github.api import ConflictError, GitHubClient, PullHead, ReviewComment
from promptloop.github.comment_commands import Command, CommentEvent
from promptloop.github.diff import hunk_containing
from promptloop.github.state import AmbiguousWriteError
from promptloop.project.loader import LoadedConfig
from promptloop.safety import code_block, inline_code
from promptloop.wording import plural

COMMIT_ATTEMPTS = 4

# (suite -> case ids) to the output each case gives on the checked-out head.
OutputsFn = Callable[[LoadedConfig, Mapping[str, Sequence[str]]], dict[tuple[str, str], str]]


@dataclass(frozen=True)
class Recorded:
    total: int
    commits: tuple[str, ...]
    said: str
    # The branch's head holding the verdicts (None: they were offered, not committed).
    head_sha: str | None = None
    # Cases that gave no output to judge ("suite/case"); nothing is recorded then.
    missing: tuple[str, ...] = ()


def record_verdicts(
    gh: GitHubClient,
    loaded: LoadedConfig,
    root: Path,
    event: CommentEvent,
    head: PullHead,
    verdicts: Sequence[tuple[Command, str, str]],
    outputs: OutputsFn,
    mask: Callable[[str], str],
) -> Recorded:
    """The verdicts recorded, or the cases that gave no output (then nothing is)."""
    if not verdicts:
        return Recorded(0, (), "", head.head_sha)
    wanted: dict[str, list[str]] = {}
    for _, suite, case in verdicts:
        wanted.setdefault(suite, []).append(case)
    found = outputs(loaded, wanted)
    missing = [f"{s}/{c}" for _, s, c in verdicts if (s, c) not in found]
    if missing:
        return Recorded(0, (), "", missing=tuple(missing))
    now = datetime.now(UTC).replace(microsecond=0)
    by_file: dict[str, list[FeedbackRecord]] = {}
    for command, suite, case in verdicts:
        config = next(s for s in loaded.config.suites if s.name == suite)
        record = FeedbackRecord(
            case=case,
            output=output_fingerprint(found[(suite, case)]),
            verdict="good" if command.verb == "good" else "bad",
            # The note lands in a committed file: a secret pasted into it must not.
            note=mask(command.note),
            by=event.author,
            at=now,
            source=event.html_url or f"comment {event.comment_id}",
        )
        on_disk = loaded.resolve(loaded.feedback_file(config)).resolve()
        by_file.setdefault(on_disk.relative_to(root).as_posix(), []).append(record)
    total = sum(len(r) for r in by_file.values())
    for path, records in by_file.items():
        # The checkout is the head before this commit; `learn` reads the verdicts from it
        # (offered as a suggestion, they count for what it learns all the same).
        local = root / path
        before = local.read_text(encoding="utf-8") if local.is_file() else ""
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(append_lines(before, records), encoding="utf-8")
    if loaded.config.feedback_delivery == "suggestion":
        said = offer_feedback(gh, event.number, head, by_file, mask)
        return Recorded(total, (), said)
    message = f"promptloop: {plural(total, 'reviewer verdict')} from {event.author}"
    sha, made = commit_feedback(gh, head.head_ref, by_file, message)
    commits = (sha,) if made else ()
    where = f" in {inline_code(commits[0][:7])}" if commits else ""
    said = (
        f"Recorded {plural(total, 'verdict')}{where}. The `human` evaluator applies them while "
        "the outputs stay the same, and the optimizer reads the notes first."
    )
    return Recorded(total, commits, said, sha)


def offer_feedback(
    gh: GitHubClient,
    number: int,
    head: PullHead,
    by_file: Mapping[str, Sequence[FeedbackRecord]],
    mask: Callable[[str], str],
) -> str:
    """The verdicts as suggested changes that append them to each feedback file, where its
    last line is in the diff (GitHub suggests only there); otherwise the lines to add by hand."""
    files = gh.pull_files(number)
    comments: list[ReviewComment] = []
    by_hand: list[str] = []
    for path, records in by_file.items():
        current = gh.branch_file(head.head_ref, path)
        lines = (current.text or "").splitlines() if current is not None else []
        new = "\n".join(r.to_line() for r in records)
        changed = files.get(path)
        if lines and changed is not None and hunk_containing(changed.hunks, len(lines)):
            block = code_block(f"{lines[-1]}\n{new}", "suggestion")
            body = mask(f"Reviewers' verdicts for {inline_code(path)}; commit to keep them.")
            comments.append(ReviewComment(path, f"{body}\n\n{block}", len(lines)))
        else:
            by_hand.append(
                f"Add to {inline_code(path)} (not in this pull request's diff, so GitHub cannot "
                f"suggest it):\n\n{code_block(new, 'json')}"
            )
    parts = []
    if comments:
        review = gh.post_review(
            number, head.head_sha, "promptloop: reviewers' verdicts", comments, files=files
        )
        parts.append(f"The verdicts are suggested changes in {review.html_url}; commit them.")
    return "\n\n".join([*parts, *by_hand])


def commit_feedback(
    gh: GitHubClient,
    branch: str,
    records: Mapping[str, Sequence[FeedbackRecord]],
    message: str,
) -> tuple[str, bool]:
    """Append each file's records to it on ``branch``, all in one commit: (the branch's tip
    holding them, whether this call made it). They may all be there already: a write GitHub
    applied but did not confirm. A push in between (or a write whose fate is unknown) means
    reading the branch again."""
    for _ in range(COMMIT_ATTEMPTS):
        reads = {path: gh.branch_file(branch, path) for path in records}
        tips = {read.tip_sha for read in reads.values() if read is not None}
        if None in reads.values():
            raise InfraError(f"branch {branch} is gone; nothing was recorded")
        if len(tips) != 1:
            continue
        texts = {}
        for path, read in reads.items():
            existing = read.text or "" if read is not None else ""
            there = {r.to_line() for r in parse_feedback(existing, path)}
            new = [r for r in records[path] if r.to_line() not in there]
            if new:
                texts[path] = append_lines(existing, new)
        tip = tips.pop()
        if not texts:
            return tip, False
        try:
            return gh.commit_files(branch, texts, message, tip), True
        except (ConflictError, AmbiguousWriteError):
            continue
    raise InfraError(
        f"could not commit to {branch}: the branch moved {COMMIT_ATTEMPTS} times while "
        "promptloop wrote to it; repeat the command"
    )
