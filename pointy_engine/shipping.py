"""An event pickled once per batch run, not once per batch; unpickled once per worker.

By value, an event travels with the globals it reads: a notebook's lookup table or model goes
with every attempt (a 9 MB list of floats: ~50 ms to pickle here, ~100 ms to unpickle). A batch
run of 100 batches would pickle it 100 times in the kernel and unpickle it 100 times on two
workers. Inside `shipping_once(batch_id)` (a batch run starts its runs in it; their loop threads
inherit it with their context), `invoke.pack` sends a `ShippedEvent`: the event's bytes made
once by the batch run's `Shipments`, sent as they are; the worker keeps what it unpickled for
the events of the latest batch run it served (`arrived`). A new batch run pickles anew, so a
redefined event or a changed global takes effect on the next batch run, as it would in a cell.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple


class ShippedEvent(NamedTuple):
    """What travels in place of the event: its batch run, its number there, its pickle."""

    batch: str
    key: int
    blob: bytes


class Shipments:
    """The events one batch run sent, pickled the first time each is sent."""

    def __init__(self, batch: str) -> None:
        self.batch = batch
        self._sent: dict[int, tuple[Any, ShippedEvent]] = {}  # id(event) -> (event, shipped)
        self._keys = itertools.count()
        self._lock = threading.Lock()

    def ship(self, event: Any, dumps: Callable[[], bytes]) -> ShippedEvent:
        """`event` as sent, `dumps()` making its bytes the first time (it may raise)."""
        entry = self._sent.get(id(event))
        if entry is not None and entry[0] is event:
            return entry[1]
        with self._lock:  # batches start together: the first pickles, the others wait for it
            entry = self._sent.get(id(event))
            if entry is not None and entry[0] is event:
                return entry[1]
            shipped = ShippedEvent(self.batch, next(self._keys), dumps())
            self._sent[id(event)] = (event, shipped)  # the event is kept: its id stays its own
            return shipped


_current: contextvars.ContextVar[Shipments | None] = contextvars.ContextVar(
    "pointy_shipments", default=None
)


def current() -> Shipments | None:
    """The batch run's shipments when called inside `shipping_once`."""
    return _current.get()


@contextmanager
def shipping_once(batch: str) -> Iterator[Shipments]:
    """Threads started inside the block (with a copy of its context) ship events once."""
    token = _current.set(Shipments(batch))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


class _Arrivals:
    """Worker side: the events of the latest batch run this process served, unpickled once.
    Only one batch run's: a kept worker must not hold old events' globals for good."""

    def __init__(self) -> None:
        self._batch = ""
        self._events: dict[int, Any] = {}
        self._lock = threading.Lock()  # a Dask worker runs tasks on several threads

    def event(self, shipped: ShippedEvent, loads: Callable[[bytes], Any]) -> Any:
        with self._lock:
            if shipped.batch != self._batch:
                self._batch, self._events = shipped.batch, {}
            event = self._events.get(shipped.key)
        if event is None:
            event = loads(shipped.blob)
            with self._lock:
                if shipped.batch == self._batch:
                    self._events[shipped.key] = event
        return event


_arrivals = _Arrivals()


def arrived(target: Any, loads: Callable[[bytes], Any]) -> Any:
    """The event itself, from what `pack` sent: a `ShippedEvent` or the event."""
    if type(target) is ShippedEvent:
        return _arrivals.event(target, loads)
    return target
