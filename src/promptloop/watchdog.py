"""The watchdog: stops code that runs past its time or grows the process past its memory cap.

Templates, regexes and a user's checks arrive in pull requests, and the job that runs them
holds the provider keys and a write token: none of them may hang it or eat its memory.

Time is bounded by interruption, not by hope. Code that runs too long is stopped at its
next Python instruction by an exception raised into its thread (CPython's
``PyThreadState_SetAsyncExc``, from one watchdog thread). That covers the loops a template or
a check can write; a single C call cannot be interrupted, so those are bounded where they are
made (``bounds``).

Memory is bounded the same way. A user's Python runs in this process (it gets the case as
Python values and may keep state between calls), so no operating-system limit can be given
to it alone: while it runs, the watchdog reads the process's resident memory every few
milliseconds and interrupts it once the process has grown past its cap since it started.
A loop that keeps allocating is stopped within a poll; one C call that allocates more than
the machine has fails on its own with ``MemoryError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import itertools
import mmap
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from promptloop.errors import UserError

# How much a user's Python check or script may grow the process while it runs, unless the
# environment says otherwise (in MB).
SCRIPT_MEMORY_BYTES = 512 << 20
SCRIPT_MEMORY_ENV = "PROMPTLOOP_SCRIPT_MEMORY_MB"
_T = TypeVar("_T")

# How often the watchdog reads the process's memory while a capped block runs.
_MEMORY_POLL_S = 0.02


class _Interrupt(BaseException):
    """Raised into a thread whose time is up. A BaseException, so the ``except Exception``
    in a template or a user's check does not swallow it."""


class _OverMemory(_Interrupt):
    """Raised into a thread that grew the process past its memory cap."""


class TimeLimitExceeded(Exception):
    """Code ran past its time limit and was stopped (or abandoned)."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"{what} took longer than {seconds:g} s and was stopped")


class MemoryLimitExceeded(Exception):
    """Code grew the process past its memory cap and was stopped."""

    def __init__(self, what: str, limit_bytes: int) -> None:
        self.what = what
        self.limit_bytes = limit_bytes
        super().__init__(
            f"{what} used more than {limit_bytes >> 20} MB of memory and was stopped "
            f"(raise the cap with {SCRIPT_MEMORY_ENV})"
        )


def script_memory_limit() -> int:
    """The memory cap of a user's Python check or script, in bytes: ``SCRIPT_MEMORY_BYTES``,
    or ``PROMPTLOOP_SCRIPT_MEMORY_MB`` megabytes when the environment sets it."""
    raw = os.environ.get(SCRIPT_MEMORY_ENV, "").strip()
    if not raw:
        return SCRIPT_MEMORY_BYTES
    if not raw.isdigit() or int(raw) == 0:
        raise UserError(f"{SCRIPT_MEMORY_ENV}={raw!r}: expected a whole number of megabytes")
    return int(raw) << 20


def _resident_bytes() -> int | None:
    """The process's resident memory; None where ``/proc`` cannot tell (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        return None


def _exceeded(
    interrupt: type[_Interrupt], what: str, seconds: float, memory_bytes: int | None
) -> Exception:
    if issubclass(interrupt, _OverMemory) and memory_bytes is not None:
        return MemoryLimitExceeded(what, memory_bytes)
    return TimeLimitExceeded(what, seconds)


class Abandoned(Exception):
    """The run is stopping: a bounded call was given up before it returned."""


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    # None clears an exception that was raised into the thread but not yet delivered.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None
    )


@dataclass
class _Armed:
    thread_id: int
    deadline: float
    # The cap on the process's growth while the block runs, and its size when it started.
    memory_bytes: int | None = None
    resident_at_start: int = 0
    fired: type[_Interrupt] | None = None
    done: bool = False


