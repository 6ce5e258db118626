"""promptloop.bounds, the watchdog and the bounded template sandbox, one piece at a time: what
is stopped, and that nothing leaks into the code that runs after a bounded block."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError

from promptloop.bounds import confined, regex_search
from promptloop.errors import UserError
from promptloop.evaluators.templating import BoundedSandbox, render_bounded
from promptloop.watchdog import (
    Abandoned,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    abandon_all,
    call_with_timeout,
    run_limited,
)

ENV = BoundedSandbox(undefined=StrictUndefined)


def render(source: str, **variables: Any) -> str:
    return render_bounded(ENV.from_string(source), variables, "test")


def test_a_loop_past_its_time_limit_is_stopped() -> None:
    started = time.monotonic()

    def spin() -> None:
        while True:
            pass

    with pytest.raises(TimeLimitExceeded, match=r"spin took longer than 0\.2 s"):
        run_limited(spin, 0.2, "spin")
    assert time.monotonic() - started < 5


def test_a_block_that_ends_in_time_leaves_no_interrupt_behind() -> None:
    # Deadlines close to the work's length: some blocks are stopped, most finish just in time.
    for _ in range(300):
        with contextlib.suppress(TimeLimitExceeded):
            run_limited(lambda: sum(range(2000)), 0.001, "quick")
    # An interrupt raised but not delivered would land here, in unrelated code.
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        pass


def test_a_call_in_a_worker_returns_its_value_or_its_exception() -> None:
    async def main() -> Any:
        value = await call_with_timeout(lambda a, b: a + b, ("a",), {"b": "b"}, seconds=5, what="x")

        def fails() -> None:
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            await call_with_timeout(fails, (), {}, seconds=5, what="x")

        async def coro(x: int) -> int:
            await asyncio.sleep(0)
            return x * 2

        return value, await call_with_timeout(coro, (21,), {}, seconds=5, what="x")

    assert asyncio.run(main()) == ("ab", 42)


@pytest.mark.parametrize("kind", ["loop", "sleep", "async loop"])
def test_a_call_that_never_returns_times_out(kind: str) -> None:
    def spin() -> None:
        while True:
            pass

    async def aspin() -> None:
        while True:
            pass

    fn = {"loop": spin, "sleep": lambda: time.sleep(3600), "async loop": aspin}[kind]

    async def main() -> None:
        with pytest.raises(TimeLimitExceeded):
            await call_with_timeout(fn, (), {}, seconds=0.3, what=kind)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 10


def test_abandon_all_gives_up_a_stuck_call_at_once() -> None:
    async def main() -> None:
        def spin() -> None:
            while True:
                pass

        waiting = asyncio.ensure_future(call_with_timeout(spin, (), {}, seconds=600, what="s"))
        await asyncio.sleep(0.2)
        abandon_all()
        with pytest.raises(Abandoned):
            await waiting

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 10


def test_regex_search_is_bounded_and_otherwise_like_re() -> None:
    assert regex_search(re.compile(r"\d{2,4}"), "abc 12345").group(0) == "1234"  # type: ignore[union-attr]
    assert regex_search(re.compile("REFUND", re.IGNORECASE), "a refund") is not None
    assert regex_search(re.compile("x"), "abc") is None
    with pytest.raises(TimeLimitExceeded, match="regex"):
        regex_search(re.compile(r"(a|aa)+$"), "a" * 60 + "b")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 2000000000 }}",
        "{{ [1] * 2000000000 }}",
        "{{ 'x'.center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%*d' % (1000000000, 1) }}",
        "{{ '{:>99999999}'.format(1) }}",
        "{{ '%099999999d'|format(1) }}",
        "{{ ('a' * 100000)|replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}",
        "{{ ('a' * 1000).replace('a', 'b' * 10000) }}",
        "{{ 10 ** (10 ** 8) }}",
        "{{ lipsum(n=100000) }}",
        "{% set ns = namespace(s='a' * 900000) %}{{ ns.s + ns.s }}",
    ],
)
def test_the_sandbox_refuses_an_operation_that_builds_a_huge_value(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(SecurityError):
        render(source)
    assert time.monotonic() - started < 5


def test_the_sandbox_stops_a_render_that_loops_or_writes_too_much() -> None:
    with pytest.raises(TimeLimitExceeded):
        render("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}")
    with pytest.raises(SecurityError, match="rendered text exceeds"):
        render("{% for i in range(99999) %}{% for j in range(99999) %}xx{% endfor %}{% endfor %}")


def test_ordinary_templates_render_as_before() -> None:
    text = render(
        "{{ name|upper }} {{ 'ab' * 3 }} {{ '%05d' % 42 }} {{ '{:>4}'.format(7) }} "
        "{{ 'x'|center(5) }}|{{ 'hello'|replace('l', 'L') }} {{ 2 ** 10 }} "
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ ', '.join(['a', 'b']) }}",
        name="ada",
    )
    assert text == "ADA ababab 00042    7   x  |heLLo 1024 012 a, b"


def _allocate(chunks: int) -> int:
    held = [b"x" * (8 << 20) for _ in range(chunks)]
    return len(held)


def test_a_block_that_keeps_allocating_is_stopped_at_its_memory_cap() -> None:
    # 1 GB at most, should the cap not hold; 64 MB allowed.
    with pytest.raises(MemoryLimitExceeded, match=r"^hog used more than 64 MB of memory"):
        run_limited(lambda: _allocate(128), 60, "hog", memory_bytes=64 << 20)

    async def main() -> None:
        with pytest.raises(MemoryLimitExceeded, match=r"^hog used more than 64 MB of memory"):
            await call_with_timeout(
                _allocate, (128,), {}, seconds=60, what="hog", memory_bytes=64 << 20
            )
        # Within the cap, and with no cap, the same call returns.
        assert (
            await call_with_timeout(
                _allocate, (2,), {}, seconds=60, what="ok", memory_bytes=64 << 20
            )
            == 2
        )

    asyncio.run(main())
    assert run_limited(lambda: _allocate(2), 60, "fine", memory_bytes=64 << 20) == 2


@pytest.mark.parametrize("escape", ["dotdot", "symlink"])
def test_a_confinement_refusal_says_the_path_as_written_and_not_where_it_leads(
    tmp_path: Path, escape: str
) -> None:
    project = tmp_path / "machine" / "layout" / "project"
    (project / ".git").mkdir(parents=True)
    secret = tmp_path / "machine" / "secret.txt"
    secret.write_text("s")
    if escape == "dotdot":
        written = "../../secret.txt"
        expected = "../../secret.txt points outside the project; "
    else:
        (project / "link.txt").symlink_to(secret)
        written = "link.txt"
        expected = "link.txt points outside the project through a symlink; "
    with pytest.raises(UserError) as refused:
        confined(written, project)
    message = str(refused.value)
    assert message == expected + "move the file into the repository"
    assert str(tmp_path) not in message and "machine" not in message
    # A path inside the project is given back to open, unchanged.
    assert confined("inside.txt", project) == project / "inside.txt"
