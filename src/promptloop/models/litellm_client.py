"""The one module that imports litellm: the door through which promptloop asks it things.

litellm is imported only when a call needs it: importing it takes seconds, and a run
answered entirely from the cache must never pay for it. ``start_loading`` imports it in
a background thread as soon as a run knows it will make a live call; any wait for it
happens outside the concurrency limiter's slots (``LiteLLMClient.before`` and ``settle``,
in ``provider_client``, which decides which road each call takes).

Through this door: where a request goes (``openai_route``, a ``routes.Route`` when it is a
plain OpenAI-compatible chat completion), a call sent through ``litellm.acompletion``
(``complete``) or ``litellm.aembedding`` (``embed``), a model's provider and tool support,
and the scripted test model (``scripted/...``), registered with litellm as a custom provider
so tests take the same road as a hosted provider. What litellm's answers and failures mean
is read elsewhere (``replies``, ``litellm_errors``, ``model_map``), without importing it.
"""

from __future__ import annotations

import concurrent.futures
import gc
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from promptloop.models import litellm_errors, model_map, replies, routes, scripted
from promptloop.models.base import Embeddings, ModelCallError, ModelRequest, ModelResponse
from promptloop.models.call_errors import provider_message
from promptloop.models.routes import Route

__all__ = [
    "ProviderView",
    "complete",
    "embed",
    "is_loaded",
    "openai_route",
    "resolve_provider",
    "response_cost",
    "start_loading",
    "tool_support",
]

CUSTOM_PROVIDERS = ("scripted",)

_import_lock = threading.Lock()
# Not the import's own lock: the import holds that for seconds.
_start_lock = threading.Lock()
_litellm: Any = None
_loading: concurrent.futures.Future[Any] | None = None


def _load_litellm() -> Any:
    global _litellm
    with _import_lock:
        if _litellm is not None:
            return _litellm
        # Without this litellm fetches its price list from the internet at import time.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        # The import creates a few hundred thousand objects that live as long as the
        # process; collecting while it runs finds nothing and costs a quarter of its CPU.
        collecting = gc.isenabled()
        gc.disable()
        try:
            litellm = _import_litellm()
        finally:
            if collecting:
                gc.enable()
        _litellm = litellm
        return litellm


def _import_litellm() -> Any:
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.drop_params = True
    # A reply whose content is not text makes litellm's pydantic models warn on
    # stderr; the client reports it as one clear error instead.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
    handlers = _make_handlers(litellm)
    existing = [
        entry
        for entry in (litellm.custom_provider_map or [])
        if entry.get("provider") not in handlers
    ]
    litellm.custom_provider_map = existing + [
        {"provider": name, "custom_handler": handler} for name, handler in handlers.items()
    ]
    # litellm reads the map into its provider tables only when told to.
    register = getattr(litellm.utils, "custom_llm_setup", None)
    if callable(register):
        register()
    # ...and without this every full collection afterwards walks them all again
    # (bench/results/throughput.md).
    gc.freeze()
    return litellm


def start_loading() -> concurrent.futures.Future[Any]:
    """Import litellm in a background thread (once); the future holds the module."""
    global _loading
    with _start_lock:
        if _loading is not None:
            return _loading
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        _loading = future

    def work() -> None:
        try:
            future.set_result(_load_litellm())
        except BaseException as exc:  # handed to whoever waits for the import
            future.set_exception(exc)

    threading.Thread(target=work, name="import-litellm", daemon=True).start()
    return future


def is_loaded() -> bool:
    """Whether litellm has been imported (a call may then use it without waiting)."""
    return _litellm is not None


