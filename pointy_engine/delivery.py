"""Handing a run's records to its listeners off the run's path.

Each listener of a run gets a `Mailbox`: the run's loop only appends the record and, when the
mailbox was idle, hands one delivery task to the process's listener threads. That task gives the
listener every record waiting, in order, until none is left; so a listener sees its records in
order, one at a time, and a slow or hung listener delays only itself, never the run or the other
listeners. At the end of a run the loop waits, for a bounded time, until every mailbox is empty
(see `RecordStream.flush`), so `start()` returning means the listeners have seen the last record.

Delivery tasks run in a copy of the loop thread's `contextvars` context (see `threads.py`): what a
listener prints in a notebook lands under the cell that started the run, as it did on the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .threads import shared_threads

LISTENER_THREADS = 32
"""At most this many listeners are being called at once in the process. A hung listener holds one
thread; the others go on."""

_PREFIX = "pointy-listener"
_IDLE = 2.0  # seconds a listener thread waits for work before it leaves: none linger


class Mailbox:
    """One listener's records not yet delivered, and whether a delivery task is on them."""

    __slots__ = ("_busy", "_closed", "_in_hand", "_lock", "_pending", "failed", "idle", "listener")

    def __init__(self, listener: Callable[[Any], object], failed: Callable[..., None]) -> None:
        self.listener = listener
        self.failed = failed  # called as failed(mailbox, error) when the listener raises
        self._pending: list[Any] = []
        self._busy = False
        self._closed = False
        self._in_hand = 0  # records of the batch being delivered that the listener has not had
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    def post(self, record: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending.append(record)
            if self._busy:
                return  # the task on this mailbox takes it before it stops
            self._busy = True
            self.idle.clear()
        try:
            shared_threads.get(LISTENER_THREADS, _PREFIX, _IDLE).dispatch(self._deliver)
        except RuntimeError:  # the pools were shut down meanwhile (%unload_ext): a new one
            shared_threads.get(LISTENER_THREADS, _PREFIX, _IDLE).dispatch(self._deliver)

    @property
    def waiting(self) -> int:
        """Records the listener has not finished with."""
        return len(self._pending) + self._in_hand

    def close(self) -> None:
        """Deliver nothing more (what is waiting is dropped)."""
        with self._lock:
            self._closed = True
            self._pending = []

    def _deliver(self) -> None:
        listener = self.listener
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._busy = False
                    self.idle.set()
                    return
            left = len(batch)
            for record in batch:
                if self._closed:  # removed meanwhile, perhaps by itself
                    break
                self._in_hand = left
                left -= 1
                try:
                    listener(record)
                except BaseException as error:  # even SystemExit: it has no one to reach here
                    self.close()
                    self.failed(self, error)
                    break
            self._in_hand = 0
