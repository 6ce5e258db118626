"""Whoever can write the response cache must not be able to decide the gate: with
PROMPTLOOP_CACHE_SECRET set, a cached answer is used only when its HMAC verifies. And the
shared cache's URL, password included, can come from the environment instead of the repo."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from promptloop.models.cache import CacheSigner
from tests.cli.test_bounds import write_project
from tests.support import cli_env, load_stub

SECRET = "cache-secret-for-tests-0123456789"


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig())
    server.start()
    yield server
    server.stop()


def run_with(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptloop.cli", "run", ".", "-o", "out", "-q"],
        cwd=project,
        env=cli_env(OPENAI_API_KEY="sk-cache-test", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def forge_every_entry(cache_dir: Path, text: str, *, keep_mac: bool) -> int:
    """What someone with write access to the cache does: edit the answers in place."""
    import diskcache

    with diskcache.Cache(str(cache_dir)) as cache:
        keys = list(cache.iterkeys())
        for key in keys:
            entry = json.loads(cache[key])
            entry["text"] = text
            if not keep_mac:
                entry.pop("mac", None)
            cache[key] = json.dumps(entry)
    return len(keys)


def project_for(tmp_path: Path, url: str) -> Path:
    # The answer must contain the word: "word0" passes only if the model really said it.
    return write_project(tmp_path / "p", url, evaluators="      - contains: '{{ word }}'\n", rows=4)


def test_a_tampered_cache_entry_is_not_used(tmp_path: Path, stub_server: Any) -> None:
    project = project_for(tmp_path, stub_server.base_url)
    first = run_with(project, PROMPTLOOP_CACHE_SECRET=SECRET)
    assert first.returncode == 0, first.stdout + first.stderr
    assert stub_server.snapshot()["requests"] == 4

    # Signed entries are used as they are: nothing is asked again.
    stub_server.reset_stats()
    again = run_with(project, PROMPTLOOP_CACHE_SECRET=SECRET)
    assert again.returncode == 0, again.stderr
    assert stub_server.snapshot()["requests"] == 0

    # An edited answer keeps its old MAC, which no longer verifies: the model is asked again,
    # and the forged text reaches neither the verdicts nor the results.
    assert forge_every_entry(project / ".promptloop" / "cache", "forged", keep_mac=True) == 4
    stub_server.reset_stats()
    forged = run_with(project, PROMPTLOOP_CACHE_SECRET=SECRET)
    assert forged.returncode == 0, forged.stderr
    assert stub_server.snapshot()["requests"] == 4
    results = read_results(project / "out" / "results.json")
    assert results.usage.cache_hits == 0
    assert all(c.output != "forged" and c.status == "pass" for c in results.suites[0].cases)

    # ... and the fresh, signed answers replaced the forgeries.
    stub_server.reset_stats()
    assert run_with(project, PROMPTLOOP_CACHE_SECRET=SECRET).returncode == 0
    assert stub_server.snapshot()["requests"] == 0


def test_entries_without_a_mac_or_under_another_secret_are_not_trusted(
    tmp_path: Path, stub_server: Any
) -> None:
    project = project_for(tmp_path, stub_server.base_url)
    assert run_with(project).returncode == 0  # no secret: entries written unsigned
    forge_every_entry(project / ".promptloop" / "cache", "forged", keep_mac=False)
    stub_server.reset_stats()
    signed = run_with(project, PROMPTLOOP_CACHE_SECRET=SECRET)
    assert signed.returncode == 0, signed.stderr
    assert stub_server.snapshot()["requests"] == 4
    stub_server.reset_stats()
    other = run_with(project, PROMPTLOOP_CACHE_SECRET="another-secret-entirely")
    assert other.returncode == 0, other.stderr
    assert stub_server.snapshot()["requests"] == 4


def test_a_mac_binds_the_entry_to_its_key() -> None:
    signer = CacheSigner(SECRET)
    entry = signer.sign("key-a", {"text": "yes", "prompt_tokens": 1})
    assert signer.verify("key-a", entry) == {"text": "yes", "prompt_tokens": 1}
    # A genuine entry copied under another request's key is refused.
    assert signer.verify("key-b", entry) is None
    assert CacheSigner("other").verify("key-a", entry) is None


def test_the_redis_url_and_its_password_come_from_the_environment(
    tmp_path: Path, stub_server: Any
) -> None:
    project = project_for(tmp_path, stub_server.base_url)
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace(
            "retries: 0\n", "retries: 0\ncache: {redis_url: '${env:PROMPTLOOP_REDIS_URL}'}\n"
        )
    )
    # Nothing listens on port 1: the run must try the URL from the environment, and say so
    # without the password.
    result = run_with(project, PROMPTLOOP_REDIS_URL="redis://:hunter2-redis@127.0.0.1:1/0")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "redis://***@127.0.0.1:1/0" in result.stderr
    assert "hunter2-redis" not in result.stdout + result.stderr
    # Unset (a fork's run gets no secrets): no shared cache, the run uses its disk cache.
    stub_server.reset_stats()
    unset = run_with(project)
    assert unset.returncode == 0, unset.stderr
    assert (project / ".promptloop" / "cache").is_dir()


def test_a_redis_url_that_mixes_text_and_a_reference_is_refused(tmp_path: Path) -> None:
    from promptloop.errors import UserError
    from promptloop.project.config.parse import parse_config

    text = "cache:\n  redis_url: 'redis://${env:HOST}:6379'\nsuites: []\n"
    with pytest.raises(UserError) as caught:
        parse_config(text, "promptloop.yaml")
    assert "promptloop.yaml:2" in str(caught.value)
    assert "write ${env:NAME} alone" in str(caught.value)
