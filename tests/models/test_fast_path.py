"""The fast path for OpenAI-compatible calls against litellm's path, over the real stub;
litellm's import off the critical path; the embedded model without litellm."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from promptloop.models import litellm_client
from promptloop.models.base import Message, ModelCallError, ModelRequest, ModelResponse
from promptloop.models.litellm_client import openai_route
from promptloop.models.provider_client import LiteLLMClient
from promptloop.models.retry import ConcurrencyLimiter
from tests.support import REPO_ROOT, cli_env, copy_project, run_promptloop

FAST = LiteLLMClient(api_key="sk-test")
LITELLM = LiteLLMClient(api_key="sk-test", fast_path=False)
SCHEMA = {"type": "object", "properties": {"passed": {"type": "boolean"}}}


def ask(url: str | None, **fields: Any) -> ModelRequest:
    base: dict[str, Any] = {"model": "openai/stub", "api_base": url, "timeout_s": 5.0}
    base.update(fields)
    return ModelRequest(messages=(Message("user", "alpha beta gamma"),), **base)


def outcome(client: LiteLLMClient, request: ModelRequest) -> Any:
    try:
        response = asyncio.run(client.complete(request))
    except ModelCallError as exc:
        return ("error", exc.kind, str(exc), exc.retry_after_s)
    return ("ok", response.text, response.usage, response.finish_reason)


def test_the_fast_path_sends_exactly_the_body_litellm_sends(serve):
    server, url = serve(record_bodies=True)
    for client in (FAST, LITELLM):
        request = ask(url, max_tokens=3, seed=7, temperature=0.2, json_schema=SCHEMA)
        assert outcome(client, request)[0] == "ok"
    fast, slow = server.bodies
    assert fast == slow
    assert fast["response_format"]["json_schema"]["schema"] == SCHEMA


def test_the_fast_path_does_not_go_through_litellm_acompletion(serve, monkeypatch):
    litellm = litellm_client._load_litellm()

    async def refuse(**kwargs: Any) -> Any:
        raise AssertionError("litellm.acompletion was called")

    monkeypatch.setattr(litellm, "acompletion", refuse)
    _, url = serve()
    response = asyncio.run(LiteLLMClient(api_key="sk-test").complete(ask(url)))
    assert response.text == "alpha beta gamma"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"rate_limit_every": 1, "retry_after_s": 2.5},
        {"error_every": 1, "error_status": 500},
        {"error_every": 1, "error_status": 503},
        {"error_every": 1, "error_status": 401},
        {"error_every": 1, "error_status": 403},
        {"error_every": 1, "error_status": 400},
        {"error_every": 1, "error_status": 404},
        {"malformed_every": 1},
        {"hang_every": 1},
        {"no_choices": True},
        {"content_json": "7"},
        {"content_json": "null"},
        {"content_json": "[1, 2]"},
    ],
)
def test_both_paths_answer_and_fail_alike(serve, config):
    _, url = serve(**config)
    # Only the hanging server is meant to time out; every other answer gets a ceiling a busy
    # two-core machine cannot reach, so the paths are compared on what they answer.
    request = ask(url, max_tokens=2, timeout_s=0.5 if "hang_every" in config else 30.0)
    fast, slow = outcome(FAST, request), outcome(LITELLM, request)
    assert fast == slow
    if fast[0] == "error":
        assert "\n" not in fast[2] and len(fast[2]) <= 200


def test_both_paths_name_the_server_they_could_not_reach():
    """A wrong api_base is the usual cause of a refused connection: the line names the
    server (scheme, host and port: not the path, nor anything else the URL holds)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = ask(f"http://127.0.0.1:{port}/v1?key=x", timeout_s=5.0)
    fast, slow = outcome(FAST, request), outcome(LITELLM, request)
    assert fast == slow
    assert fast[:3] == ("error", "connection", f"Connection error (http://127.0.0.1:{port})")


def test_a_base_url_holding_a_password_is_a_case_error_not_a_crash(serve):
    _, url = serve()
    request = ask(url.replace("http://", "http://user:pw@"))
    kind, message = outcome(FAST, request)[1:3]
    # litellm's words, on either road; retrying cannot help, so it is not retried.
    assert kind == "bad_request"
    assert message == outcome(LITELLM, request)[2]
    assert "credentials encoded in URL" in message and "pw" not in message


def test_both_paths_price_a_known_model_alike(serve):
    _, url = serve()
    request = ask(url, model="openai/gpt-4o-mini")
    fast, slow = outcome(FAST, request), outcome(LITELLM, request)
    assert fast[2].cost_usd > 0
    assert fast == slow


