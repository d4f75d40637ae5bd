"""Where events defined with `EventBase` or `@event` are found by name when no mapping is given.

Definitions are kept per module, so a pipeline can prefer its own module's event over a
same-named one elsewhere; within a module the latest definition wins (a notebook redefines
events all the time). Definitions are held strongly: an event defined inline is never dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any


class EventRegistry:
    __slots__ = ("_by_module", "_events", "_lock")

    def __init__(self) -> None:
        self._events: dict[str, Any] = {}  # name -> latest definition anywhere
        self._by_module: dict[str, dict[str, Any]] = {}  # name -> {module: latest there}
        self._lock = threading.Lock()

    def register(self, name: str, event: Any) -> None:
        module = getattr(event, "__module__", None) or "?"
        with self._lock:
            self._events[name] = event
            per_module = self._by_module.setdefault(name, {})
            per_module.pop(module, None)  # re-inserting keeps the dict in definition order
            per_module[module] = event

    def unregister(self, name: str) -> None:
        with self._lock:
            self._events.pop(name, None)
            self._by_module.pop(name, None)

    def snapshot(self) -> dict[str, Any]:
        """The latest definition of every name."""
        with self._lock:
            return dict(self._events)

    def for_module(
        self, names: Iterable[str], home: str
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """What a pipeline of module `home` starts from, under one lock: the latest definition of
        every name, with `home`'s own where it has one; and, for each of `names` that `home`
        does not define, the modules that do (oldest first, maybe none)."""
        with self._lock:
            chosen = dict(self._events)
            elsewhere: dict[str, list[str]] = {}
            by_module = self._by_module
            for name in names:
                per_module = by_module.get(name)
                if per_module is not None and home in per_module:
                    chosen[name] = per_module[home]
                else:
                    elsewhere[name] = list(per_module or ())
        return chosen, elsewhere

    def definitions(self, name: str) -> dict[str, Any]:
        """{module: latest definition there} for `name`, oldest module first."""
        with self._lock:
            return dict(self._by_module.get(name, ()))


default_registry = EventRegistry()
"""Definitions seen so far in this interpreter; a `Pipeline` given `events=` ignores it."""
