"""Where events defined with `EventBase` or `@event` are found by name when no mapping is given.

A notebook redefines events all the time, so the latest definition of a name wins (and is held
strongly: an event defined inline is never silently dropped).
"""

from __future__ import annotations

import threading
from typing import Any


class EventRegistry:
    __slots__ = ("_events", "_lock")

    def __init__(self) -> None:
        self._events: dict[str, Any] = {}
        self._lock = threading.Lock()

    def register(self, name: str, event: Any) -> None:
        with self._lock:
            self._events[name] = event

    def unregister(self, name: str) -> None:
        with self._lock:
            self._events.pop(name, None)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._events)


default_registry = EventRegistry()
"""Definitions seen so far in this interpreter; a `Pipeline` given `events=` ignores it."""
