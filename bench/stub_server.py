"""An OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``) with deterministic
content and ``POST /v1/embeddings`` with word-hash vectors (``embedding``), and can
misbehave on purpose: latency, 500s, 429s with Retry-After, malformed bodies, hangs.
``GET /stats`` reports request counts by status and the peak number of requests in flight;
``POST /stats/reset`` zeroes them.

In-process use (tests)::

    server = StubServer(StubConfig(rate_limit_every=2))
    base_url = server.start()      # "http://127.0.0.1:<port>/v1"
    ...
    server.stop()

Command line (benchmarks)::

    python bench/stub_server.py --port 8099 --latency-ms 200 --latency-dist lognormal \
        --error-rate 0.02 --rate-limit-every 50

Answers: the first of ``answer_rules`` whose pattern the messages match, or else the last
user message is echoed back as the answer (or, for a request with
``tools``, the calls ``tool_rules`` find in it, or in the whole conversation with
``tool_rules_read="conversation"``); a judge request (one with
``response_format``, or whose messages mention JSON) gets ``{"passed": true, "score": 1,
"critique": "..."}``. Token counts are whitespace-separated words; ``max_tokens`` cuts the
answer and reports ``finish_reason: "length"``.

Quality world (``quality_judge`` "fresh" or "sticky", for bench/gate_e2e.py): a prompt
saying ``case <i> of <n>`` and ``quality <k>`` is answered right exactly when case i's
rank in a permutation seeded by ``world_salt`` is below k, so a good answer depends only
on the case and the prompt's quality; ``style <s>`` in the prompt is echoed into the
answer, making it differ between prompts. The judge reads the answer between
``<output>`` tags and errs on ``judge_error`` of its verdicts: "fresh" independently on
every call, "sticky" as a function of the request at temperature 0 (as a real judge
repeats itself) and independently above 0.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from aiohttp import web

LatencyDist = Literal["fixed", "uniform", "lognormal"]


@dataclass(frozen=True)
class StubConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    # Latency: "fixed" waits latency_ms; "uniform" draws from latency_ms ± latency_spread_ms;
    # "lognormal" has median latency_ms and shape sigma latency_sigma (a long right tail).
    latency_ms: float = 0.0
    latency_dist: LatencyDist = "fixed"
    latency_spread_ms: float = 0.0
    latency_sigma: float = 0.5
    seed: int = 0
    # Failures. "*_every" counts chat requests from 1 (every Nth request); "*_rate" is a
    # seeded probability per request; fail_first answers the first N requests with
    # error_status (500 by default; 401 or 400 to test how clients classify those).
    fail_first: int = 0
    error_status: int = 500
    error_rate: float = 0.0
    error_every: int = 0
    rate_limit_first: int = 0
    rate_limit_every: int = 0
    rate_limit_rate: float = 0.0
    retry_after_s: float | None = 1.0
    malformed_every: int = 0
    malformed_rate: float = 0.0
    hang_every: int = 0
    hang_rate: float = 0.0
    hang_s: float = 3600.0
    # Answer 400 to any request carrying response_format, as many self-hosted servers do.
    reject_response_format: bool = False
    # Fixed answer text instead of the echo (judge requests still get judge JSON).
    answer: str | None = None
    # Scripted answers: the first (pattern, answer) whose regex matches the request's
    # messages (every message's text, one after another) answers, expanded with the match
    # (``\\1``). Checked before anything else, judge requests included.
    answer_rules: tuple[tuple[str, str], ...] = ()
    judge_passed: bool = True
    quality_judge: Literal["off", "fresh", "sticky"] = "off"
    judge_error: float = 0.1
    world_salt: int = 0
    # A JSON literal sent as the message content instead of text ("5", "null", "[1]"),
    # and an answer with an empty choices list: replies a client must refuse clearly.
    content_json: str | None = None
    no_choices: bool = False
    # Keep every request body (``StubServer.bodies``), to compare what clients send.
    record_bodies: bool = False
    # Tool calling: for a request with ``tools``, each (pattern, name, arguments) whose
    # regex matches the last user message adds a call; name and arguments are expanded
    # with the match (``\\1``). Arguments go out as written, so they can be broken JSON.
    tool_rules: tuple[tuple[str, str, str], ...] = ()
    # What the rules read: the last user message, or the whole conversation after the
    # system messages, one turn a line (``user: ...``, ``assistant: [tool call]
    # name(arguments)``, ``tool: ...``), so an agent can act on earlier turns.
    tool_rules_read: Literal["last_user", "conversation"] = "last_user"


@dataclass
class StubStats:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    malformed: int = 0
    hangs: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    # Requests with a temperature above 0 (the gate's second look samples its judge).
    sampled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "sampled": self.sampled,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "malformed": self.malformed,
            "hangs": self.hangs,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


def _words(text: str) -> list[str]:
    return text.split()


def _is_judge(body: dict[str, Any]) -> bool:
    if body.get("response_format"):
        return True
    return any("json" in str(m.get("content", "")).lower() for m in body.get("messages", []))


_CASE = re.compile(r"case (\S+) of (\d+)")
_QUALITY = re.compile(r"quality (\d+)")
_STYLE = re.compile(r"style (\w+)")
_OUTPUT = re.compile(r"<output>\n?(.*?)\n?</output>", re.DOTALL)
RIGHT = "the right answer to case"


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the sticky judge's memory."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@functools.lru_cache(maxsize=64)
def _ranks(salt: int, n: int) -> dict[int, int]:
    order = random.Random(salt).sample(range(n), n)
    return {case: rank for rank, case in enumerate(order)}


def _world_answer(config: StubConfig, text: str) -> str:
    case, quality = _CASE.search(text), _QUALITY.search(text)
    if case is None or quality is None:
        return text
    index, n = int(case.group(1)), int(case.group(2))
    right = _ranks(config.world_salt, n)[index] < int(quality.group(1))
    answer = f"{RIGHT if right else 'a wrong answer to case'} {index}"
    style = _STYLE.search(text)
    return f"{answer} in the {style.group(1)} style" if style else answer


def _world_verdict(config: StubConfig, body: dict[str, Any], rng: random.Random) -> str:
    last = next(
        (str(m.get("content", "")) for m in reversed(body["messages"]) if m["role"] == "user"),
        "",
    )
    found = _OUTPUT.search(last)
    right = found is not None and found.group(1).startswith(RIGHT)
    temperature = float(body.get("temperature") or 0.0)
    if config.quality_judge == "sticky" and temperature == 0:
        wrong = _unit(config.world_salt, body["messages"]) < config.judge_error
    else:
        wrong = rng.random() < config.judge_error
    passed = right != wrong
    return json.dumps({"critique": "stub world judge", "passed": passed, "score": int(passed)})


def _ruled_answer(config: StubConfig, messages: list[dict[str, Any]]) -> str | None:
    text = "\n".join(str(m.get("content") or "") for m in messages)
    for pattern, answer in config.answer_rules:
        match = re.search(pattern, text)
        if match is not None:
            return match.expand(answer)
    return None


def _answer_text(config: StubConfig, body: dict[str, Any], rng: random.Random | None = None) -> str:
    messages = body.get("messages") or []
    ruled = _ruled_answer(config, messages)
    if ruled is not None:
        return ruled
    if config.quality_judge != "off":
        if _is_judge(body):
            return _world_verdict(config, body, rng or random.Random())
        last = next((str(m.get("content", "")) for m in reversed(messages)), "")
        return _world_answer(config, last)
    if _is_judge(body):
        last = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        if "questions" in json.dumps(body.get("response_format") or {}):
            # A grader asking which questions an answer answers: the answer, as questions.
            answer = re.sub(r"</?answer>", "", last).strip()
            return json.dumps({"questions": [f"What is {answer}?", f"Tell me {answer}"]})
        critique = f"stub judge read {len(_words(last))} words"
        return json.dumps(
            {
                "passed": config.judge_passed,
                "score": 1 if config.judge_passed else 0,
                "critique": critique,
            }
        )
    if config.answer is not None:
        return config.answer
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _transcript(messages: list[dict[str, Any]]) -> str:
    lines = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        if message.get("content"):
            lines.append(f"{role}: {' '.join(str(message['content']).split())}")
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            lines.append(f"{role}: [tool call] {function.get('name')}({function.get('arguments')})")
    return "\n".join(lines)


def _tool_calls(config: StubConfig, body: dict[str, Any]) -> list[dict[str, Any]]:
    choice = body.get("tool_choice")
    if not body.get("tools") or choice == "none":
        return []
    if config.tool_rules_read == "conversation":
        last = _transcript(body["messages"])
    else:
        last = next(
            (
                str(m.get("content", ""))
                for m in reversed(body["messages"])
                if m.get("role") == "user"
            ),
            "",
        )
    calls = []
    for pattern, name, arguments in config.tool_rules:
        for match in re.finditer(pattern, last, flags=re.MULTILINE):
            calls.append((match.expand(name), match.expand(arguments)))
    if not calls and isinstance(choice, dict):
        calls.append((str(choice["function"]["name"]), "{}"))
    return [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        for index, (name, arguments) in enumerate(calls)
    ]


def completion_body(
    config: StubConfig, body: dict[str, Any], request_no: int, rng: random.Random | None = None
) -> dict[str, Any]:
    """The JSON an OpenAI server would return for ``body``; pure (given ``rng``, which
    only the quality world's judge draws from), so it is easy to test."""
    text = _answer_text(config, body, rng)
    words = _words(text)
    finish_reason = "stop"
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(max_tokens, int) and len(words) > max_tokens:
        words = words[:max_tokens]
        text = " ".join(words)
        finish_reason = "length"
    prompt_tokens = sum(len(_words(str(m.get("content", "")))) for m in body.get("messages", []))
    content: Any = text if config.content_json is None else json.loads(config.content_json)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    calls = _tool_calls(config, body)
    if calls:
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        finish_reason = "tool_calls"
        words = []
    return {
        "id": f"chatcmpl-stub-{request_no}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": str(body.get("model", "stub")),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason,
            }
        ][: 0 if config.no_choices else 1],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        },
    }