@pytest.mark.parametrize(("content", "named"), [("7", "int"), ("null", "null"), ("[1]", "list")])
@pytest.mark.parametrize("client", [FAST, LITELLM], ids=["fast path", "litellm path"])
def test_content_that_is_not_text_is_one_clear_error(serve, capfd, client, content, named):
    _, url = serve(content_json=content)
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(client.complete(ask(url)))
    assert caught.value.kind == "bad_response"
    assert str(caught.value) == f"openai/stub returned content of type {named}, expected text"
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "serializer" not in err.lower()


def test_not_text_becomes_a_case_error_in_a_run(serve, tmp_path):
    from promptloop.engine.results import read_results

    _, url = serve(content_json="5")
    project = copy_project("sentiment", tmp_path)
    config = project / "promptloop.yaml"
    text = config.read_text()
    assert "model: scripted/sentiment" in text
    config.write_text(
        text.replace("model: scripted/sentiment", f"model: openai/stub\napi_base: {url}", 1)
    )
    proc = run_promptloop(
        project, "run", ".", "-o", "out", "-q", env=cli_env(OPENAI_API_KEY="sk-test")
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream
        assert "serializer" not in stream.lower()
    cases = read_results(project / "out" / "results.json").suites[0].cases
    assert cases and all(c.status == "error" for c in cases)
    assert {c.error for c in cases} == {
        "model call failed: openai/stub returned content of type int, expected text"
    }


def test_litellm_decides_the_route_and_the_parameters():
    plain = openai_route(ask("http://127.0.0.1:9/v1", max_tokens=5), "sk-x")
    assert plain is not None
    assert plain.url == "http://127.0.0.1:9/v1/chat/completions"
    assert plain.body["max_tokens"] == 5
    assert plain.headers["Authorization"] == "Bearer sk-x"
    assert plain.cost(1000, 1000) == 0.0  # an unknown model has no price
    # A reasoning model takes max_completion_tokens and no temperature: litellm knows that.
    reasoning = openai_route(ask(None, model="openai/o3-mini", max_tokens=5), "sk-x")
    assert reasoning is not None
    assert reasoning.body["max_completion_tokens"] == 5
    assert "max_tokens" not in reasoning.body and "temperature" not in reasoning.body
    assert reasoning.cost(1000, 1000) > 0
    # Other providers, and OpenAI models served by the Responses API, stay on litellm's path.
    assert openai_route(ask(None, model="anthropic/claude-3-5-haiku-latest"), "k") is None
    assert openai_route(ask(None, model="openai/o1-pro"), "sk-x") is None
    assert openai_route(ask(None, model="scripted/x"), "sk-x") is None
    assert openai_route(ask(None, model="no-provider-here"), "sk-x") is None


def test_the_limiter_waits_and_settles_outside_the_slot():
    released = asyncio.Event()
    held: list[bool] = []
    sent: list[str] = []

    class Inner:
        async def complete(self, request: ModelRequest) -> ModelResponse:
            sent.append(request.model)
            return ModelResponse(text=f"answer {len(sent)}")

    class Admission:
        async def before(self, request: ModelRequest) -> None:
            await released.wait()

        async def settle(self, request: ModelRequest, outcome: Any) -> Any:
            held.append(limiter._semaphore.locked())
            # The first answer is refused (asked again), the rest stand.
            return None if outcome.text == "answer 1" else outcome

    async def scenario() -> list[str]:
        calls = [asyncio.create_task(limiter.complete(ask(None))) for _ in range(2)]
        await asyncio.sleep(0.01)
        held.append(limiter._semaphore.locked())
        released.set()
        return [r.text for r in await asyncio.gather(*calls)]

    limiter = ConcurrencyLimiter(Inner(), 1, admission=Admission())
    assert sorted(asyncio.run(scenario())) == ["answer 2", "answer 3"]
    assert len(sent) == 3
    assert held == [False, False, False, False]


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_embedded_model_never_imports_litellm():
    out = run_python(
        """
        import asyncio, sys
        from promptloop.models import local
        from promptloop.models.base import Message, ModelRequest
        from promptloop.models.factory import build_client

        async def fake(model, messages, **options):
            return local.LocalResult("a colour", 3, 2, None)

        local.complete = fake
        client, _ = build_client(cache_dir=None, redis_url=None, retries=0, concurrency=2)
        request = ModelRequest("local/smollm2", (Message("user", "hi"),))
        response = asyncio.run(client.complete(request))
        print(response.text, response.finish_reason, "litellm" in sys.modules)
        """
    )
    assert out == "a colour stop False"


def test_a_live_call_imports_litellm_in_the_background(serve):
    _, url = serve()
    out = run_python(
        f"""
        import asyncio, sys, threading
        from promptloop.models.base import Message, ModelRequest
        from promptloop.models.factory import build_client

        names = []
        original = threading.Thread.start
        def start(self):
            names.append(self.name)
            original(self)
        threading.Thread.start = start
        client, _ = build_client(
            cache_dir=None, redis_url=None, retries=0, concurrency=2, api_key="sk-test"
        )
        request = ModelRequest("openai/stub", (Message("user", "hi there"),), api_base="{url}")
        before = "litellm" in sys.modules
        print(before, asyncio.run(client.complete(request)).text, names[0])
        """
    )
    assert out == "False hi there import-litellm"


def test_calls_go_out_before_litellm_is_imported_and_litellm_has_the_last_word(serve):
    server, url = serve(record_bodies=True)
    out = run_python(
        f"""
        import asyncio, json
        from promptloop.models import litellm_client
        from promptloop.models.base import Message, ModelRequest
        from promptloop.models.factory import build_client

        client, _ = build_client(
            cache_dir=None, redis_url=None, retries=0, concurrency=8, api_key="sk-test"
        )
        def ask(model):
            message = (Message("user", "one two three"),)
            return ModelRequest(model, message, api_base="{url}", max_tokens=5)

        sent_before_import = []
        async def main():
            calls = [client.complete(ask(m)) for m in ("openai/stub", "openai/o3-mini",
                                                        "openai/gpt-4o-mini")]
            return await asyncio.gather(*calls)
        answers = asyncio.run(main())
        print(json.dumps([[a.text, a.usage.cost_usd] for a in answers]))
        """
    )
    answers = json.loads(out)
    assert [text for text, _ in answers] == ["one two three"] * 3
    stub_cost, reasoning_cost, known_cost = (cost for _, cost in answers)
    assert stub_cost == 0.0
    assert reasoning_cost > 0 and known_cost > 0  # litellm's prices, though sent on a guess
    expected = asyncio.run(LITELLM.complete(ask(url, model="openai/gpt-4o-mini", max_tokens=5)))
    assert known_cost == expected.usage.cost_usd
    by_model: dict[str, list[dict[str, Any]]] = {}
    for body in server.bodies[:-1]:
        by_model.setdefault(body["model"], []).append(body)
    # Sent once each on the guess, which litellm confirmed...
    assert [b["max_tokens"] for b in by_model["stub"]] == [5]
    assert len(by_model["gpt-4o-mini"]) == 1
    # ...and the reasoning model, which litellm sends differently, waits for litellm: once.
    [only] = by_model["o3-mini"]
    assert only["max_completion_tokens"] == 5 and "max_tokens" not in only


def test_the_fast_path_takes_the_environments_proxy(monkeypatch):
    from promptloop.models import openai_http

    monkeypatch.setattr(openai_http, "_proxies", {})
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "skip.internal")
    proxy, _ = openai_http._proxy("https://api.example.com/v1/chat/completions")
    assert str(proxy) == "http://proxy.internal:3128"
    assert openai_http._proxy("https://skip.internal/v1/chat/completions") == (None, None)


