"""LiteLLMClient over real loopback HTTP to the stub server, and the scripted provider."""

from __future__ import annotations

import asyncio
import json
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from promptloop.models import litellm_client, scripted
from promptloop.models.base import Message, ModelCallError, ModelRequest
from promptloop.models.call_errors import parse_retry_after
from promptloop.models.litellm_client import response_cost
from promptloop.models.provider_client import LiteLLMClient
from promptloop.models.retry import RetryingClient
from tests.support import load_stub

stub = load_stub()


@pytest.fixture(autouse=True)
def _clean_scripts():
    yield
    scripted.clear_scripts()


def ask(url: str | None, text: str = "alpha beta gamma", **fields: Any) -> ModelRequest:
    base = {"model": "openai/stub", "api_base": url, "timeout_s": 10.0}
    base.update(fields)
    return ModelRequest(messages=(Message("user", text),), **base)


@pytest.fixture(params=["fast path", "litellm path"])
def client(request: pytest.FixtureRequest) -> LiteLLMClient:
    """Every behaviour here holds on both paths an OpenAI-compatible call can take."""
    return LiteLLMClient(api_key="sk-test", fast_path=request.param == "fast path")


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_completion_carries_text_usage_and_finish_reason(client, serve):
    server, url = serve()
    response = run(client.complete(ask(url, "one two three four", max_tokens=3)))
    assert response.text == "one two three"
    assert response.finish_reason == "length"
    assert response.usage.prompt_tokens == 4
    assert response.usage.completion_tokens == 3
    assert response.cached is False
    assert response.usage.cost_usd == 0.0  # "stub" has no price
    assert server.snapshot()["by_status"] == {"200": 1}


def test_known_model_gets_a_cost(client, serve):
    _, url = serve()
    response = run(client.complete(ask(url, "one two three", model="openai/gpt-4o-mini")))
    assert response.usage.completion_tokens == 3
    assert response.usage.cost_usd > 0


def test_cost_comes_from_litellms_own_pricing_not_a_second_lookup(client, serve, monkeypatch):
    # litellm prices each response as it builds it; pricing it again doubled that work.
    litellm = litellm_client._load_litellm()
    repriced: list[Any] = []

    def reprice(*args: Any, **kwargs: Any) -> float:
        repriced.append(kwargs)
        return 1.0

    monkeypatch.setattr(litellm, "completion_cost", reprice)
    _, url = serve()
    known = run(client.complete(ask(url, "one two three", model="openai/gpt-4o-mini")))
    unknown = run(client.complete(ask(url, "one two three")))
    assert known.usage.cost_usd > 0
    assert known.usage.cost_usd != 1.0
    assert unknown.usage.cost_usd == 0.0
    assert repriced == []


def fake_litellm(price: float | Exception) -> tuple[Any, list[str]]:
    asked: list[str] = []

    def completion_cost(*, completion_response: Any, model: str) -> float:
        asked.append(model)
        if isinstance(price, Exception):
            raise price
        return price

    return SimpleNamespace(completion_cost=completion_cost), asked


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [
        ({"response_cost": 0.0125}, 0.0125),
        ({"response_cost": None}, 0.0),
        ({"response_cost": -1}, 0.0),
    ],
)
def test_stamped_cost_is_used_as_is(hidden, expected):
    fake, asked = fake_litellm(9.0)
    raw = SimpleNamespace(_hidden_params=hidden)
    assert response_cost(fake, ask(None, model="openai/some-model"), raw) == expected
    assert asked == []


@pytest.mark.parametrize(("price", "expected"), [(0.5, 0.5), (ValueError("unmapped"), 0.0)])
def test_unstamped_response_is_priced_by_litellm(price, expected):
    fake, asked = fake_litellm(price)
    raw = SimpleNamespace(_hidden_params={"api_base": "x"})
    assert response_cost(fake, ask(None, model="openai/some-model"), raw) == expected
    assert asked == ["openai/some-model"]


def test_custom_providers_cost_nothing():
    fake, asked = fake_litellm(3.0)
    raw = SimpleNamespace(_hidden_params={"response_cost": 2.0})
    assert response_cost(fake, ask(None, model="scripted/x"), raw) == 0.0
    assert asked == []


def test_rate_limit_retry_after_is_honoured(client, serve):
    server, url = serve(rate_limit_first=1, retry_after_s=7)
    sleeps = SleepRecorder()
    retrying = RetryingClient(client, retries=3, base_delay_s=0.01, sleep=sleeps)
    response = run(retrying.complete(ask(url)))
    assert response.text == "alpha beta gamma"
    assert sleeps.waits == [7.0]
    assert server.snapshot()["by_status"] == {"200": 1, "429": 1}


def test_rate_limit_error_carries_retry_after(client, serve):
    _, url = serve(rate_limit_every=1, retry_after_s=2.5)
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ask(url)))
    assert caught.value.kind == "rate_limit"
    assert caught.value.retry_after_s == 2.5
    assert "\n" not in str(caught.value)


def test_server_errors_are_retried_then_succeed(client, serve):
    server, url = serve(fail_first=2)
    sleeps = SleepRecorder()
    retrying = RetryingClient(client, retries=3, base_delay_s=0.01, sleep=sleeps)
    response = run(retrying.complete(ask(url)))
    assert response.text == "alpha beta gamma"
    assert len(sleeps.waits) == 2
    assert server.snapshot()["by_status"] == {"200": 1, "500": 2}


