"""In-memory state of the fake: repositories, git objects, pull requests and what was posted."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from .rules import git_blob_sha

BOT_LOGIN = "github-actions[bot]"
BOT_ID = 41898282


@dataclass
class Token:
    token: str
    permission: str  # "write" | "read"
    login: str
    user_id: int
    actions: bool  # the Actions GITHUB_TOKEN: `GET /user` is forbidden for it


@dataclass
class GitCommit:
    sha: str
    tree: str
    parents: list[str]
    message: str
    author: dict[str, str]
    committer: dict[str, str]


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    head_repo: str  # full name of the repository the head branch lives in
    files: list[dict[str, Any]]
    state: str = "open"
    draft: bool = False
    user: str = "octocat"


@dataclass
class Repo:
    full_name: str
    id: int
    default_branch: str
    fork_of: str | None
    actions_can_create_prs: bool = True
    blobs: dict[str, bytes] = field(default_factory=dict)
    # Trees are stored flat: full path -> (mode, type, sha). Only blob entries are kept.
    trees: dict[str, dict[str, tuple[str, str, str]]] = field(default_factory=dict)
    commits: dict[str, GitCommit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    pulls: dict[int, Pull] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    # login -> role: admin, maintain, write, triage or read; anyone else has none.
    collaborators: dict[str, str] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    next_number: int = 1

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]

    # -- git objects -------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        sha = git_blob_sha(data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: dict[str, tuple[str, str, str]]) -> str:
        text = "\n".join(f"{m} {t} {s}\t{p}" for p, (m, t, s) in sorted(entries.items()))
        sha = hashlib.sha1(b"tree\0" + text.encode()).hexdigest()
        self.trees[sha] = dict(entries)
        return sha

    def tree_from_files(self, files: dict[str, str]) -> str:
        return self.put_tree(
            {p: ("100644", "blob", self.put_blob(c.encode())) for p, c in files.items()}
        )

    def put_commit(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: dict[str, str] | None = None,
        committer: dict[str, str] | None = None,
        date: str = "2026-01-01T00:00:00Z",
    ) -> GitCommit:
        author = author or {"name": "octocat", "email": "octocat@example.com", "date": date}
        author.setdefault("date", date)
        committer = dict(committer or author)
        committer.setdefault("date", date)
        head = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        head += f"author {author['name']} <{author['email']}> {author['date']}\n"
        head += f"committer {committer['name']} <{committer['email']}> {committer['date']}\n"
        raw = f"{head}\n{message}".encode()
        sha = hashlib.sha1(b"commit %d\0" % len(raw) + raw).hexdigest()
        commit = GitCommit(sha, tree, list(parents), message, author, committer)
        self.commits[sha] = commit
        return commit

    def files_at(self, commit_sha: str) -> dict[str, str]:
        tree = self.trees[self.commits[commit_sha].tree]
        return {p: self.blobs[s].decode("utf-8", "replace") for p, (_, _, s) in tree.items()}

    def resolve(self, ref: str) -> str | None:
        """A branch name, `heads/x`, `refs/heads/x`, tag or commit sha -> commit sha."""
        ref = ref.removeprefix("refs/")
        for candidate in (ref, f"heads/{ref}", f"tags/{ref}"):
            if candidate in self.refs:
                return self.refs[candidate]
        if ref in self.commits:
            return ref
        matches = [s for s in self.commits if len(ref) >= 7 and s.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def is_ancestor(self, ancestor: str, sha: str) -> bool:
        seen: set[str] = set()
        stack = [sha]
        while stack:
            cur = stack.pop()
            if cur == ancestor:
                return True
            if cur in seen or cur not in self.commits:
                continue
            seen.add(cur)
            stack.extend(self.commits[cur].parents)
        return False


class Ids:
    """GitHub ids are global across repositories."""

    def __init__(self, start: int = 1000) -> None:
        self._it = itertools.count(start)

    def next(self) -> int:
        return next(self._it)
