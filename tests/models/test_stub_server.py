"""The stub OpenAI server in bench/, exercised over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.support import load_stub

stub = load_stub()


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def get_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return json.loads(response.read())


CHAT = {"model": "stub", "messages": [{"role": "user", "content": "alpha beta gamma delta"}]}


def test_echoes_the_last_user_message_with_word_token_counts(serve):
    _, url = serve()
    body = {
        "model": "stub",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "alpha beta gamma"},
        ],
    }
    status, _, text = post(url, body)
    data = json.loads(text)
    assert status == 200
    assert data["choices"][0]["message"]["content"] == "alpha beta gamma"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11}


def test_max_tokens_truncates_and_reports_length(serve):
    _, url = serve()
    status, _, text = post(url, {**CHAT, "max_tokens": 2})
    choice = json.loads(text)["choices"][0]
    assert status == 200
    assert choice["message"]["content"] == "alpha beta"
    assert choice["finish_reason"] == "length"


def test_judge_requests_get_judge_json(serve):
    _, url = serve(judge_passed=False)
    _, _, text = post(url, {**CHAT, "response_format": {"type": "json_object"}})
    verdict = json.loads(json.loads(text)["choices"][0]["message"]["content"])
    assert verdict["passed"] is False
    assert verdict["score"] == 0
    assert isinstance(verdict["critique"], str) and verdict["critique"]


def test_both_paths_answer(serve):
    _, url = serve()
    root = url.removesuffix("/v1")
    assert post(url, CHAT)[0] == 200
    assert post(root, CHAT)[0] == 200
    assert get_stats(url)["by_status"] == {"200": 2}


def test_rate_limit_every_nth_request_with_retry_after(serve):
    _, url = serve(rate_limit_every=3, retry_after_s=7)
    results = [post(url, CHAT) for _ in range(6)]
    statuses = [status for status, _, _ in results]
    assert statuses == [200, 200, 429, 200, 200, 429]
    assert results[2][1]["Retry-After"] == "7"
    assert json.loads(results[2][2])["error"]["type"] == "rate_limit_exceeded"


def test_fail_first_then_recovers_and_stats_count_by_status(serve):
    server, url = serve(fail_first=2, error_status=503)
    statuses = [post(url, CHAT)[0] for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    stats = get_stats(url)
    assert stats["requests"] == 4
    assert stats["by_status"] == {"200": 2, "503": 2}
    server.reset_stats()
    assert get_stats(url)["requests"] == 0


def test_malformed_body_is_not_json(serve):
    _, url = serve(malformed_every=1)
    status, _, text = post(url, CHAT)
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert get_stats(url)["malformed"] == 1


def test_reject_response_format_answers_400_only_with_it(serve):
    _, url = serve(reject_response_format=True)
    assert post(url, {**CHAT, "response_format": {"type": "json_object"}})[0] == 400
    assert post(url, CHAT)[0] == 200


def test_configure_changes_behaviour_while_running(serve):
    server, url = serve(error_every=1)
    assert post(url, CHAT)[0] == 500
    server.configure(error_every=0, answer="fixed")
    status, _, text = post(url, CHAT)
    assert status == 200
    assert json.loads(text)["choices"][0]["message"]["content"] == "fixed"


def test_concurrent_requests_are_served_together(serve):
    _, url = serve(latency_ms=300)

    async def burst() -> list[int]:
        async with aiohttp.ClientSession() as session:

            async def one() -> int:
                async with session.post(url + "/chat/completions", json=CHAT) as response:
                    return response.status

            return await asyncio.gather(*(one() for _ in range(40)))

    statuses = asyncio.run(burst())
    assert statuses == [200] * 40
    stats = get_stats(url)
    assert stats["max_in_flight"] > 1
    assert stats["in_flight"] == 0


def test_latency_draws_are_seeded_and_bounded():
    config = stub.StubConfig(latency_ms=100, latency_dist="uniform", latency_spread_ms=20, seed=3)
    first = [stub.StubServer(config)._latency_s(config) for _ in range(1)]
    a, b = stub.StubServer(config), stub.StubServer(config)
    draws_a = [a._latency_s(config) for _ in range(50)]
    draws_b = [b._latency_s(config) for _ in range(50)]
    assert draws_a == draws_b
    assert first[0] == draws_a[0]
    assert all(0.08 <= d <= 0.12 for d in draws_a)
    assert len(set(draws_a)) > 1
    lognormal = stub.StubConfig(latency_ms=100, latency_dist="lognormal", latency_sigma=0.5)
    server = stub.StubServer(lognormal)
    draws = sorted(server._latency_s(lognormal) for _ in range(201))
    assert all(d > 0 for d in draws)
    assert 0.07 < draws[100] < 0.14  # the median sits near latency_ms


def test_completion_body_is_pure_and_echoes_model():
    config = stub.StubConfig()
    body = {"model": "m1", "messages": [{"role": "user", "content": "x y"}]}
    assert stub.completion_body(config, body, 1) == stub.completion_body(config, body, 1)
    assert stub.completion_body(config, body, 5)["model"] == "m1"
    assert stub.completion_body(config, body, 5)["id"].endswith("-5")


def test_cli_arguments_map_to_config():
    config = stub._parse_args(
        [
            "--port",
            "9001",
            "--latency-ms",
            "250",
            "--latency-dist",
            "lognormal",
            "--error-rate",
            "0.1",
            "--rate-limit-every",
            "5",
            "--reject-response-format",
        ]
    )
    assert config.port == 9001
    assert config.latency_ms == 250
    assert config.latency_dist == "lognormal"
    assert config.error_rate == 0.1
    assert config.rate_limit_every == 5
    assert config.reject_response_format is True


def _world_text(config: Any, body: dict[str, Any], seed: int = 0) -> str:
    import random

    reply = stub.completion_body(config, body, 1, random.Random(seed))
    return str(reply["choices"][0]["message"]["content"])


def test_the_quality_world_answers_by_case_rank_and_prompt_quality() -> None:
    config = stub.StubConfig(quality_judge="sticky", world_salt=3)

    def answer(quality: int, style: str = "") -> list[str]:
        return [
            _world_text(
                config,
                {
                    "messages": [
                        {
                            "role": "user",
                            "content": f"Answer case {i} of 10. quality {quality}.{style}",
                        }
                    ]
                },
            )
            for i in range(10)
        ]

    right = [a.startswith(stub.RIGHT) for a in answer(7)]
    assert sum(right) == 7
    # A lower quality loses exactly the cases ranked between; the rest answer the same.
    lower = answer(5)
    assert sum(a.startswith(stub.RIGHT) for a in lower) == 5
    assert all(a == b for a, b, r in zip(answer(7), lower, right, strict=True) if not r)
    assert answer(7, " Write it in style brisk.")[0].endswith("in the brisk style")


def test_the_sticky_judge_repeats_itself_at_temperature_zero_only() -> None:
    config = stub.StubConfig(quality_judge="sticky", judge_error=0.5, world_salt=1)

    def verdicts(temperature: float) -> set[bool]:
        body = {
            "messages": [
                {"role": "user", "content": "<output>\nthe right answer to case 1\n</output>"}
            ],
            "response_format": {"type": "json_object"},
            "temperature": temperature,
        }
        return {json.loads(_world_text(config, body, seed))["passed"] for seed in range(40)}

    assert len(verdicts(0.0)) == 1
    assert verdicts(0.7) == {True, False}


def test_answer_rules_answer_by_the_first_matching_pattern_over_every_message() -> None:
    config = stub.StubConfig(
        answer_rules=((r"<prompt>", "a revision"), (r"greeting for (\w+)", r"Hello \1."))
    )

    def answer(*messages: tuple[str, str]) -> str:
        body = {"model": "m", "messages": [{"role": r, "content": c} for r, c in messages]}
        return str(stub.completion_body(config, body, 1)["choices"][0]["message"]["content"])

    assert answer(("user", "Write a greeting for Ada.")) == "Hello Ada."
    # The pattern may sit in a system message; the first rule wins over the second.
    assert answer(("system", "Reply in <prompt> tags."), ("user", "greeting for Ada")) == (
        "a revision"
    )
    # A judge request matched by a rule gets the rule's answer; unmatched, the usual echo.
    assert answer(("user", "Answer in JSON: greeting for Bo")) == "Hello Bo."
    assert answer(("user", "nothing to match")) == "nothing to match"
