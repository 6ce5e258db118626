"""A stateful fake GitHub REST server on 127.0.0.1 for driving the real PyGithub client.

    with FakeGitHub(api_prefix="/api/v3") as gh:      # start() returns gh.url
        gh.set_token("tok")                            # "write" (default) or "read"
        gh.add_repo("o/r")
        base_sha, head_sha = gh.add_pull_from_texts("o/r", 1, {"a.txt": "x\n"}, {"a.txt": "y\n"})
        client = github.Github(auth=github.Auth.Token("tok"), base_url=gh.url)

Inspection: gh.reviews(repo, n), gh.review_comments(repo, n), gh.issue_comments(repo, n),
gh.check_runs(repo), gh.statuses(repo), gh.refs(repo), gh.commits(repo), gh.pulls(repo),
gh.file_at(repo, ref, path), gh.requests_log, gh.write_count, gh.ref_writes,
gh.protected_ref_writes(), gh.response_schema_errors.
Failure injection: gh.fail_next(n, status=502), gh.secondary_rate_limit_next(n, retry_after=1).
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
