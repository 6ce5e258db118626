"""The run's transform memo: one call per key however many threads ask at once, a failure
remembered as the result, an interruption not, and a bounded number of results kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from promptloop.scripts import ScriptError
from promptloop.scripts.memo import TransformMemo


def test_threads_asking_at_once_share_one_call() -> None:
    memo = TransformMemo()
    calls: list[int] = []
    started = threading.Event()

    def slow() -> str:
        calls.append(1)
        started.set()
        time.sleep(0.2)  # the other threads ask while this one computes
        return "shout"

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(memo.result, "k", slow)
        assert started.wait(5)
        rest = [pool.submit(memo.result, "k", slow) for _ in range(7)]
        assert [f.result() for f in [first, *rest]] == ["shout"] * 8
    assert len(calls) == 1
    assert memo.result("other", lambda: "new") == "new"


def test_a_failure_is_remembered_and_raised_to_every_caller() -> None:
    memo = TransformMemo()
    calls: list[int] = []

    def failing() -> str:
        calls.append(1)
        raise ScriptError("transform file://t.py threw: boom")

    for _ in range(3):
        with pytest.raises(ScriptError, match="boom"):
            memo.result("k", failing)
    assert len(calls) == 1


def test_an_interruption_is_not_remembered() -> None:
    memo = TransformMemo()

    def interrupted() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        memo.result("k", interrupted)
    assert memo.result("k", lambda: "ran again") == "ran again"


def test_past_its_limit_the_least_recently_used_is_forgotten() -> None:
    memo = TransformMemo(limit=2)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    memo.result("a", lambda: compute("a"))
    memo.result("b", lambda: compute("b"))
    memo.result("a", lambda: compute("a"))  # a is used again: b is now the oldest
    memo.result("c", lambda: compute("c"))
    assert memo.result("a", lambda: compute("a")) == "A"
    assert memo.result("b", lambda: compute("b")) == "B"
    assert calls == ["a", "b", "c", "b"]
