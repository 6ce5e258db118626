"""The one module that talks to litellm, and through it to every provider.

litellm is imported on the first call only: importing it takes seconds, and a run
answered entirely from the cache must never pay for it. Two custom providers are
registered with litellm so that the embedded model (``local/...``) and the scripted
test model (``scripted/...``) take exactly the same path as a hosted provider.
"""

from __future__ import annotations

import email.utils
import os
import re
import threading
import time
from typing import Any, NamedTuple, Protocol

from promptloop.models import local, scripted
from promptloop.models.base import ErrorKind, ModelCallError, ModelRequest, ModelResponse, Usage

CUSTOM_PROVIDERS = ("local", "scripted")
_MAX_MESSAGE = 200

_import_lock = threading.Lock()
_litellm: Any = None


def _load_litellm() -> Any:
    global _litellm
    with _import_lock:
        if _litellm is not None:
            return _litellm
        # Without this litellm fetches its price list from the internet at import time.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.drop_params = True
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
        _litellm = litellm
        return litellm


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
    """What our own providers return (``local.LocalResult``, ``scripted.ScriptedResult``)."""

    @property
    def text(self) -> str: ...

    @property
    def prompt_tokens(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...

    @property
    def finish_reason(self) -> str | None: ...


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request settings our own providers take, from litellm's handler arguments."""
    params: dict[str, Any] = kwargs.get("optional_params") or {}
    return {
        "temperature": params.get("temperature"),
        "max_tokens": params.get("max_tokens"),
        "seed": params.get("seed"),
        "json_schema": _schema_from(params),
    }


def _make_handlers(litellm: Any) -> dict[str, Any]:
    """Build the custom-provider handlers (they subclass a litellm class, so live here)."""

    def build_response(model: str, result: _Completion) -> Any:
        prompt, completion = result.prompt_tokens, result.completion_tokens
        return litellm.ModelResponse(
            model=model,
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.finish_reason or "stop",
                }
            ],
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        )

    def timeout_of(kwargs: dict[str, Any]) -> float | None:
        value = kwargs.get("timeout")
        return float(value) if isinstance(value, int | float) else None

    class LocalHandler(litellm.CustomLLM):  # type: ignore[misc]
        async def acompletion(
            self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            result = await local.complete(
                model, messages, timeout_s=timeout_of(kwargs), **_options(kwargs)
            )
            return build_response(f"local/{model}", result)

    class ScriptedHandler(litellm.CustomLLM):  # type: ignore[misc]
        async def acompletion(
            self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            result = scripted.run_script(model, messages, **_options(kwargs))
            return build_response(f"scripted/{model}", result)

    return {"local": LocalHandler(), "scripted": ScriptedHandler()}


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    # litellm prefixes its class name ("litellm.RateLimitError: ..."); the kind says that.
    if line.startswith("litellm.") and ": " in line:
        line = line.split(": ", 1)[1]
    # ...and names the provider adapter ("OpenAIException - "), which means nothing to users.
    line = re.sub(r"\b\w+Exception - ", "", line)
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _retry_after(exc: BaseException) -> float | None:
    candidates: list[Any] = []
    response = getattr(exc, "response", None)
    if response is not None:
        candidates.append(getattr(response, "headers", None))
    candidates.append(getattr(exc, "litellm_response_headers", None))
    for headers in candidates:
        if headers is None:
            continue
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            continue
        seconds = parse_retry_after(str(value)) if value is not None else None
        if seconds is not None:
            return seconds
    return None


def _find_model_call_error(exc: BaseException) -> ModelCallError | None:
    """A ModelCallError raised by our own custom providers, as wrapped by litellm."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ModelCallError):
            return current
        seen.add(id(current))
        original = getattr(current, "original_exception", None)
        if isinstance(original, BaseException) and id(original) not in seen:
            current = original
            continue
        current = current.__cause__ or current.__context__
    return None


def classify(litellm: Any, exc: BaseException) -> ErrorKind:
    """Map a litellm exception to the kind the retry loop and the user see."""
    # Order matters: litellm.Timeout is a subclass of APIConnectionError.
    if isinstance(exc, litellm.Timeout):
        return "timeout"
    if isinstance(exc, litellm.RateLimitError):
        return "rate_limit"
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        return "auth"
    if isinstance(exc, litellm.APIResponseValidationError):
        return "bad_response"
    if isinstance(
        exc,
        litellm.BadRequestError | litellm.NotFoundError | litellm.UnprocessableEntityError,
    ):
        return "bad_request"
    status = getattr(exc, "status_code", None)
    # litellm reports a body it could not parse as a 500 of its own making.
    if (status is None or status >= 500) and _looks_unparseable(exc):
        return "bad_response"
    if _looks_like_connection_failure(exc):
        return "connection"
    if isinstance(
        exc,
        litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError,
    ):
        return "server"
    if isinstance(exc, litellm.APIConnectionError):
        return "connection"
    if isinstance(status, int):
        if status == 429:
            return "rate_limit"
        if status in (408, 504):
            return "timeout"
        if status >= 500:
            return "server"
        if status in (401, 403):
            return "auth"
        if 400 <= status < 500:
            return "bad_request"
    if _looks_unparseable(exc):
        return "bad_response"
    return "unknown"


def _looks_like_connection_failure(exc: BaseException) -> bool:
    # litellm reports a refused or dropped connection as a 500 "Connection error.";
    # the underlying cause is what tells the two apart.
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            break
        if isinstance(current, ConnectionError) or type(current).__name__ in (
            "ConnectError",
            "APIConnectionError",
        ):
            return not isinstance(current, TimeoutError)
        current = current.__cause__ or current.__context__
    return "connection error" in str(exc).lower()


def _looks_unparseable(exc: BaseException) -> bool:
    text = str(exc).lower()
    markers = (
        "jsondecodeerror",
        "expecting value",
        "unterminated string",
        "expecting ','",
        "expecting property name",
        "invalid json",
        "validation error",
        "unparseable",
    )
    return any(marker in text for marker in markers)


def _is_response_format_rejection(litellm: Any, exc: BaseException) -> bool:
    if not isinstance(exc, litellm.BadRequestError | litellm.UnprocessableEntityError):
        return False
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


class LiteLLMClient:
    """``ModelClient`` over ``litellm.acompletion``; no retries of its own (see ``retry``).

    ``api_key`` is for tests and stub servers; normally litellm reads the provider's
    key from the environment (``OPENAI_API_KEY`` and friends).
    """

    def __init__(self, *, api_key: str | None = None) -> None:
        self._api_key = api_key

    async def complete(self, request: ModelRequest) -> ModelResponse:
        litellm = _load_litellm()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [m.as_dict() for m in request.messages],
            "temperature": request.temperature,
            "timeout": request.timeout_s,
            "num_retries": 0,
        }
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.api_base is not None:
            kwargs["api_base"] = request.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        if request.json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "judgement", "schema": request.json_schema},
            }
        started = time.perf_counter()
        try:
            raw = await self._call(litellm, kwargs)
        except ModelCallError:
            raise
        except Exception as exc:
            raise self._error(litellm, exc) from exc
        latency = time.perf_counter() - started
        return self._response(litellm, request, raw, latency)

    async def _call(self, litellm: Any, kwargs: dict[str, Any]) -> Any:
        try:
            return await litellm.acompletion(**kwargs)
        except Exception as exc:
            if "response_format" in kwargs and _is_response_format_rejection(litellm, exc):
                # Many OpenAI-compatible servers refuse json_schema; the judge parses the
                # text anyway, so ask once more without it.
                retry = {k: v for k, v in kwargs.items() if k != "response_format"}
                return await litellm.acompletion(**retry)
            raise

    def _error(self, litellm: Any, exc: Exception) -> ModelCallError:
        own = _find_model_call_error(exc)
        if own is not None:
            return ModelCallError(
                _one_line(str(own)), kind=own.kind, retry_after_s=own.retry_after_s
            )
        kind = classify(litellm, exc)
        return ModelCallError(_one_line(str(exc)), kind=kind, retry_after_s=_retry_after(exc))

    def _response(
        self, litellm: Any, request: ModelRequest, raw: Any, latency: float
    ) -> ModelResponse:
        try:
            choice = raw.choices[0]
            content = choice.message.content
            finish_reason = choice.finish_reason
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelCallError(
                f"{request.model} returned a response without choices", kind="bad_response"
            ) from exc
        usage_obj = getattr(raw, "usage", None)
        prompt_tokens = int(getattr(usage_obj, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage_obj, "completion_tokens", 0) or 0)
        return ModelResponse(
            text=content if isinstance(content, str) else "",
            usage=Usage(prompt_tokens, completion_tokens, self._cost(litellm, request, raw)),
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            cached=False,
            latency_s=latency,
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