class _Watchdog:
    """One daemon thread that interrupts every armed thread whose deadline has passed."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._armed: dict[int, _Armed] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def arm(
        self, box: list[int], thread_id: int, seconds: float, memory_bytes: int | None = None
    ) -> None:
        """Watch ``thread_id``; its token goes into ``box`` before the lock is released, so
        the caller holds it even when the interrupt arrives the moment this returns."""
        resident = _resident_bytes() if memory_bytes is not None else None
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._watch, name="promptloop-watchdog", daemon=True
                )
                self._thread.start()
            token = next(self._tokens)
            self._armed[token] = _Armed(
                thread_id,
                time.monotonic() + seconds,
                memory_bytes if resident is not None else None,
                resident or 0,
            )
            box.append(token)
            self._lock.notify()

    def interrupt(self, token: int) -> None:
        """Interrupt the armed thread now (its caller gave up waiting)."""
        with self._lock:
            entry = self._armed.get(token)
            if entry is not None:
                entry.deadline = 0.0
                self._lock.notify()

    def disarm(self, token: int) -> type[_Interrupt] | None:
        """Stop watching; the interrupt raised into the thread, if any. Clears an interrupt
        raised but not yet delivered, so it cannot land in code after the guarded block."""
        while True:
            try:
                with self._lock:
                    entry = self._armed.pop(token, None)
                    if entry is None:
                        return None
                    entry.done = True
                    if entry.fired:
                        _raise_in(entry.thread_id, None)
                    return entry.fired
            except _Interrupt:  # delivered just now, on the way out: the block had finished
                continue

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                capped = [e for e in self._armed.values() if e.memory_bytes and not e.fired]
                resident = _resident_bytes() if capped else None
                waits = [_MEMORY_POLL_S] if capped else []
                for entry in self._armed.values():
                    if entry.fired:
                        continue
                    if entry.deadline <= now:
                        entry.fired = _Interrupt
                    elif (
                        entry.memory_bytes is not None
                        and resident is not None
                        and resident - entry.resident_at_start > entry.memory_bytes
                    ):
                        entry.fired = _OverMemory
                    else:
                        waits.append(entry.deadline - now)
                        continue
                    _raise_in(entry.thread_id, entry.fired)
                self._lock.wait(timeout=min(waits) if waits else None)


_WATCHDOG = _Watchdog()


def run_limited(
    fn: Callable[[], _T], seconds: float, what: str, *, memory_bytes: int | None = None
) -> _T:
    """``fn()`` in this thread for at most ``seconds``; past that it is interrupted at its next
    Python instruction and ``TimeLimitExceeded`` is raised here. With ``memory_bytes``,
    growing the process by more than that while it runs raises ``MemoryLimitExceeded``.

    A call rather than a ``with`` block: an interrupt that fires just as the work finishes
    can be delivered on the way out, and only a frame of our own around the call is sure to
    catch it (a context manager's exit runs in a frame of its own that it would escape)."""
    box: list[int] = []
    try:
        try:
            _WATCHDOG.arm(box, threading.get_ident(), seconds, memory_bytes)
            return fn()
        finally:
            if box:
                _WATCHDOG.disarm(box[0])
    except _Interrupt as interrupt:
        if box:  # delivered before the disarm above ran: its entry is still armed
            _WATCHDOG.disarm(box[0])
        raise _exceeded(type(interrupt), what, seconds, memory_bytes) from None


# --- calls in a worker thread, given up at a timeout or when the run stops ------------------

# Each wait still open, with the watchdog token of its thread once the thread has started.
_waiting: dict[asyncio.Future[Any], list[int]] = {}


async def call_with_timeout(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    seconds: float,
    what: str,
    memory_bytes: int | None = None,
) -> Any:
    """``fn(*args, **kwargs)`` in its own daemon thread (an ``async`` function runs to the end
    on that thread's own event loop), awaited for at most ``seconds``.

    Past that, the thread is interrupted (and, if stuck in C, left behind: a daemon thread does
    not keep the process alive) and ``TimeLimitExceeded`` is raised; past ``memory_bytes`` (see
    ``run_limited``), ``MemoryLimitExceeded``. ``abandon_all`` gives up every such wait at once
    with ``Abandoned``: a stopping run does not wait for a stuck check.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    token_box: list[int] = []

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        value: Any = None
        error: BaseException | None = None
        interrupted: type[_Interrupt] | None = None
        try:
            try:
                _WATCHDOG.arm(token_box, threading.get_ident(), seconds, memory_bytes)
                value = fn(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = asyncio.run(_awaited(value))
            finally:
                interrupted = _WATCHDOG.disarm(token_box[0]) if token_box else None
        except _Interrupt as interrupt:
            error = _exceeded(type(interrupt), what, seconds, memory_bytes)
        except BaseException as exc:
            error = exc if not interrupted else _exceeded(interrupted, what, seconds, memory_bytes)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="promptloop-check", daemon=True).start()
    _waiting[future] = token_box
    try:
        return await asyncio.wait_for(asyncio.shield(future), seconds + 0.5)
    except TimeoutError:
        if token_box:
            _WATCHDOG.interrupt(token_box[0])
        raise TimeLimitExceeded(what, seconds) from None
    finally:
        _waiting.pop(future, None)


async def _awaited(value: Any) -> Any:
    return await value


def abandon_all() -> None:
    """Give up every ``call_with_timeout`` still waiting and interrupt its thread (call on the
    event loop's thread)."""
    for future, token_box in list(_waiting.items()):
        if not future.done():
            future.set_exception(Abandoned())
        if token_box:
            _WATCHDOG.interrupt(token_box[0])
