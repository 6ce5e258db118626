"""litellm's model map as shipped: each model's prices, the most tokens it answers with, and
whether it calls tools.

Read from the JSON file litellm ships (the one it reads itself with
LITELLM_LOCAL_MODEL_COST_MAP), without importing litellm: a forecast, a budget and a cached
run price calls without paying seconds for that import. ``litellm_client`` hands its own,
loaded map to ``tool_support_in`` once litellm is there.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.models.base import ModelRequest

# A model that names no answer limit: the reservation assumes this many tokens at most.
DEFAULT_OUTPUT_CAP = 4096

# Model modes whose endpoint is a chat completion, where tools go.
_CHAT_MODES = (None, "chat", "responses")


@functools.cache
def shipped() -> dict[str, Any]:
    """litellm's model map as shipped; empty when it cannot be found."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).with_name("model_prices_and_context_window_backup.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def tool_support_in(table: Mapping[str, Any], model: str, provider: str, name: str) -> bool | None:
    """The map's word on whether ``model`` (``name`` at ``provider``) can call tools: False
    only when the map has the model and says it cannot (``supports_function_calling: false``,
    or an endpoint that is not a chat completion); None when it does not know the model."""
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


@dataclass(frozen=True)
class TokenPrices:
    """litellm's price of one model, per token, and the most tokens it answers with."""

    input_usd: float
    output_usd: float
    max_output_tokens: int | None = None


def token_prices(model: str) -> TokenPrices | None:
    """``model``'s prices in the shipped map; None for a model the map does not price
    (self-hosted, new releases, the stub, the embedded model)."""
    table = shipped()
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


def positive_cost(cost: object) -> float:
    """A price litellm gave, as a cost: anything but a positive number (None for an unknown
    model, a negative from a bad entry) is zero."""
    return float(cost) if isinstance(cost, int | float) and cost > 0 else 0.0
