"""The verdicts of one comment, recorded: fingerprinted on the outputs the head gives, then
committed onto the pull request's branch in one commit (a push in between is answered by
reading the branch again), or offered as suggested changes for teams that forbid bot commits.
Both writes go through the publisher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from promptloop.commands.ci_job import Ci
from promptloop.dataset.feedback import FeedbackRecord, append_lines, output_fingerprint
from promptloop.errors import InfraError
from promptloop.github import replies
from promptloop.github.api import GitHubClient
from promptloop.github.comment_commands import CommentEvent
from promptloop.github.comment_plan import CommentPlan
from promptloop.github.diff import hunk_containing
from promptloop.github.markers import review_marker
from promptloop.github.publish import Publisher
from promptloop.github.state import PullHead, ReviewComment
from promptloop.project.loaded import LoadedConfig
from promptloop.safety import code_block, fingerprint
from promptloop.wording import plural


@dataclass(frozen=True)
class Recorded:
    total: int
    commits: tuple[str, ...]
    said: str
    # The branch's head holding the verdicts (None: they were offered, not committed).
    head_sha: str | None = None


def record_verdicts(
    ci: Ci, loaded: LoadedConfig, root: Path, event: CommentEvent, head: PullHead, plan: CommentPlan
) -> Recorded:
    """The plan's verdicts recorded, each fingerprinted on the output the plan read for its
    case; ``root``: the checkout's top folder, where the feedback files' paths start."""
    verdicts, found, publisher = plan.verdicts, plan.outputs, ci.publisher
    if not verdicts:
        return Recorded(0, (), "", head.head_sha)
    now = datetime.now(UTC).replace(microsecond=0)
    by_file: dict[str, list[FeedbackRecord]] = {}
    for command, suite, case in verdicts:
        config = next(s for s in loaded.config.suites if s.name == suite)
        record = FeedbackRecord(
            case=case,
            output=output_fingerprint(found[(suite, case)]),
            verdict="good" if command.verb == "good" else "bad",
            # The note lands in a committed file: a secret pasted into it must not.
            note=ci.mask(command.note),
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
        said = offer_feedback(publisher, ci.github(), event.number, head, by_file)
        return Recorded(total, (), said)
    message = f"promptloop: {plural(total, 'reviewer verdict')} from {event.author}"
    done = publisher.record_feedback(head.head_ref, by_file, message)
    if not done.done:
        ledger = publisher.ledger
        raise InfraError(ledger.last_failure or (ledger.warnings or ["nothing was recorded"])[-1])
    made = bool(done.actions) and not publisher.dry_run and done.sha is not None
    commits = (done.sha,) if made and done.sha else ()
    return Recorded(total, commits, replies.recorded(total, done.sha if made else None), done.sha)


def offer_feedback(
    publisher: Publisher,
    gh: GitHubClient,
    number: int,
    head: PullHead,
    by_file: Mapping[str, Sequence[FeedbackRecord]],
) -> str:
    """The verdicts as suggested changes that append them to each feedback file, where its
    last line is in the diff (GitHub suggests only there); otherwise the lines to add by hand."""
    files = gh.pull_files(number)
    comments: list[ReviewComment] = []
    by_hand: list[tuple[str, str]] = []
    for path, records in by_file.items():
        current = gh.branch_file(head.head_ref, path)
        lines = (current.text or "").splitlines() if current is not None else []
        new = "\n".join(r.to_line() for r in records)
        changed = files.get(path)
        if lines and changed is not None and hunk_containing(changed.hunks, len(lines)):
            block = code_block(f"{lines[-1]}\n{new}", "suggestion")
            mark = review_marker(fingerprint("feedback", path, new), head.head_sha)
            body = f"{replies.offer_comment(path)}\n\n{block}\n\n{mark}"
            comments.append(ReviewComment(path, body, len(lines)))
        else:
            by_hand.append((path, new))
    url = None
    if comments:
        offered = publisher.offer(
            number, head.head_sha, "promptloop: reviewers' verdicts", comments, files
        )
        url = offered.url
    return replies.offered(url, by_hand)
