"""How a failed model call reads: one line a person can act on, and when to try again.

Every road a call takes (litellm's, the fast path, the embedded model) words its failures
here, so the same failure reads the same whichever road it took
(tests/models/test_fast_path.py runs every failure through both).
"""

from __future__ import annotations

import email.utils
import re
import time
from urllib.parse import urlsplit

from promptloop.models.base import ModelCallError

_MAX_MESSAGE = 200


def provider_message(text: str) -> str:
    # A library's traceback inside an error message is noise to a user, and long.
    line = " ".join(text.split("Traceback (most recent call last)", 1)[0].split())
    # litellm prefixes its class name ("litellm.RateLimitError: RateLimitError: ..."); the
    # kind says that.
    if line.startswith("litellm.") and ": " in line:
        line = line.split(": ", 1)[1]
    line = re.sub(r"^[A-Z]\w*Error: ", "", line)
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


def unreachable(url: str) -> ModelCallError:
    """A refused or dropped connection, naming the server: a wrong ``api_base`` is the usual
    cause. Only scheme, host and port: a URL's path, query or user part is no one's business."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is no number, an unclosed [IPv6]: nothing safe to name
        return ModelCallError("Connection error.", kind="connection")
    if not parts.scheme or not parts.hostname:
        return ModelCallError("Connection error.", kind="connection")
    return ModelCallError(
        f"Connection error ({parts.scheme}://{parts.hostname}{port})", kind="connection"
    )


def timed_out(timeout_s: float) -> ModelCallError:
    return ModelCallError(f"request timed out after {timeout_s:g} s", kind="timeout")


def not_text(model: str, type_name: str) -> ModelCallError:
    return ModelCallError(
        f"{model} returned content of type {type_name}, expected text", kind="bad_response"
    )
