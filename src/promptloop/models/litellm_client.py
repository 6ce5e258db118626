"""The one module that talks to litellm, and through it to every provider.

litellm is imported only when a call needs it: importing it takes seconds, and a run
answered entirely from the cache must never pay for it. ``start_loading`` imports it in
a background thread as soon as a run knows it will make a live call; any wait for it
happens outside the concurrency limiter's slots (``LiteLLMClient.before`` and ``settle``).

litellm decides where every call goes. When it says a request is a plain
OpenAI-compatible chat completion, it also says what body it would send, and that body
goes out on the fast path (``openai_http``) instead of through ``litellm.acompletion``,
which costs far more CPU per call. The embedded model (``local/...``) needs nothing from
litellm and is called directly; the scripted test model (``scripted/...``) is registered
with litellm as a custom provider, so tests take the same path as a hosted provider.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import importlib.util
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from promptloop.models import litellm_errors, local, openai_http, scripted
from promptloop.models.base import (
    Embeddings,
    ModelCallError,
    ModelRequest,
    ModelResponse,
    Usage,
    is_embedded,
    tool_calls_from,
)
from promptloop.models.openai_http import (
    Route,
    one_line,
    parse_retry_after,
    text_content,
)

__all__ = [
    "LiteLLMClient",
    "embed",
    "output_cap",
    "parse_retry_after",
    "price_tokens",
    "start_loading",
    "token_prices",
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


def _schema_from(optional_params: dict[str, Any]) -> dict[str, Any] | None:
    response_format = optional_params.get("response_format")
    if not isinstance(response_format, dict):
        return None
    inner = response_format.get("json_schema")
    if isinstance(inner, dict) and isinstance(inner.get("schema"), dict):
        return dict(inner["schema"])
    schema = response_format.get("schema")
    return dict(schema) if isinstance(schema, dict) else None


class _Completion(Protocol):
    """What our own provider returns (``scripted.ScriptedResult``)."""

    @property
    def text(self) -> str: ...

    @property
    def prompt_tokens(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...

    @property
    def finish_reason(self) -> str | None: ...

    @property
    def tool_calls(self) -> tuple[tuple[str, str], ...]: ...


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request settings our own provider takes, from litellm's handler arguments."""
    params: dict[str, Any] = kwargs.get("optional_params") or {}
    return {
        "temperature": params.get("temperature"),
        "max_tokens": params.get("max_tokens"),
        "seed": params.get("seed"),
        "json_schema": _schema_from(params),
        "tools": params.get("tools"),
        "tool_choice": params.get("tool_choice"),
    }


