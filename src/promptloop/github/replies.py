"""What promptloop answers to a reviewer's `/promptloop` comment: every sentence of that
conversation, in one place (pure). The replies are promptloop's Markdown (its links and code
blocks stay live); whatever the commenter, a model or an error wrote is neutralised where it
is put in."""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.github.comment_commands import PREFIX, Command, Problem
from promptloop.github.summary import Link
from promptloop.safety import code_block, inline_code, neutralize
from promptloop.wording import one_line, plural


def refused(author: str, role: str) -> str:
    return (
        f"Sorry, {author}: promptloop takes commands only from people with write, "
        f"maintain or admin permission on this repository (yours: {role}). Nothing was "
        "recorded. A maintainer can repeat the command if they agree."
    )


def from_a_fork(commands: Sequence[Command]) -> str:
    verdicts = [c for c in commands if c.verb in ("good", "bad") and c.case]
    how = (
        "\n".join(f'promptloop feedback add SUITE {c.case} {c.verb} "{c.note}"' for c in verdicts)
        or 'promptloop feedback add SUITE CASE bad "what is wrong"'
    )
    return (
        "This pull request comes from a fork, so promptloop records nothing here: it would "
        "have to run the fork's code with this repository's secrets. The fork's author can "
        "add the feedback by hand on the branch, after `promptloop run`:\n\n"
        f"{code_block(how, 'sh')}\n\nand commit the suite's `.feedback.jsonl` file."
    )


def name_the_case(verb: str) -> str:
    return (
        f"name the case: `{PREFIX} {verb} CASE: note` (only a reply to one of "
        "promptloop's findings may leave it out)"
    )


def not_understood(problems: Sequence[Problem]) -> str:
    lines = [
        "Nothing was recorded; promptloop did not understand "
        + ("this line:" if len(problems) == 1 else "these lines:")
    ]
    # The reasons quote the commenter's words (a case id, a verb).
    lines += [f"- {neutralize(p.render())}" for p in sorted(problems, key=lambda p: p.line)]
    lines.append(f"\n`{PREFIX} help` lists the commands.")
    return "\n".join(lines)


def no_output(missing: Sequence[str]) -> str:
    return (
        "Nothing was recorded: the model gave no output for "
        + ", ".join(inline_code(m) for m in missing)
        + " on this head, so there is nothing to judge. Try again once it answers."
    )


def recorded(total: int, commit: str | None) -> str:
    where = f" in {inline_code(commit[:7])}" if commit else ""
    them, notes = ("it", "the note") if total == 1 else ("them", "the notes")
    return (
        f"Recorded {plural(total, 'verdict')}{where}. The `human` evaluator applies {them} "
        f"while the outputs stay the same, and the optimizer reads {notes} first."
    )


def offered(review_url: str | None, by_hand: Sequence[tuple[str, str]]) -> str:
    """Where the verdicts were suggested, and the lines to add by hand (path, lines)."""
    parts = (
        [f"The verdicts are suggested changes in {review_url}; commit them."] if review_url else []
    )
    parts += [
        f"Add to {inline_code(path)} (not in this pull request's diff, so GitHub cannot "
        f"suggest it):\n\n{code_block(lines, 'json')}"
        for path, lines in by_hand
    ]
    return "\n\n".join(parts)


def offer_comment(path: str) -> str:
    return f"Reviewers' verdicts for {inline_code(path)}; commit to keep them."


def nothing_learned(why: str) -> str:
    return f"Nothing was learned: {neutralize(why)}"


def updated(
    head_sha: str,
    learned: Sequence[tuple[str, str, str]],
    unlearned: Sequence[tuple[str, str]],
    links: Sequence[Link],
    concerned: Sequence[str],
    skipped: str | None = None,
) -> str:
    """Where the review, the summary and the revision now are (``learned``: suite, path,
    the optimizer's reason), and why a suite the verdicts concern got no revision."""
    if skipped is not None:
        return f"Nothing to learn: {neutralize(skipped)}."
    lines = []
    for suite, path, rationale in learned:
        reason = f" The optimizer's reason: {neutralize(one_line(rationale, 400))}"
        lines.append(
            f"**{inline_code(suite)}**: learned a revision of "
            f"{inline_code(path)}.{reason if rationale.strip() else ''}"
        )
    why_not = dict(unlearned)
    revised = {suite for suite, _, _ in learned}
    for suite in [*concerned, *(s for s in why_not if s not in concerned)]:
        if suite in why_not and suite not in revised:
            lines.append(f"**{inline_code(suite)}**: no revision: {neutralize(why_not[suite])}.")
    head = inline_code(head_sha[:7])
    said = " · ".join(f"[the {link.label}]({link.url})" for link in links)
    lines.append(f"Updated for {head}" + (f": {said}." if said else "."))
    return "\n\n".join(lines)
