"""Compose the model client a run uses, and pick a default model."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from promptloop.models.base import EMBEDDED_MODEL, ModelClient
from promptloop.models.budget import Budget, BudgetGate
from promptloop.models.cache import (
    CacheSigner,
    CacheStats,
    CacheStore,
    CachingClient,
    DiskStore,
    MaskingClient,
    RedisStore,
)
from promptloop.models.model_map import output_cap, price_tokens
from promptloop.models.preflight import ModelUse, PreflightGate
from promptloop.models.provider_client import LiteLLMClient
from promptloop.models.retry import ConcurrencyLimiter, RetryingClient
from promptloop.models.stop import StopGate, StopSignal

# First key found wins; each maps to an inexpensive, capable default for that provider.
PROVIDER_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("OPENAI_API_KEY", "openai/gpt-4o-mini"),
    ("ANTHROPIC_API_KEY", "anthropic/claude-3-5-haiku-latest"),
    ("GEMINI_API_KEY", "gemini/gemini-2.0-flash"),
    ("MISTRAL_API_KEY", "mistral/mistral-small-latest"),
    ("GROQ_API_KEY", "groq/llama-3.1-8b-instant"),
    ("DEEPSEEK_API_KEY", "deepseek/deepseek-chat"),
)


def build_client(
    *,
    cache_dir: Path | None,
    redis_url: str | None,
    retries: int,
    concurrency: int,
    api_key: str | None = None,
    secrets: Sequence[str] = (),
    stop: StopSignal | None = None,
    preflight: Sequence[ModelUse] = (),
    api_base: str | None = None,
    env: Mapping[str, str] | None = None,
    budget: Budget | None = None,
) -> tuple[ModelClient, CacheStats]:
    """Caching(Preflight(Masking(Limiter(Stop(Retrying(Budget(LiteLLM))))))): the cache sits
    outermost so a hit never waits for a concurrency slot nor imports litellm; the first
    miss that needs litellm starts importing it, outside any slot (``LiteLLMClient`` says
    which calls need not wait for it); answers are masked before anything keeps them, but
    after the limiter has had litellm settle them (an answer sent on a guess is known by
    identity, which masking a secret out of it would lose, leaving it unpriced and unchecked
    by litellm's route); the stop gate sits below the limiter so calls still queued for a
    slot never start once a stop is requested; the budget gate sits right above the
    provider, so every attempt a retry makes is a call it counts, only calls holding a slot
    reserve, and a cache hit never reaches it. ``redis_url`` wins over ``cache_dir``; with
    neither there is no cache and the stats stay at zero. With ``PROMPTLOOP_CACHE_SECRET`` in
    ``env`` (the process's environment by default) the cache signs what it stores and
    ignores what does not verify."""
    stats = CacheStats()
    provider = LiteLLMClient(api_key=api_key, speculate=True)
    client: ModelClient = provider
    if budget is not None:
        client = BudgetGate(client, budget, price_tokens, output_cap)
    client = RetryingClient(client, retries=retries)
    if stop is not None:
        client = StopGate(client, stop)
    client = ConcurrencyLimiter(client, concurrency, admission=provider)
    # Always: credential-shaped values are masked even when no secret is known.
    client = MaskingClient(client, secrets)
    if preflight:
        client = PreflightGate(client, preflight, api_base)
    store: CacheStore | None = None
    if redis_url:
        store = RedisStore(redis_url)
    elif cache_dir is not None:
        store = DiskStore(cache_dir)
    if store is not None:
        signer = CacheSigner.from_env(os.environ if env is None else env)
        client = CachingClient(client, store, stats, signer)
    return client, stats


def resolve_default_model(configured: str | None, env: Mapping[str, str]) -> tuple[str, str | None]:
    """The model to use and, when it is the embedded one, a notice to show the user."""
    if configured:
        return configured, None
    for variable, model in PROVIDER_DEFAULTS:
        if env.get(variable):
            return model, None
    keys = ", ".join(v for v, _ in PROVIDER_DEFAULTS[:3])
    notice = (
        f"no model configured and no provider key ({keys}, ...) set: using the embedded "
        f"{EMBEDDED_MODEL} model, which is tiny; results are a smoke test, not a verdict"
    )
    return EMBEDDED_MODEL, notice
