"""What a litellm exception means: the kind of failure, and one line a user can read.

Given the litellm module by ``litellm_client`` (the one module that imports it), so that
both paths an OpenAI-compatible call can take fail with the same kinds and words
(tests/models/test_fast_path.py).
"""

from __future__ import annotations

import re
from typing import Any

from promptloop.models.base import ErrorKind, ModelCallError, ModelRequest
from promptloop.models.call_errors import (
    not_text,
    parse_retry_after,
    provider_message,
    timed_out,
    unreachable,
)

# litellm refuses a reply whose content is not text with its pydantic error (and a
# traceback) in the message; the type it names is all the user needs.
_NOT_TEXT = re.compile(r"validation error for Message\s+content\b.*?input_type=(\w+)", re.S)


def as_model_call_error(litellm: Any, request: ModelRequest, exc: Exception) -> ModelCallError:
    own = _find_model_call_error(exc)
    if own is not None:
        return ModelCallError(
            provider_message(str(own)), kind=own.kind, retry_after_s=own.retry_after_s
        )
    not_string = _NOT_TEXT.search(str(exc))
    if not_string:
        return not_text(request.model, not_string[1])
    kind = classify(litellm, exc)
    if kind == "timeout":
        # litellm's wording ("APITimeoutError - Request timed out. Error_str: ...") says
        # the same thing three times; both paths use this one.
        return timed_out(request.timeout_s)
    if kind == "connection" and request.api_base:
        return unreachable(request.api_base)
    return ModelCallError(provider_message(str(exc)), kind=kind, retry_after_s=_retry_after(exc))


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


def is_response_format_rejection(litellm: Any, exc: BaseException) -> bool:
    if not isinstance(exc, litellm.BadRequestError | litellm.UnprocessableEntityError):
        return False
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "response format" in text
