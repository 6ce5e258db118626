"""build_client's composition and the default-model choice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptloop.models import scripted
from promptloop.models.base import Message, ModelCallError, ModelRequest
from promptloop.models.cache import CachingClient, DiskStore, MaskingClient, RedisStore
from promptloop.models.factory import EMBEDDED_MODEL, build_client, resolve_default_model
from promptloop.models.provider_client import LiteLLMClient
from promptloop.models.retry import ConcurrencyLimiter, RetryingClient
from tests.support import load_stub

stub = load_stub()


def test_layers_are_cache_limiter_retry_litellm(tmp_path):
    client, stats = build_client(cache_dir=tmp_path, redis_url=None, retries=4, concurrency=7)
    assert isinstance(client, CachingClient)
    assert isinstance(client.store, DiskStore)
    assert client.stats is stats
    # Answers are masked, always, before the cache keeps them.
    masking = client.inner
    assert isinstance(masking, MaskingClient)
    limiter = masking.inner
    assert isinstance(limiter, ConcurrencyLimiter)
    assert limiter.limit == 7
    retrying = limiter.inner
    assert isinstance(retrying, RetryingClient)
    assert retrying.retries == 4
    assert isinstance(retrying.inner, LiteLLMClient)


def test_no_cache_configured_means_no_cache_layer():
    client, stats = build_client(cache_dir=None, redis_url=None, retries=0, concurrency=1)
    assert isinstance(client, MaskingClient) and isinstance(client.inner, ConcurrencyLimiter)
    assert (stats.hits, stats.misses) == (0, 0)


def test_redis_url_wins_over_cache_dir(tmp_path):
    client, _ = build_client(
        cache_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", retries=0, concurrency=1
    )
    assert isinstance(client, CachingClient)
    assert isinstance(client.store, RedisStore)


def test_composed_client_end_to_end(tmp_path):
    server = stub.StubServer(stub.StubConfig(rate_limit_first=1, retry_after_s=0))
    url = server.start()
    try:
        client, stats = build_client(
            cache_dir=tmp_path, redis_url=None, retries=2, concurrency=2, api_key="sk-test"
        )
        request = ModelRequest(
            "openai/stub", (Message("user", "through all layers"),), api_base=url
        )
        first = asyncio.run(client.complete(request))
        second = asyncio.run(client.complete(request))
        assert first.text == second.text == "through all layers"
        assert (first.cached, second.cached) == (False, True)
        assert (stats.hits, stats.misses) == (1, 1)
        assert server.snapshot()["by_status"] == {"200": 1, "429": 1}
    finally:
        server.stop()


def test_composed_client_reports_attempts_for_scripted_failures():
    scripted.register_script(
        "down", [ModelCallError("x", kind="server"), ModelCallError("y", kind="server")]
    )
    try:
        client, _ = build_client(cache_dir=None, redis_url=None, retries=1, concurrency=1)
        retrying = client.inner
        retrying.base_delay_s = 0.0
        with pytest.raises(ModelCallError) as caught:
            asyncio.run(client.complete(ModelRequest("scripted/down", (Message("user", "q"),))))
        assert caught.value.attempts == 2
        assert scripted.script_calls("down") and len(scripted.script_calls("down")) == 2
    finally:
        scripted.clear_scripts()


def test_configured_model_is_used_as_is():
    assert resolve_default_model("anthropic/claude-x", {}) == ("anthropic/claude-x", None)


@pytest.mark.parametrize(
    ("env", "model"),
    [
        ({"OPENAI_API_KEY": "k"}, "openai/gpt-4o-mini"),
        ({"ANTHROPIC_API_KEY": "k"}, "anthropic/"),
        ({"GEMINI_API_KEY": "k"}, "gemini/"),
        ({"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}, "openai/gpt-4o-mini"),
    ],
)
def test_a_provider_key_picks_that_provider(env: dict[str, str], model: str):
    chosen, notice = resolve_default_model(None, env)
    assert chosen.startswith(model)
    assert notice is None


@pytest.mark.parametrize("env", [{}, {"OPENAI_API_KEY": ""}, {"HOME": "/root"}])
def test_no_key_falls_back_to_the_embedded_model_with_a_notice(env: dict[str, Any]):
    chosen, notice = resolve_default_model(None, env)
    assert chosen == EMBEDDED_MODEL
    assert notice is not None and "OPENAI_API_KEY" in notice and EMBEDDED_MODEL in notice
