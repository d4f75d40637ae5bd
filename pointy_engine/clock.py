"""Time as a collaborator: the run loop reads and waits through a clock, so tests never sleep."""

from __future__ import annotations

import queue
import time
from typing import Any, Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def wait(self, inbox: queue.SimpleQueue[Any], timeout: float | None) -> Any:
        """The next message from `inbox`, or None once `timeout` seconds have passed."""
        ...


SLICE = 0.25
"""Longest single block, in seconds. A Ctrl-C that lands just before a thread blocks does not
wake it (and on Windows nothing does): it is handled when the block ends, so blocks are short."""


class SystemClock:
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    @staticmethod
    def wait(inbox: queue.SimpleQueue[Any], timeout: float | None) -> Any:
        if timeout is not None and timeout <= SLICE:
            try:
                return inbox.get(timeout=timeout)
            except queue.Empty:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        step = SLICE
        while True:
            try:
                return inbox.get(timeout=step)
            except queue.Empty:
                if deadline is not None:
                    step = min(SLICE, deadline - time.monotonic())
                    if step <= 0:
                        return None


class FakeClock:
    """Time that moves only when the run waits for a timer: delays cost nothing.

    Waiting with a timeout returns a message if one is already there, else jumps the clock
    forward by the whole timeout. Waiting with no timeout blocks on real messages (from
    workers), which is what a test of threads wants.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def wait(self, inbox: queue.SimpleQueue[Any], timeout: float | None) -> Any:
        try:
            return inbox.get_nowait()
        except queue.Empty:
            pass
        if timeout is None:
            return inbox.get()
        self.waits.append(timeout)
        self.now += timeout
        return None
