"""promptfoo provider ids onto litellm model strings, and their ``config`` onto a suite's
settings. An id or a setting that cannot be carried over is one ``UserError`` line naming
it and where it is written: a run on another model than the one written would prove nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptloop.errors import UserError

# promptfoo's provider prefix -> litellm's; the model name follows either way.
_PREFIXES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure",
    "azureopenai": "azure",
    "vertex": "vertex_ai",
    "google": "gemini",
    "gemini": "gemini",
    "bedrock": "bedrock",
    "ollama": "ollama",
    "mistral": "mistral",
    "groq": "groq",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "togetherai": "together_ai",
    "fireworks": "fireworks_ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "xai": "xai",
    "cerebras": "cerebras",
    "huggingface": "huggingface",
}
# The API flavour promptfoo writes between the prefix and the model, which litellm routes itself.
_FLAVOURS = ("chat", "messages", "responses", "converse", "completion")

# Settings a suite carries: they shape the request exactly as promptfoo sends it.
_CARRIED = {"temperature", "max_tokens", "maxTokens", "tools", "tool_choice", "response_format"}
_API_BASE = ("apiBaseUrl", "apiHost", "baseUrl")
# Settings that change how promptfoo reaches the provider, not what it answers.
_TRANSPORT = {"apiKey", "apiKeyEnvar", "headers", "organization", "region", "project", "timeout"}


@dataclass(frozen=True)
class Provider:
    """One provider of the config, read: its litellm model and the settings carried."""

    id: str
    label: str
    model: str
    line: int | None
    temperature: float | None = None
    max_tokens: int | None = None
    api_base: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None
    prompts: tuple[str, ...] | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)


def litellm_model(provider_id: str) -> str | None:
    """``openai:chat:gpt-4.1`` → ``openai/gpt-4.1``; None when promptloop cannot call it."""
    prefix, _, rest = provider_id.partition(":")
    target = _PREFIXES.get(prefix)
    if target is None or not rest:
        return None
    flavour, _, model = rest.partition(":")
    if flavour in _FLAVOURS and model:
        if prefix == "ollama" and flavour == "chat":
            return f"ollama_chat/{model}"
        if prefix == "openai" and flavour == "completion":
            return f"text-completion-openai/{model}"
        rest = model
    return f"{target}/{rest}"


def read_provider(raw: Any, where: str, line: int | None) -> Provider:
    """One item of ``providers:`` (a string, ``{id, label, config, prompts}``, or the
    ``{id: {config...}}`` shorthand)."""
    if isinstance(raw, str):
        raw = {"id": raw}
    elif isinstance(raw, Mapping) and len(raw) == 1 and "id" not in raw:
        [(key, value)] = raw.items()
        raw = {"id": key, **(value if isinstance(value, Mapping) else {})}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        raise UserError(
            "a provider is an id such as openai:gpt-4.1-mini, or a mapping with `id:`",
            path=where,
            line=line,
            key="providers",
        )
    provider_id = raw["id"]
    model = litellm_model(provider_id)
    if model is None:
        raise UserError(
            f"provider {provider_id!r} is not one promptloop can call: it calls "
            f"{', '.join(p + ':' for p in _PREFIXES)} models through litellm; write the "
            "model as one of those, or run this config with promptfoo",
            path=where,
            line=line,
            key="providers",
        )
    for key in ("transform", "env", "inputs"):
        if key in raw:
            raise UserError(
                f"provider {provider_id}: `{key}` is not supported; remove it, or move the "
                "output transform into the assertions' `transform`",
                path=where,
                line=line,
                key=f"providers.{key}",
            )
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise UserError("`config` must be a mapping", path=where, line=line, key="config")
    return _with_config(
        provider_id, str(raw.get("label") or provider_id), model, config, raw, where, line
    )


def _with_config(
    provider_id: str,
    label: str,
    model: str,
    config: Mapping[str, Any],
    raw: Mapping[str, Any],
    where: str,
    line: int | None,
) -> Provider:
    notices = []
    unknown = sorted(k for k in config if k not in _CARRIED and k not in _API_BASE)
    for key in unknown:
        if key in _TRANSPORT:
            notices.append(
                f"{where}:{line}: provider {provider_id}: config.{key} is not read; "
                "promptloop takes keys from the environment (litellm's names)"
            )
            continue
        raise UserError(
            f"provider {provider_id}: config.{key} is not supported (promptloop carries "
            f"{', '.join(sorted(_CARRIED))}); remove it, or run this config with promptfoo",
            path=where,
            line=line,
            key=f"providers.config.{key}",
        )
    if "delay" in raw:
        notices.append(f"{where}:{line}: provider {provider_id}: `delay` is not needed and ignored")
    base = next((str(config[k]) for k in _API_BASE if config.get(k)), None)
    if base is not None and "://" not in base:
        base = f"https://{base}/v1"
    prompts = raw.get("prompts")
    tokens = config.get("max_tokens", config.get("maxTokens"))
    return Provider(
        id=provider_id,
        label=label,
        model=model,
        line=line,
        temperature=config.get("temperature"),
        max_tokens=int(tokens) if tokens is not None else None,
        api_base=base,
        tools=tuple(config.get("tools") or ()),
        tool_choice=config.get("tool_choice"),
        response_format=config.get("response_format"),
        prompts=tuple(str(p) for p in prompts) if isinstance(prompts, list) else None,
        notices=tuple(notices),
    )
