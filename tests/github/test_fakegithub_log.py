"""The fake GitHub's request log keeps what each request carried, byte for byte."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import github
import pytest
from github import Auth, Github

from tests.fakegithub import FakeGitHub

REPO = "octo/prompts"
TOKEN = "ghs_write"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(api_prefix="/api/v3") as fake:
        fake.set_token(TOKEN)
        fake.add_repo(REPO)
        yield fake
        assert fake.internal_errors == []


def test_every_logged_request_keeps_its_body_and_reads_keep_none(gh: FakeGitHub) -> None:
    base_sha = gh.add_branch(REPO, "main", {"prompts/a.txt": "old\n"})
    g = Github(auth=Auth.Token(TOKEN), base_url=gh.url, seconds_between_writes=None)
    repo = g.get_repo(REPO)
    parent = repo.get_git_commit(base_sha)
    element = github.InputGitTreeElement("prompts/a.txt", "100644", "blob", content="tree text\n")
    tree = repo.create_git_tree([element], base_tree=parent.tree)
    repo.create_git_commit("the commit message", tree, [parent])

    by_path = {r.path: r for r in gh.requests_log}
    assert by_path[f"/repos/{REPO}"].body == b""
    sent_tree = json.loads(by_path[f"/repos/{REPO}/git/trees"].body)
    assert sent_tree["tree"][0]["content"] == "tree text\n"
    assert json.loads(by_path[f"/repos/{REPO}/git/commits"].body)["message"] == (
        "the commit message"
    )
    everything = gh.sent_bytes()
    assert b"tree text" in everything and b"the commit message" in everything


def test_a_rejected_request_is_logged_with_its_body_too(gh: FakeGitHub) -> None:
    path = f"/repos/{REPO}/issues/99/comments"
    sent = json.dumps({"body": "never stored"}).encode()
    request = urllib.request.Request(gh.url + path, data=sent, method="POST")
    request.add_header("Authorization", f"token {TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request)
    assert answer.value.code == 404
    [logged] = [r for r in gh.requests_log if r.path == path]
    assert (logged.status, logged.body) == (404, sent)
