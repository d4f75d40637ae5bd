"""The run's record stream: one `Record` per state change, fanned out to listeners.

Signals, telemetry, the widget and run history are all listeners. A listener that raises is
reported once (a warning naming it) and detached; the error never reaches the run.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple


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


Listener = Callable[[Record], object]


class ListenerFailedWarning(RuntimeWarning):
    """A record listener raised; it was detached and the run went on."""


class RecordStream:
    """Keeps a run's records in order and hands each to the listeners attached at the time."""

    __slots__ = ("_listeners", "records")

    def __init__(self, listeners: list[Listener] | tuple[Listener, ...] = ()) -> None:
        self.records: list[Record] = []
        self._listeners: tuple[Listener, ...] = tuple(listeners)

    def add_listener(self, listener: Listener) -> None:
        # Copy-on-write: the loop thread iterates the tuple it read, never a list being changed.
        if listener not in self._listeners:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners = tuple(item for item in self._listeners if item != listener)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return self._listeners

    def emit(self, record: Record) -> None:
        self.records.append(record)
        for listener in self._listeners:
            try:
                listener(record)
            except Exception as error:  # a listener must never break the run
                self.remove_listener(listener)
                warnings.warn(
                    f"record listener {_describe(listener)} raised {type(error).__name__}: "
                    f"{error}; it was detached and the run went on",
                    ListenerFailedWarning,
                    stacklevel=2,
                )


def _describe(listener: Listener) -> str:
    name = getattr(listener, "__qualname__", None) or type(listener).__qualname__
    return repr(name)
