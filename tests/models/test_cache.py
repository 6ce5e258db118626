"""CachingClient and its stores."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from promptloop.errors import InfraError
from promptloop.models.base import Message, ModelCallError, ModelRequest, ModelResponse, Usage
from promptloop.models.cache import (
    CacheStats,
    CachingClient,
    DiskStore,
    MemoryStore,
    RedisStore,
    encode_response,
)
from promptloop.models.provider_client import LiteLLMClient
from tests.support import load_stub

stub = load_stub()


def ask(text: str, **fields: Any) -> ModelRequest:
    return ModelRequest(
        model=fields.pop("model", "fake/m"), messages=(Message("user", text),), **fields
    )


class Counting:
    def __init__(self, finish_reason: str = "stop", fail: ModelCallError | None = None) -> None:
        self.calls = 0
        self.finish_reason = finish_reason
        self.fail = fail

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        text = f"{request.messages[-1].content} #{self.calls}"
        return ModelResponse(text, Usage(5, 7, 0.25), self.finish_reason, False, 1.5)


def test_second_identical_request_is_a_hit():
    inner = Counting()
    client = CachingClient(inner, MemoryStore())
    first = asyncio.run(client.complete(ask("q")))
    second = asyncio.run(client.complete(ask("q")))
    assert inner.calls == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text == "q #1"
    assert second.usage == Usage(5, 7, 0.25)
    assert second.latency_s == 0.0
    assert (client.hits, client.misses) == (1, 1)


def test_anything_in_the_key_changes_the_answer():
    inner = Counting()
    client = CachingClient(inner, MemoryStore())
    asyncio.run(client.complete(ask("q")))
    asyncio.run(client.complete(ask("q", temperature=0.7)))
    asyncio.run(client.complete(ask("q", model="fake/other")))
    asyncio.run(client.complete(ask("q", json_schema={"type": "object"})))
    # The timeout is not part of the key: waiting longer does not change the answer.
    asyncio.run(client.complete(ask("q", timeout_s=5)))
    assert inner.calls == 4
    assert (client.hits, client.misses) == (1, 4)


def test_errors_are_not_cached():
    inner = Counting(fail=ModelCallError("down", kind="server"))
    client = CachingClient(inner, MemoryStore())
    for _ in range(2):
        with pytest.raises(ModelCallError):
            asyncio.run(client.complete(ask("q")))
    inner.fail = None
    response = asyncio.run(client.complete(ask("q")))
    assert response.cached is False
    assert inner.calls == 3


def test_truncated_answers_are_cached_with_their_finish_reason():
    client = CachingClient(Counting(finish_reason="length"), MemoryStore())
    asyncio.run(client.complete(ask("q")))
    again = asyncio.run(client.complete(ask("q")))
    assert again.cached is True
    assert again.finish_reason == "length"


def test_damaged_entry_is_a_miss_and_is_overwritten(tmp_path):
    store = DiskStore(tmp_path)
    request = ask("q")
    store._cache.set(request.cache_key(), "{not json")
    inner = Counting()
    client = CachingClient(inner, store)
    asyncio.run(client.complete(request))
    assert inner.calls == 1
    assert store.get(request.cache_key())["text"] == "q #1"


def test_disk_store_is_shared_between_instances(tmp_path):
    writer = CachingClient(Counting(), DiskStore(tmp_path / "c"))
    asyncio.run(writer.complete(ask("shared")))
    reader_inner = Counting()
    stats = CacheStats()
    reader = CachingClient(reader_inner, DiskStore(tmp_path / "c"), stats)
    response = asyncio.run(reader.complete(ask("shared")))
    assert response.text == "shared #1"
    assert reader_inner.calls == 0
    assert (stats.hits, stats.misses, stats.lookups) == (1, 0, 1)


def test_hit_does_not_reach_the_server(serve, tmp_path):
    server, url = serve()
    client = CachingClient(LiteLLMClient(api_key="sk-test"), DiskStore(tmp_path))
    request = ModelRequest("openai/stub", (Message("user", "cache me"),), api_base=url)
    first = asyncio.run(client.complete(request))
    second = asyncio.run(client.complete(request))
    assert first.text == second.text == "cache me"
    assert second.cached is True
    assert server.snapshot()["requests"] == 1


def test_server_errors_are_not_cached_over_http(serve, tmp_path):
    server, url = serve(fail_first=1)
    client = CachingClient(LiteLLMClient(api_key="sk-test"), DiskStore(tmp_path))
    request = ModelRequest("openai/stub", (Message("user", "again"),), api_base=url)
    with pytest.raises(ModelCallError):
        asyncio.run(client.complete(request))
    response = asyncio.run(client.complete(request))
    assert response.cached is False
    assert response.text == "again"
    assert server.snapshot()["by_status"] == {"200": 1, "500": 1}


def test_a_fully_cached_run_never_imports_litellm(tmp_path):
    request = ModelRequest("openai/never-called", (Message("user", "hello"),))
    store = DiskStore(tmp_path)
    store.set(request.cache_key(), encode_response(ModelResponse("from cache")))
    store.close()
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from promptloop.models.base import Message, ModelRequest
        from promptloop.models.factory import build_client
        client, stats = build_client(cache_dir=Path({str(tmp_path)!r}), redis_url=None,
                                     retries=2, concurrency=4)
        request = ModelRequest("openai/never-called", (Message("user", "hello"),))
        response = asyncio.run(client.complete(request))
        print(json.dumps([response.text, response.cached, stats.hits,
                          "litellm" in sys.modules]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["from cache", True, 1, False]


def test_unreachable_redis_is_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisStore(f"redis://user:secret@127.0.0.1:{port}/0")
    with pytest.raises(InfraError) as caught:
        store.get("k")
    message = str(caught.value)
    assert message.startswith(
        "cache.redis_url: cannot use the Redis cache at redis://***@127.0.0.1"
    )
    assert "secret" not in message
    assert "\n" not in message


@pytest.mark.redis
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server binary")
def test_redis_store_round_trip(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        store = RedisStore(f"redis://127.0.0.1:{port}/0")
        # Wait for the server to answer, as long as a busy machine needs to start it.
        deadline = time.monotonic() + 60
        while True:
            try:
                store._client.ping()
                break
            except Exception:
                assert time.monotonic() < deadline, "redis-server never answered"
                time.sleep(0.05)
        inner = Counting()
        asyncio.run(CachingClient(inner, store).complete(ask("r")))
        other = CachingClient(Counting(), RedisStore(f"redis://127.0.0.1:{port}/0"))
        response = asyncio.run(other.complete(ask("r")))
        assert response.cached is True
        assert response.text == "r #1"
        assert store._client.exists("promptloop:" + ask("r").cache_key()) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)


class _RemoteStore(MemoryStore):
    """A store that says it answers over the network, and notes which thread asked."""

    remote = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def get(self, key: str) -> dict[str, Any] | None:
        self.threads.append(threading.current_thread().name)
        return super().get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.threads.append(threading.current_thread().name)
        super().set(key, value)


def test_a_remote_store_is_asked_off_the_event_loop_thread():
    store = _RemoteStore()
    client = CachingClient(Counting(), store)
    asyncio.run(client.complete(ask("q")))  # a miss: get, then set
    assert asyncio.run(client.complete(ask("q"))).cached is True
    assert len(store.threads) == 3
    assert threading.main_thread().name not in store.threads
    # Local stores answer in microseconds and stay on the loop.
    local = _RemoteStore()
    local.remote = False
    asyncio.run(CachingClient(Counting(), local).complete(ask("q")))
    assert local.threads == [threading.main_thread().name] * 2
