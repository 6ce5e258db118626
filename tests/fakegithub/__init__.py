"""A stateful fake GitHub REST server on 127.0.0.1 for driving the real PyGithub client.

    with FakeGitHub(api_prefix="/api/v3") as gh:       # or gh.start() -> url; gh.stop()
        gh.set_token("tok")                            # permissions="write" (default) | "read"
        gh.add_repo("o/r")
        base_sha, head_sha = gh.add_pull_from_texts("o/r", 1, {"a.txt": "x\n"}, {"a.txt": "y\n"})
        g = Github(auth=Auth.Token("tok"), base_url=gh.url, seconds_between_writes=None)

Only operations in tests/fixtures/github/openapi/github-rest-subset.json exist (others 404);
every request body is validated against its schema (422 "Invalid request.\n\n<why>") and every
response is checked against the response schema (mismatches land in gh.response_schema_errors).

Inspection: gh.reviews(repo, n), gh.review_comments(repo, n=None), gh.issue_comments(repo, n=None),
gh.check_runs(repo, head_sha=None) (with "annotations"), gh.statuses(repo, sha=None),
gh.refs(repo), gh.commits(repo), gh.pulls(repo), gh.file_at(repo, ref, path), gh.minimized(repo),
gh.requests_log (each a LoggedRequest: method, path, status, query, body as the raw bytes sent),
gh.sent_bytes() (all of them joined), gh.writes(), gh.write_count, gh.ref_writes,
gh.protected_ref_writes(), gh.internal_errors.
Failure injection: gh.fail_next(n, status=502, method=None),
gh.secondary_rate_limit_next(n, retry_after=1, method=None).
"""

from .rules import git_blob_sha, make_patch, parse_hunks
from .server import ApiError, FakeGitHub, LoggedRequest, RefWrite
from .state import BOT_LOGIN, Pull

__all__ = [
    "BOT_LOGIN",
    "ApiError",
    "FakeGitHub",
    "LoggedRequest",
    "Pull",
    "RefWrite",
    "git_blob_sha",
    "make_patch",
    "parse_hunks",
]
