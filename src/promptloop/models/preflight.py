"""Check every model a command will call before the first call, without the network.

A typo in a model name or a provider key missing from the environment would otherwise
surface only after every case ran, as an outage (exit 3) in a truncated table cell. Here
it is one line naming where the model was written and what to fix (exit 2).

promptloop's own providers (``local/``, ``scripted/``) are checked up front. Models that
litellm routes are checked by ``PreflightGate`` just before the first call that misses the
cache: the check needs litellm, whose import takes seconds, and a run answered wholly
from the cache must not pay for it (nor does a typo'd model have cached answers).
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from promptloop.errors import UserError
from promptloop.models import local, scripted
from promptloop.models.base import ModelClient, ModelRequest, ModelResponse, is_embedded

# Providers that serve on localhost by default, so a missing *_API_BASE is no mistake.
_LOCAL_DEFAULT_PROVIDERS = ("ollama", "ollama_chat", "lm_studio")


@dataclass(frozen=True)
class ModelUse:
    """A model string and where the user wrote it (``path`` None: the command line)."""

    model: str
    key: str
    path: str | None = None
    line: int | None = None
    # The prompt file that declares ``tools:`` for this use, if one does.
    tools_from: str | None = None


def is_own(model: str) -> bool:
    """Served by promptloop itself, so checking it needs no litellm."""
    return model.partition("/")[0] in ("local", "scripted")


class PreflightGate:
    """Check the models once, before the first call that reaches a provider; every call after
    a failed check raises the same one-line ``UserError``. A call to the embedded model also
    checks that it is installed: without the ``local`` extra every case would otherwise be
    an outage to retry (exit 3)."""

    def __init__(self, inner: ModelClient, uses: Sequence[ModelUse], api_base: str | None):
        self._inner = inner
        self._uses = list(uses)
        self._api_base = api_base
        self._checked = not self._uses
        self._error: UserError | None = None
        self._lock = asyncio.Lock()
        self._embedded_installed = False

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if is_embedded(request.model) and not self._embedded_installed:
            problem = local.install_problem()
            if problem is not None:
                raise UserError(problem)
            self._embedded_installed = True
        if not self._checked:
            async with self._lock:
                if not self._checked:
                    try:
                        # In a worker thread: resolving a routed model imports litellm,
                        # which must not stall the calls the event loop already carries.
                        await asyncio.to_thread(check_models, self._uses, api_base=self._api_base)
                    except UserError as exc:
                        self._error = exc
                    self._checked = True
        if self._error is not None:
            raise self._error
        return await self._inner.complete(request)


def check_models(uses: Iterable[ModelUse], *, api_base: str | None) -> None:
    """Raise ``UserError`` for the first model that cannot be called as configured, or
    that litellm knows cannot call the tools a prompt declares."""
    seen: set[tuple[str, str | None]] = set()
    for use in uses:
        if (use.model, use.tools_from) in seen:
            continue
        checked = any(model == use.model for model, _ in seen)
        seen.add((use.model, use.tools_from))
        problem = None if checked else model_problem(use.model, api_base=api_base)
        if problem is None and use.tools_from is not None:
            problem = tools_problem(use.model, use.tools_from)
        if problem is not None:
            raise UserError(problem, path=use.path, line=use.line, key=use.key)


def tools_problem(model: str, prompt_path: str) -> str | None:
    """Why ``model`` cannot run a prompt with tools, or None. Only a model litellm knows
    to lack function calling is refused: one it has never heard of may well call tools.
    (promptloop's own models are checked where the run starts: the embedded one cannot
    call tools, scripts can.)"""
    if is_own(model):
        return None
    from promptloop.models.litellm_client import tool_support

    if tool_support(model) is not False:
        return None
    return (
        f"{model} cannot call tools (litellm lists it without function calling), and "
        f"{prompt_path} declares `tools:`; choose a tool-capable model, e.g. openai/gpt-4o-mini"
    )


def model_problem(model: str, *, api_base: str | None) -> str | None:
    """Why ``model`` cannot be called, or None."""
    prefix, _, name = model.partition("/")
    if prefix == "local":
        if name in local.MODEL_NAMES:
            return None
        known = [f"local/{n}" for n in local.MODEL_NAMES]
        hint = _nearest(model, known)
        return f"unknown embedded model {model!r}{hint} (available: {', '.join(known)})"
    if prefix == "scripted":
        if scripted.has_script(name):
            return None
        return (
            f"{model!r} is promptloop's test model, answered only by scripts a test registers; "
            "name a real model, e.g. openai/gpt-4o-mini or local/smollm2"
        )
    if prefix == "openai" and name:
        # The provider is named, so the fast path sends it without waiting for litellm;
        # litellm's own check for it is this key (it confirms the route on the first call).
        if os.environ.get("OPENAI_API_KEY"):
            return None
        return (
            f"{model} needs its provider's key in the environment; not set: OPENAI_API_KEY "
            "(export it; in GitHub Actions, pass it from a repository secret)"
        )
    from promptloop.models.litellm_client import resolve_provider

    view = resolve_provider(model)
    if view.provider is None:
        if "/" in model and prefix not in view.known_providers:
            hint = _nearest(prefix, view.known_providers, "provider")
            return f"unknown provider {prefix!r} in {model!r}{hint}"
        hint = _nearest(model, view.known_models)
        return (
            f"litellm cannot tell which provider serves {model!r}; write it as "
            f"provider/model, e.g. openai/gpt-4o-mini{hint}"
        )
    missing = [
        var
        for var in view.missing
        if not (
            var.endswith("_API_BASE")
            and (api_base is not None or view.provider in _LOCAL_DEFAULT_PROVIDERS)
        )
    ]
    if not missing:
        return None
    return (
        f"{model} needs its provider's key in the environment; not set: {', '.join(missing)} "
        "(export it; in GitHub Actions, pass it from a repository secret)"
    )


def _nearest(word: str, choices: list[str], what: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        return ""
    return f" — did you mean {what + ' ' if what else ''}'{close[0]}'?"
