"""The run's record stream: one `Record` per state change, fanned out to listeners.

Signals, telemetry, the widget and run history are all listeners. They are called off the run's
path (`pointy_engine.delivery`), so a slow or hung one never stalls the run. A listener that
raises is reported once (a warning naming it) and detached; the error never reaches the run.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

from .delivery import Mailbox


def trigger_of(tags: Mapping[str, str]) -> str:
    """What started a run, from its tags: cell, schedule, cli, rerun, or api (a plain start()).

    `%pointy runs`, the run history and `pointy history` all name it this way, so they agree.
    """
    return tags.get("trigger") or ("rerun" if "rerun_of" in tags else "api")


class ErrorInfo(NamedTuple):
    """A failure as plain data: exception type name, message, and formatted traceback."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorInfo:
        info = getattr(error, "info", None)
        if type(info) is cls:  # a RemoteError: describe the original exception
            return info
        text = getattr(error, "_pointy_traceback", None)  # formatted where it was raised
        if text is None:
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return cls(type(error).__name__, str(error), text)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class CacheOrigin(NamedTuple):
    """Where a `cached` node's value came from: what the event took, and when it ran then."""

    duration: float  # seconds the event body took when the value was computed
    computed: float  # wall-clock seconds (`time.time()`) when the value was stored


class Record(NamedTuple):
    """One state change of a run or of one of its nodes (see docs/design.md)."""

    run_id: str
    node: str
    event: str
    attempt: int
    state: str
    time: float
    worker: str
    error: ErrorInfo | None = None
    descriptor: int | None = None
    origin: CacheOrigin | None = None  # only on a `cached` record


Listener = Callable[[Record], object]


class ListenerFailedWarning(RuntimeWarning):
    """A record listener raised; it was detached and the run went on."""


class ListenerStalledWarning(RuntimeWarning):
    """A record listener was still busy when its run ended; the run stopped waiting for it."""


class RecordStream:
    """Keeps a run's records in order and hands each to the listeners attached at the time.

    Listeners are called off the emitting thread, each in order on its own (see
    `pointy_engine.delivery`): a slow listener never slows the run. `flush` waits until they
    have all had every record. Engine-internal listeners that must see a record before the run
    goes on (and are fast) attach with `on_loop=True` and are called right away.
    """

    __slots__ = ("_boxes", "_on_loop", "emit", "records")

    def __init__(self, listeners: list[Listener] | tuple[Listener, ...] = ()) -> None:
        self.records: list[Record] = []
        # Copy-on-write tuples: the emitting thread iterates the tuple it read, never one
        # being changed by another thread.
        self._boxes: tuple[Mailbox, ...] = ()
        self._on_loop: tuple[Listener, ...] = ()
        # `emit(record)`: with no listener, the list's own append (no Python call per record).
        self.emit: Callable[[Record], None] = self.records.append
        for listener in listeners:
            self.add_listener(listener)

    def add_listener(self, listener: Listener, *, on_loop: bool = False) -> None:
        if listener in self.listeners:
            return
        if on_loop:
            self._on_loop = (*self._on_loop, listener)
        else:
            self._boxes = (*self._boxes, Mailbox(listener, self._failed))
        self.emit = self._emit_to_listeners

    def remove_listener(self, listener: Listener) -> None:
        for box in self._boxes:
            if box.listener == listener:
                box.close()
        self._boxes = tuple(box for box in self._boxes if box.listener != listener)
        self._on_loop = tuple(item for item in self._on_loop if item != listener)
        # Listeners stay listeners for the stream's life: a fast path swapped back in while
        # another thread emits could skip a listener added at the same moment.

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The listeners called off the run's path, in the order they were added."""
        return tuple(box.listener for box in self._boxes)

    @property
    def loop_listeners(self) -> tuple[Listener, ...]:
        return self._on_loop

    def _emit_to_listeners(self, record: Record) -> None:
        self.records.append(record)
        for listener in self._on_loop:
            try:
                listener(record)
            except Exception as error:  # a listener must never break the run
                self.remove_listener(listener)
                _warn_failed(listener, error)
        for box in self._boxes:  # Mailbox.post, written out: it runs for every record
            box.pending.append(record)
            if not box.busy:
                box.wake()

    def flush(self, timeout: float | None) -> list[tuple[Listener, int]]:
        """Wait until every listener has had every record, `timeout` seconds at most in all.
        Returns the listeners still busy then, with how many records each has not finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for box in self._boxes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            box.idle.wait(left)
        return [(box.listener, box.waiting) for box in self._boxes if not box.idle.is_set()]

    def _failed(self, box: Mailbox, error: BaseException) -> None:
        self._boxes = tuple(item for item in self._boxes if item is not box)
        _warn_failed(box.listener, error)


def _warn_failed(listener: Listener, error: BaseException) -> None:
    warnings.warn(
        f"record listener {describe(listener)} raised {type(error).__name__}: "
        f"{error}; it was detached and the run went on",
        ListenerFailedWarning,
        stacklevel=3,
    )


def describe(listener: Listener) -> str:
    name = getattr(listener, "__qualname__", None) or type(listener).__qualname__
    return repr(name)