def _make_handlers(litellm: Any) -> dict[str, Any]:
    """Build the custom-provider handler (it subclasses a litellm class, so lives here)."""

    def build_response(model: str, result: _Completion) -> Any:
        prompt, completion = result.prompt_tokens, result.completion_tokens
        message: dict[str, Any] = {"role": "assistant", "content": result.text}
        if result.tool_calls:
            message["content"] = result.text or None
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                for i, (n, a) in enumerate(result.tool_calls)
            ]
        return litellm.ModelResponse(
            model=model,
            choices=[
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": result.finish_reason or "stop",
                }
            ],
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        )

    class ScriptedHandler(litellm.CustomLLM):  # type: ignore[misc]
        async def acompletion(
            self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            result = scripted.run_script(model, messages, **_options(kwargs))
            return build_response(f"scripted/{model}", result)

    return {"scripted": ScriptedHandler()}


RouteKey = tuple[str, str | None, float, int | None, int | None, str | None, str | None]


def _route_key(request: ModelRequest) -> RouteKey:
    schema = request.json_schema
    shape = None if schema is None else json.dumps(schema, sort_keys=True)
    tools = None
    if request.tools or request.tool_choice is not None:
        tools = json.dumps([list(request.tools), request.tool_choice], sort_keys=True)
    return (
        request.model,
        request.api_base,
        request.temperature,
        request.max_tokens,
        request.seed,
        shape,
        tools,
    )


def _response_format(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if schema is None else openai_http.response_format(schema)


def openai_route(litellm: Any, request: ModelRequest, api_key: str | None) -> Route | None:
    """litellm's answer to where ``request`` goes, when that is a plain OpenAI-compatible
    chat completion: its URL, headers, body and prices. ``None`` sends it through
    ``litellm.acompletion``, which covers everything else (and reports bad model names)."""
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
        params = litellm.utils.get_optional_params(
            model=model,
            custom_llm_provider=provider,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            seed=request.seed,
            response_format=_response_format(request.json_schema),
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
    extra = params.pop("extra_body", None) or {}
    if params.get("stream") is False:
        params.pop("stream")  # litellm does not send it either
    body = {"model": model, **{k: v for k, v in params.items() if v is not None}, **extra}
    headers = dict(litellm.headers or {})
    headers["Authorization"] = f"Bearer {credentials.api_key}"
    if credentials.organization:
        headers["OpenAI-Organization"] = credentials.organization
    return Route(
        url=credentials.api_base.rstrip("/") + "/chat/completions",
        headers=headers,
        body=body,
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
        return _positive(prompt + completion)

    try:
        price(1, 1)
    except Exception:
        # Unknown models (self-hosted, new releases) have no price: report zero, as
        # litellm's own path does.
        return openai_http.unpriced
    return price


class LiteLLMClient:
    """The ``ModelClient`` for every provider; no retries of its own (see ``retry``).

    Requests go where litellm says: OpenAI-compatible chat completions on the fast path
    (unless ``fast_path=False``), everything else through ``litellm.acompletion``; the
    embedded model is called directly. ``api_key`` is for tests and stub servers;
    normally the provider's key comes from the environment (``OPENAI_API_KEY`` and friends).

    With ``speculate=True`` (a run's client, see ``factory``) an ``openai/`` call may go
    out while litellm is still importing, on the route litellm would most likely choose
    (``openai_http.guess_route``). Such an answer is held to litellm's word: ``settle``
    (run by the concurrency limiter once the call has left its slot) waits for litellm,
    prices the answer with litellm's prices when litellm's route is the one guessed, and
    asks again on litellm's route when it is not. The limiter calls ``before`` first, which
    starts the import and waits for it when a call cannot go out without it.
    """

    def __init__(
        self, *, api_key: str | None = None, fast_path: bool = True, speculate: bool = False
    ) -> None:
        self._api_key = api_key
        self._fast_path = fast_path
        self._speculate = speculate and fast_path
        self._routes: dict[RouteKey, Route | None] = {}
        self._guesses: dict[RouteKey, Route | None] = {}
        # Answers and failures of calls sent on a guess, until ``settle`` has seen them.
        self._unsettled: weakref.WeakSet[object] = weakref.WeakSet()

    def _guess(self, request: ModelRequest) -> Route | None:
        key = _route_key(request)
        if key not in self._guesses:
            self._guesses[key] = openai_http.guess_route(request, self._api_key)
        return self._guesses[key]

    def _route(self, litellm: Any, request: ModelRequest) -> Route | None:
        key = _route_key(request)
        if key not in self._routes:
            self._routes[key] = openai_route(litellm, request, self._api_key)
        return self._routes[key]

    async def before(self, request: ModelRequest) -> None:
        """Start importing litellm; wait for it unless this call may go out on a guess."""
        if _litellm is not None or is_embedded(request.model):
            return
        loading = start_loading()
        if self._speculate and self._guess(request) is not None:
            return
        # On failure the call itself imports again and reports it as it always has.
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(loading)

    async def settle(
        self, request: ModelRequest, outcome: ModelResponse | ModelCallError
    ) -> ModelResponse | ModelCallError | None:
        """``outcome`` as litellm would have it, or ``None``: ask again (see the class)."""
        if not self._went_on_guess(outcome):
            return outcome
        litellm = await asyncio.wrap_future(start_loading())
        route, guess = self._route(litellm, request), self._guess(request)
        if route is None or guess is None or not route.sends_like(guess):
            return None
        if isinstance(outcome, ModelCallError):
            return outcome
        usage = outcome.usage
        cost = route.cost(usage.prompt_tokens, usage.completion_tokens)
        return dataclasses.replace(outcome, usage=dataclasses.replace(usage, cost_usd=cost))

    def _went_on_guess(self, outcome: BaseException | ModelResponse) -> bool:
        current: BaseException | ModelResponse | None = outcome
        while current is not None:
            if current in self._unsettled:
                self._unsettled.discard(current)
                return True
            # The retry loop wraps the last failure it saw in one of its own.
            current = current.__cause__ if isinstance(current, BaseException) else None
        return False

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if is_embedded(request.model):
            return await local.complete_request(request)
        if self._speculate and _litellm is None:
            guess = self._guess(request)
            if guess is not None:
                try:
                    response = await openai_http.complete(guess, request)
                except ModelCallError as exc:
                    self._unsettled.add(exc)
                    raise
                self._unsettled.add(response)
                return response
        litellm = _load_litellm()
        if self._fast_path:
            route = self._route(litellm, request)
            if route is not None:
                return await openai_http.complete(route, request)
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [m.as_dict() for m in request.messages],
            **openai_http.sampling(request),
            "timeout": request.timeout_s,
            "num_retries": 0,
        }
        if request.api_base is not None:
            kwargs["api_base"] = request.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        started = time.perf_counter()
        try:
            raw = await self._call(litellm, kwargs)
        except ModelCallError:
            raise
        except Exception as exc:
            raise litellm_errors.as_model_call_error(litellm, request, exc) from exc
        latency = time.perf_counter() - started
        return self._response(litellm, request, raw, latency)

    async def _call(self, litellm: Any, kwargs: dict[str, Any]) -> Any:
        try:
            return await litellm.acompletion(**kwargs)
        except Exception as exc:
            rejected = litellm_errors.is_response_format_rejection(litellm, exc)
            if "response_format" in kwargs and rejected:
                # Many OpenAI-compatible servers refuse json_schema; the judge parses the
                # text anyway, so ask once more without it.
                retry = {k: v for k, v in kwargs.items() if k != "response_format"}
                return await litellm.acompletion(**retry)
            raise

    def _response(
        self, litellm: Any, request: ModelRequest, raw: Any, latency: float
    ) -> ModelResponse:
        try:
            choice = raw.choices[0]
            content = choice.message.content
            finish_reason = choice.finish_reason
            calls = tool_calls_from(getattr(choice.message, "tool_calls", None))
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelCallError(
                f"{request.model} returned a response without choices", kind="bad_response"
            ) from exc
        usage_obj = getattr(raw, "usage", None)
        prompt_tokens = int(getattr(usage_obj, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage_obj, "completion_tokens", 0) or 0)
        return ModelResponse(
            text=text_content(request.model, content, calls_tools=bool(calls)),
            usage=Usage(prompt_tokens, completion_tokens, self._cost(litellm, request, raw)),
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            cached=False,
            latency_s=latency,
            tool_calls=calls,
        )

    @staticmethod
    def _cost(litellm: Any, request: ModelRequest, raw: Any) -> float:
        if request.model.split("/", 1)[0] in CUSTOM_PROVIDERS:
            return 0.0
        # litellm prices every response while building it; asking completion_cost again
        # repeated that work (about a third of the CPU litellm spends on a call). An
        # unknown model is stamped None, which means zero here too.
        hidden = getattr(raw, "_hidden_params", None)
        if isinstance(hidden, dict) and "response_cost" in hidden:
            return _positive(hidden["response_cost"])
        try:
            cost = litellm.completion_cost(completion_response=raw, model=request.model)
        except Exception:
            # Unknown models (self-hosted, new releases) have no price: report zero.
            return 0.0
        return _positive(cost)


def _positive(cost: object) -> float:
    return float(cost) if isinstance(cost, int | float) and cost > 0 else 0.0


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
        detail = one_line(str(exc)) or type(exc).__name__
        raise ModelCallError(f"embedding call to {model} failed: {detail}") from exc
    try:
        items = sorted(raw.data, key=lambda item: _field_of(item, "index") or 0)
        vectors = tuple(tuple(float(x) for x in _field_of(item, "embedding")) for item in items)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelCallError(
            f"{model} returned embeddings in an unexpected shape", kind="bad_response"
        ) from exc
    if len(vectors) != len(texts):
        raise ModelCallError(
            f"{model} returned {len(vectors)} embeddings for {len(texts)} texts",
            kind="bad_response",
        )
    usage = getattr(raw, "usage", None)
    tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    return Embeddings(vectors, Usage(prompt_tokens=tokens))


def _field_of(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name)


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


# Model modes whose endpoint is a chat completion, where tools go.
_CHAT_MODES = (None, "chat", "responses")


@functools.lru_cache(maxsize=1)
@functools.cache
def _model_map_file() -> dict[str, Any]:
    """litellm's model map as shipped (what it reads with LITELLM_LOCAL_MODEL_COST_MAP),
    read without importing litellm; empty when it cannot be found."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).with_name("model_prices_and_context_window_backup.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def tool_support(model: str) -> bool | None:
    """litellm's word on whether ``model`` can call tools: False only when its model map
    has the model and says it cannot (``supports_function_calling: false``, or an endpoint
    that is not a chat completion); None when litellm does not know the model. (litellm's
    own ``supports_function_calling`` answers False for models it has never heard of,
    which would refuse every new or self-hosted model.)

    An ``openai/`` model is looked up in the map litellm ships, without waiting for its
    import: the fast path sends such calls before litellm has loaded."""
    prefix, _, name = model.partition("/")
    if prefix == "openai" and name and _litellm is None:
        provider, table = "openai", _model_map_file()
    else:
        litellm = _load_litellm()
        try:
            name, provider, _, _ = litellm.get_llm_provider(model)
        except Exception:
            return None
        table = litellm.model_cost
    for key in (model, f"{provider}/{name}", name):
        entry = table.get(key)
        if not isinstance(entry, dict):
            continue
        # ``openai/gpt-3.5-turbo-instruct`` is listed under text-completion-openai.
        if entry.get("litellm_provider") not in (provider, f"text-completion-{provider}"):
            continue
        if entry.get("supports_function_calling") is False or entry.get("mode") not in _CHAT_MODES:
            return False
        return True if entry.get("supports_function_calling") else None
    return None


# A model that names no answer limit: the reservation assumes this many tokens at most.
DEFAULT_OUTPUT_CAP = 4096


@dataclass(frozen=True)
class TokenPrices:
    """litellm's price of one model, per token, and the most tokens it answers with."""

    input_usd: float
    output_usd: float
    max_output_tokens: int | None = None


def token_prices(model: str) -> TokenPrices | None:
    """``model``'s prices in the model map litellm ships (the one it reads with
    LITELLM_LOCAL_MODEL_COST_MAP), read without importing litellm; None for a model the map
    does not price (self-hosted, new releases, the stub, the embedded model)."""
    table = _model_map_file()
    prefix, _, name = model.partition("/")
    for key in (model, name):
        entry = table.get(key) if key else None
        if not isinstance(entry, dict):
            continue
        if name and entry.get("litellm_provider") not in (prefix, f"text-completion-{prefix}"):
            continue
        given, taken = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if not isinstance(given, int | float) or not isinstance(taken, int | float):
            continue
        cap = entry.get("max_output_tokens")
        return TokenPrices(float(given), float(taken), cap if isinstance(cap, int) else None)
    return None


def price_tokens(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """What these tokens cost on ``model`` at litellm's prices (0 when it has none)."""
    prices = token_prices(model)
    if prices is None:
        return 0.0
    return prompt_tokens * prices.input_usd + completion_tokens * prices.output_usd


def output_cap(request: ModelRequest) -> int:
    """The most tokens ``request`` can be answered with."""
    if request.max_tokens is not None:
        return request.max_tokens
    prices = token_prices(request.model)
    cap = prices.max_output_tokens if prices is not None else None
    return cap or DEFAULT_OUTPUT_CAP