def _make_handlers(litellm: Any) -> dict[str, Any]:
    """Build the custom-provider handler (it subclasses a litellm class, so lives here)."""

    class ScriptedHandler(litellm.CustomLLM):  # type: ignore[misc]
        async def acompletion(
            self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            settings = scripted.settings_from(kwargs.get("optional_params") or {})
            result = scripted.run_script(model, messages, **settings)
            return litellm.ModelResponse(model=f"scripted/{model}", **result.as_chat_completion())

    return {"scripted": ScriptedHandler()}


def openai_route(request: ModelRequest, api_key: str | None) -> Route | None:
    """litellm's answer to where ``request`` goes, when that is a plain OpenAI-compatible
    chat completion: its URL, headers, body and prices. ``None`` sends it through
    ``complete`` (``litellm.acompletion``), which covers everything else (and reports bad
    model names)."""
    litellm = _load_litellm()
    try:
        from litellm.llms.openai.common_utils import get_openai_credentials
        from litellm.responses.bridge_check import chat_completion_ends_in_responses_api

        model, provider, dynamic_key, dynamic_base = litellm.get_llm_provider(
            request.model, api_base=request.api_base
        )
        if provider != "openai":
            return None
        if chat_completion_ends_in_responses_api(model, provider, api_base=request.api_base):
            return None
        schema = request.json_schema
        params = litellm.utils.get_optional_params(
            model=model,
            custom_llm_provider=provider,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            seed=request.seed,
            response_format=None if schema is None else routes.response_format(schema),
            tools=[dict(tool) for tool in request.tools] or None,
            tool_choice=request.tool_choice,
            drop_params=True,
        )
        credentials = get_openai_credentials(
            api_base=dynamic_base or request.api_base, api_key=api_key or dynamic_key
        )
    except Exception:
        return None
    if not credentials.api_key:
        return None  # litellm's path explains the missing key in its own words
    return routes.from_litellm(
        model,
        params,
        api_base=credentials.api_base,
        api_key=credentials.api_key,
        organization=credentials.organization,
        headers=litellm.headers or {},
        cost=_pricer(litellm, model, provider),
    )


def _pricer(litellm: Any, model: str, provider: str) -> Callable[[int, int], float]:
    def price(prompt_tokens: int, completion_tokens: int) -> float:
        prompt, completion = litellm.cost_per_token(
            model=model,
            custom_llm_provider=provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return model_map.positive_cost(prompt + completion)

    try:
        price(1, 1)
    except Exception:
        # Unknown models (self-hosted, new releases) have no price: report zero, as
        # litellm's own path does.
        return routes.unpriced
    return price


async def complete(request: ModelRequest, api_key: str | None) -> ModelResponse:
    """``request`` answered through ``litellm.acompletion``; raises ``ModelCallError``."""
    litellm = _load_litellm()
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [m.as_dict() for m in request.messages],
        **routes.sampling(request),
        "timeout": request.timeout_s,
        "num_retries": 0,
    }
    if request.api_base is not None:
        kwargs["api_base"] = request.api_base
    if api_key is not None:
        kwargs["api_key"] = api_key
    started = time.perf_counter()
    try:
        raw = await _call(litellm, kwargs)
    except ModelCallError:
        raise
    except Exception as exc:
        raise litellm_errors.as_model_call_error(litellm, request, exc) from exc
    return replies.from_litellm(
        request.model,
        raw,
        cost_usd=response_cost(litellm, request, raw),
        latency_s=time.perf_counter() - started,
    )


async def _call(litellm: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return await litellm.acompletion(**kwargs)
    except Exception as exc:
        rejected = litellm_errors.is_response_format_rejection(litellm, exc)
        if "response_format" in kwargs and rejected:
            # Many OpenAI-compatible servers refuse json_schema; the judge parses the text
            # anyway, so ask once more without it.
            retry = {k: v for k, v in kwargs.items() if k != "response_format"}
            return await litellm.acompletion(**retry)
        raise


def response_cost(litellm: Any, request: ModelRequest, raw: Any) -> float:
    """What litellm says its answer ``raw`` cost (zero for our own providers and for models
    it has no price for)."""
    if request.model.split("/", 1)[0] in CUSTOM_PROVIDERS:
        return 0.0
    # litellm prices every response while building it; asking completion_cost again
    # repeated that work (about a third of the CPU litellm spends on a call). An
    # unknown model is stamped None, which means zero here too.
    hidden = getattr(raw, "_hidden_params", None)
    if isinstance(hidden, dict) and "response_cost" in hidden:
        return model_map.positive_cost(hidden["response_cost"])
    try:
        cost = litellm.completion_cost(completion_response=raw, model=request.model)
    except Exception:
        # Unknown models (self-hosted, new releases) have no price: report zero.
        return 0.0
    return model_map.positive_cost(cost)


async def embed(
    model: str,
    texts: list[str],
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 60.0,
) -> Embeddings:
    """Embedding vectors for ``texts`` from ``model`` (a litellm model string such as
    ``openai/text-embedding-3-large``); raises ``ModelCallError`` with one line."""
    litellm = _load_litellm()
    kwargs: dict[str, Any] = {"model": model, "input": texts, "timeout": timeout_s}
    if api_base is not None:
        kwargs["api_base"] = api_base
    if api_key is not None:
        kwargs["api_key"] = api_key
    try:
        raw = await litellm.aembedding(**kwargs)
    except Exception as exc:
        detail = provider_message(str(exc)) or type(exc).__name__
        raise ModelCallError(f"embedding call to {model} failed: {detail}") from exc
    return replies.embeddings_from(model, raw, len(texts))


class ProviderView(NamedTuple):
    """litellm's own view of a model string, taken without a network call."""

    # None when litellm cannot tell which provider serves the model.
    provider: str | None
    # Environment variables the provider needs and the environment lacks.
    missing: list[str]
    # What litellm knows, to suggest the nearest to a typo.
    known_models: list[str]
    known_providers: list[str]


def resolve_provider(model: str) -> ProviderView:
    litellm = _load_litellm()
    models = [str(m) for m in getattr(litellm, "model_list", [])]
    providers = [str(getattr(p, "value", p)) for p in getattr(litellm, "provider_list", [])]
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:
        return ProviderView(None, [], models, providers)
    found = litellm.validate_environment(model)
    missing = found.get("missing_keys") if isinstance(found, dict) else None
    return ProviderView(str(provider), [str(k) for k in missing or []], models, providers)


def tool_support(model: str) -> bool | None:
    """litellm's word on whether ``model`` can call tools (``model_map.tool_support_in``);
    None when litellm does not know the model. (litellm's own ``supports_function_calling``
    answers False for models it has never heard of, which would refuse every new or
    self-hosted model.)

    An ``openai/`` model is looked up in the map litellm ships, without waiting for its
    import: the fast path sends such calls before litellm has loaded."""
    prefix, _, name = model.partition("/")
    if prefix == "openai" and name and _litellm is None:
        return model_map.tool_support_in(model_map.shipped(), model, "openai", name)
    litellm = _load_litellm()
    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:
        return None
    return model_map.tool_support_in(litellm.model_cost, model, provider, name)
