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
from collections import deque
from collections.abc import Callable
from typing import Any

from .threads import shared_threads

LISTENER_THREADS = 32
"""At most this many listeners are being called at once in the process. A hung listener holds one
thread; the others go on."""

_PREFIX = "pointy-listener"
_IDLE = 2.0  # seconds a listener thread waits for work before it leaves: none linger


class Mailbox:
    """One listener's records not yet delivered, and whether a delivery task is on them.

    Posting takes no lock: the record goes on a deque, and only an idle mailbox's first record
    takes the lock to start a task. The task leaves under the lock only once the deque is
    empty, after it said it was leaving, so a record posted meanwhile is never stranded.
    (This relies on the GIL making each attribute read and write whole, as CPython does.)
    """

    __slots__ = ("_closed", "_in_hand", "_lock", "busy", "failed", "idle", "listener", "pending")

    def __init__(self, listener: Callable[[Any], object], failed: Callable[..., None]) -> None:
        self.listener = listener
        self.failed = failed  # called as failed(mailbox, error) when the listener raises
        self.pending: deque[Any] = deque()
        self.busy = False  # a delivery task is on this mailbox
        self._closed = False
        self._in_hand = 0  # 1 while the listener is being called with a record
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    def post(self, record: Any) -> None:
        self.pending.append(record)
        if not self.busy:
            self.wake()

    def wake(self) -> None:
        """Start a delivery task unless one is on this mailbox already."""
        with self._lock:
            if self.busy or self._closed:
                return
            self.busy = True
            self.idle.clear()
        try:
            shared_threads.get(LISTENER_THREADS, _PREFIX, _IDLE).dispatch(self._deliver)
        except RuntimeError:  # the pools were shut down meanwhile (%unload_ext): a new one
            shared_threads.get(LISTENER_THREADS, _PREFIX, _IDLE).dispatch(self._deliver)

    @property
    def waiting(self) -> int:
        """Records the listener has not finished with."""
        return len(self.pending) + self._in_hand

    def close(self) -> None:
        """Deliver nothing more. Records still waiting are dropped by the delivery task (only
        it takes from the deque, so a remove from another thread never races its pop)."""
        self._closed = True
        if not self.busy:
            self.pending.clear()

    def _deliver(self) -> None:
        listener, pending = self.listener, self.pending
        while True:
            count = len(pending)
            if count and not self._closed:
                self._in_hand = 1
                try:
                    for _ in range(count):  # only this task pops: `count` records are there
                        listener(pending.popleft())
                        if self._closed:  # removed meanwhile, perhaps by itself
                            break
                except BaseException as error:  # even SystemExit: it has no one to reach here
                    self.close()
                    self.failed(self, error)
                self._in_hand = 0
                continue
            with self._lock:
                self.busy = False
                if self._closed:
                    pending.clear()
                if not pending:
                    self.idle.set()
                    return
                self.busy = True  # a record came as we were leaving: stay for it