EMBEDDING_DIMENSIONS = 256


def embedding(text: str) -> list[float]:
    """A deterministic unit vector for ``text``: its lower-cased words hashed into
    ``EMBEDDING_DIMENSIONS`` buckets, so texts sharing words are close (cosine) and
    texts sharing none are orthogonal."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        bucket = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
        vector[bucket % EMBEDDING_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:
        vector[0], norm = 1.0, 1.0
    return [x / norm for x in vector]


def embeddings_body(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``/embeddings`` answer for ``body`` (``input``: a string or a list)."""
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    tokens = sum(len(_words(str(t))) for t in texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": embedding(str(t))}
            for i, t in enumerate(texts)
        ],
        "model": str(body.get("model", "stub-embedding")),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


class StubServer:
    """The server, run on its own event loop in a background thread."""

    def __init__(self, config: StubConfig | None = None) -> None:
        self.config = config or StubConfig()
        self.stats = StubStats()
        self.bodies: list[dict[str, Any]] = []
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- control -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the stub server is not running")
        return f"http://{self.config.host}:{self._port}/v1"

    def configure(self, **changes: Any) -> None:
        """Change behaviour while running (e.g. stop failing); counters are kept."""
        with self._lock:
            self.config = replace(self.config, **changes)

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = StubStats()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.as_dict()

    def start(self) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start()'s caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="stub-openai", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None
        self._port = None

    def __enter__(self) -> StubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/embeddings", self._embeddings)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/stats/reset", self._reset)
        # Handlers still waiting (hangs) are cancelled at shutdown instead of being awaited.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = int(sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"ok": True})

    def _latency_s(self, config: StubConfig) -> float:
        base = max(config.latency_ms, 0.0)
        if base == 0.0:
            return 0.0
        if config.latency_dist == "uniform":
            low = max(base - config.latency_spread_ms, 0.0)
            high = base + config.latency_spread_ms
            return self._rng.uniform(low, high) / 1000
        if config.latency_dist == "lognormal":
            return self._rng.lognormvariate(math.log(base), config.latency_sigma) / 1000
        return base / 1000

    def _decide(self, config: StubConfig, n: int) -> str:
        """Which behaviour request number ``n`` (from 1) gets."""

        def every(k: int) -> bool:
            return k > 0 and n % k == 0

        def chance(p: float) -> bool:
            return p > 0 and self._rng.random() < p

        if n <= config.fail_first:
            return "error"
        if n <= config.rate_limit_first:
            return "rate_limit"
        if every(config.rate_limit_every) or chance(config.rate_limit_rate):
            return "rate_limit"
        if every(config.error_every) or chance(config.error_rate):
            return "error"
        if every(config.hang_every) or chance(config.hang_rate):
            return "hang"
        if every(config.malformed_every) or chance(config.malformed_rate):
            return "malformed"
        return "ok"

    def _count(self, status: int) -> None:
        with self._lock:
            self.stats.by_status[status] += 1

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.stats.requests += 1
        try:
            body = await request.json()
        except ValueError:
            self._count(400)
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        if self.config.record_bodies:
            self.bodies.append(body)
        self._count(200)
        return web.json_response(embeddings_body(body))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.stats.requests += 1
            n = self.stats.requests
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            config = self.config
            behaviour = self._decide(config, n)
            latency = self._latency_s(config)
        try:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._count(400)
                return _error(400, "request body is not JSON", "invalid_request_error")
            if config.record_bodies:
                with self._lock:
                    self.bodies.append(body)
            if latency:
                await asyncio.sleep(latency)
            if config.reject_response_format and body.get("response_format"):
                self._count(400)
                return _error(
                    400,
                    "response_format json_schema is not supported by this server",
                    "invalid_request_error",
                )
            if behaviour == "rate_limit":
                self._count(429)
                headers = {}
                if config.retry_after_s is not None:
                    headers["Retry-After"] = _format_seconds(config.retry_after_s)
                return _error(429, "stub rate limit", "rate_limit_exceeded", headers)
            if behaviour == "error":
                status = config.error_status
                self._count(status)
                return _error(status, f"stub error {status}", "stub_error")
            if behaviour == "hang":
                with self._lock:
                    self.stats.hangs += 1
                await asyncio.sleep(config.hang_s)
            if behaviour == "malformed":
                with self._lock:
                    self.stats.malformed += 1
                self._count(200)
                return web.Response(
                    status=200,
                    text='{"id": "chatcmpl-broken", "choices": [',
                    content_type="application/json",
                )
            self._count(200)
            if float(body.get("temperature") or 0.0) > 0:
                with self._lock:
                    self.stats.sampled += 1
            with self._lock:
                answer = completion_body(config, body, n, self._rng)
            return web.json_response(answer)
        finally:
            with self._lock:
                self.stats.in_flight -= 1


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    payload = {"error": {"message": message, "type": code, "code": code}}
    return web.json_response(payload, status=status, headers=headers)


