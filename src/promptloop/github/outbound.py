"""The one step every write takes on its way to GitHub: its bodies cleaned (the run's
secrets and the token itself masked, GitHub's size limits kept), and a review's comments
placed where GitHub will anchor them, the rest moved into its body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from promptloop.github.actions import (
    PostReview,
)
from promptloop.github.api import GitHubClient
from promptloop.github.plan import split_anchorable
from promptloop.github.review import with_unanchored
from promptloop.github.state import PostedReview
from promptloop.github.transport import GitHubError
from promptloop.safety import DEFAULT_BODY_LIMIT, mask_secrets, truncate_body


@dataclass(frozen=True)
class Outbound:
    """The one step every body takes on its way to GitHub: the run's secrets and the
    token itself masked (whatever the caller passed), then cut to GitHub's size limit."""

    mask: Callable[[str], str]
    token: str

    def text(self, text: str) -> str:
        return mask_secrets(self.mask(text), [self.token])

    def body(self, text: str, limit: int = DEFAULT_BODY_LIMIT) -> str:
        return truncate_body(self.text(text), limit)

    def marked(self, text: str) -> str:
        """Within the size limit with the last line (the marker) kept whole."""
        text = self.text(text)
        head, sep, last = text.rstrip().rpartition("\n")
        if not sep:
            return truncate_body(text)
        return truncate_body(head, suffix=f"\n{last}")


def post_placed(gh: GitHubClient, action: PostReview, out: Outbound | None = None) -> PostedReview:
    """Post the review; if GitHub still answers 422, the offenders are found against the
    pull request's files and moved into the body, and as a last resort every comment is:
    no content is ever dropped."""
    out = out or Outbound(str, gh.token)
    inline, moved = list(action.inline), list(action.moved)
    for attempt in (1, 2, 3):
        try:
            body = out.body(with_unanchored(action.body, moved))
            sent = [replace(c, body=out.text(c.body)) for c in inline]
            posted = gh.post_review(action.number, action.head_sha, body, sent)
            return replace(posted, inline=tuple(inline), moved_to_body=tuple(moved))
        except GitHubError as exc:
            if exc.status != 422 or not inline or attempt == 3:
                raise
            reason = exc.detail
        if attempt == 1:
            still, newly = split_anchorable(inline, gh.pull_files(action.number))
            if newly:
                inline, moved = still, moved + newly
                continue
        moved += [(c, reason) for c in inline]
        inline = []
    raise AssertionError("unreachable")