def test_server_errors_forever_give_up_with_attempts(client, serve):
    server, url = serve(error_every=1)
    retrying = RetryingClient(client, retries=2, base_delay_s=0.01, sleep=SleepRecorder())
    with pytest.raises(ModelCallError) as caught:
        run(retrying.complete(ask(url)))
    assert caught.value.kind == "server"
    assert caught.value.attempts == 3
    assert "3 attempts" in str(caught.value)
    assert server.snapshot()["by_status"] == {"500": 3}


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (400, "bad_request")])
def test_client_errors_are_classified_and_not_retried(client, serve, status, kind):
    server, url = serve(error_every=1, error_status=status)
    sleeps = SleepRecorder()
    retrying = RetryingClient(client, retries=3, sleep=sleeps)
    with pytest.raises(ModelCallError) as caught:
        run(retrying.complete(ask(url)))
    assert caught.value.kind == kind
    assert caught.value.attempts == 1
    assert sleeps.waits == []
    assert server.snapshot()["requests"] == 1


def test_hang_times_out(client, serve):
    _, url = serve(hang_every=1)
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ask(url, timeout_s=0.5)))
    assert caught.value.kind == "timeout"


def test_malformed_body_is_bad_response(client, serve):
    _, url = serve(malformed_every=1)
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ask(url)))
    assert caught.value.kind == "bad_response"


def test_refused_connection_is_connection_error(client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ask(f"http://127.0.0.1:{port}/v1", timeout_s=5)))
    assert caught.value.kind == "connection"


def test_json_schema_is_sent_as_response_format(client, serve):
    _, url = serve()
    schema = {"type": "object", "properties": {"passed": {"type": "boolean"}}}
    response = run(client.complete(ask(url, "grade this", json_schema=schema)))
    verdict = json.loads(response.text)
    assert verdict["passed"] is True


def test_rejected_response_format_is_retried_without_it(client, serve):
    server, url = serve(reject_response_format=True)
    schema = {"type": "object"}
    response = run(client.complete(ask(url, "grade this answer", json_schema=schema)))
    # Without response_format the stub sees no JSON hint and echoes: the fallback went through.
    assert response.text == "grade this answer"
    assert server.snapshot()["by_status"] == {"200": 1, "400": 1}


def test_scripted_provider_goes_through_litellm(client):
    scripted.register_script("tutor", ["first answer here", "second"])
    schema = {"type": "object"}
    request = ModelRequest(
        model="scripted/tutor",
        messages=(Message("system", "be kind"), Message("user", "hello there")),
        temperature=0.3,
        max_tokens=2,
        seed=11,
        json_schema=schema,
    )
    first = run(client.complete(request))
    second = run(client.complete(request))
    assert (first.text, first.finish_reason) == ("first answer", "length")
    assert (second.text, second.finish_reason) == ("second", "stop")
    assert first.usage.prompt_tokens == 4
    assert first.usage.completion_tokens == 2
    assert first.usage.cost_usd == 0.0
    calls = scripted.script_calls("tutor")
    assert len(calls) == 2
    assert calls[0]["temperature"] == 0.3
    assert calls[0]["max_tokens"] == 2
    assert calls[0]["seed"] == 11
    assert calls[0]["json_schema"] == schema
    assert calls[0]["messages"][0] == {"role": "system", "content": "be kind"}


def test_scripted_function_and_errors_keep_their_kind(client):
    def responder(call: dict[str, Any]) -> str | BaseException:
        text = call["messages"][-1]["content"]
        if text == "fail":
            return ModelCallError("slow down", kind="rate_limit", retry_after_s=4.0)
        return text.upper()

    scripted.register_script("fn", responder)
    ok = run(client.complete(ModelRequest("scripted/fn", (Message("user", "shout"),))))
    assert ok.text == "SHOUT"
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ModelRequest("scripted/fn", (Message("user", "fail"),))))
    assert caught.value.kind == "rate_limit"
    assert caught.value.retry_after_s == 4.0
    assert str(caught.value) == "slow down"


def test_exhausted_or_missing_script_is_bad_request(client):
    scripted.register_script("once", ["only"])
    request = ModelRequest("scripted/once", (Message("user", "hi"),))
    run(client.complete(request))
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(request))
    assert caught.value.kind == "bad_request"
    assert "no answers left" in str(caught.value)
    with pytest.raises(ModelCallError) as missing:
        run(client.complete(ModelRequest("scripted/ghost", (Message("user", "hi"),))))
    assert "scripted/ghost" in str(missing.value)


def test_unknown_embedded_model_name_is_bad_request(client):
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ModelRequest("local/gpt-9", (Message("user", "hi"),))))
    assert caught.value.kind == "bad_request"
    assert "local/smollm2" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("soon", None), (None, None)],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_error_messages_are_short_single_lines(client, serve):
    _, url = serve(error_every=1, error_status=503)
    with pytest.raises(ModelCallError) as caught:
        run(client.complete(ask(url)))
    message = str(caught.value)
    assert "stub error 503" in message
    assert "OpenAIException" not in message
    assert "litellm." not in message
    assert "\n" not in message and len(message) <= 200