def test_an_answer_echoing_a_secret_is_still_settled_by_litellm(serve):
    # Masking a secret out of an answer makes a new answer; litellm must still have its word
    # on the one sent on the guess: priced, or asked again its own way.
    secret = "sk-echoed-5c1e9a7b3d"
    server, url = serve(record_bodies=True, answer_rules=((r"say", f"the key is {secret}"),))
    out = run_python(
        f"""
        import asyncio, json
        from promptloop.models.base import Message, ModelRequest
        from promptloop.models.factory import build_client

        client, _ = build_client(cache_dir=None, redis_url=None, retries=0, concurrency=8,
                                 api_key="sk-test", secrets=["{secret}"])
        def ask(model):
            return ModelRequest(model, (Message("user", "say it"),), api_base="{url}",
                                max_tokens=5)
        async def main():
            return await asyncio.gather(*(client.complete(ask(m))
                                          for m in ("openai/gpt-4o-mini", "openai/o3-mini")))
        print(json.dumps([[a.text, a.usage.cost_usd] for a in asyncio.run(main())]))
        """
    )
    (known_text, known_cost), (reasoning_text, reasoning_cost) = json.loads(out)
    assert known_text == reasoning_text == "the key is ***"
    assert known_cost > 0 and reasoning_cost > 0
    asked = [b for b in server.bodies if b["model"] == "o3-mini"]
    # a reasoning model is not guessed: it waits for litellm and goes out once, its way
    assert [("max_tokens" in b, "max_completion_tokens" in b) for b in asked] == [(False, True)]
