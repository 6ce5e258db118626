"""A run's transform results (``TransformMemo``), so a config's transform runs once per
input however many parts of the run need its result.

A transform is user code: it may keep state, draw at random, or take seconds. The forecast
and the room a case holds in the budget build a grader's requests from the output after
its transforms, and the grade transforms that output again; each asks the memo, and the
first to ask runs the code while the others wait for its result, or its failure.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

# A run transforms each of its outputs once per transforming assertion; past this many
# results the least recently used is forgotten (and would run again if asked), so a run of
# any size keeps a bounded number of transformed outputs in memory.
MEMO_ENTRIES = 8192


class TransformMemo:
    """Results by key, each computed once: thread-safe, since graders transform in worker
    threads and the budget's hold may be transforming the same output at once. A failure is
    remembered as the result: every caller sees the same exception, the code ran once."""

    def __init__(self, limit: int = MEMO_ENTRIES) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._results: OrderedDict[Hashable, Future[Any]] = OrderedDict()

    def result(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s value for ``key``: run by the first caller, waited for by any
        caller while it runs, remembered for later ones. Raises what ``compute`` raised."""
        with self._lock:
            future = self._results.get(key)
            first = future is None
            if future is None:
                future = Future()
                self._results[key] = future
                if len(self._results) > self._limit:
                    self._results.popitem(last=False)
            else:
                self._results.move_to_end(key)
        if first:
            try:
                future.set_result(compute())
            except Exception as exc:  # the transform's failure is its result
                future.set_exception(exc)
            except BaseException as exc:
                # Interrupted, not failed: the waiters learn of it, a later caller runs it.
                with self._lock:
                    if self._results.get(key) is future:
                        del self._results[key]
                future.set_exception(exc)
                raise
        value: T = future.result()
        return value