def _parse_args(argv: list[str] | None) -> StubConfig:
    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server (loopback only)")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--latency-dist", choices=["fixed", "uniform", "lognormal"], default="fixed"
    )
    parser.add_argument("--latency-spread-ms", type=float, default=0.0)
    parser.add_argument("--latency-sigma", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--error-status", type=int, default=500)
    parser.add_argument("--rate-limit-first", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--error-every", type=int, default=0)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--rate-limit-rate", type=float, default=0.0)
    parser.add_argument("--retry-after-s", type=float, default=1.0)
    parser.add_argument("--malformed-every", type=int, default=0)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--hang-every", type=int, default=0)
    parser.add_argument("--hang-rate", type=float, default=0.0)
    parser.add_argument("--hang-s", type=float, default=3600.0)
    parser.add_argument("--answer", default=None)
    parser.add_argument("--reject-response-format", action="store_true")
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items()}
    return StubConfig(**values)


def main(argv: list[str] | None = None) -> None:
    config = _parse_args(argv)
    server = StubServer(config)
    url = server.start()
    print(f"stub server listening on {url}  (stats: {url[:-3]}/stats)", flush=True)
    print(json.dumps(asdict(config)), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(json.dumps(server.snapshot()), flush=True)


if __name__ == "__main__":
    main()
