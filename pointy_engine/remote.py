"""Values that stay where an executor made them until something here needs them.

An executor may hand back a `RemoteValue` instead of a large value (the Dask executor does, so
50 MB never crosses the kernel between two events on one cluster). The run passes the handle on:
an event on the same executor gets a reference it can resolve there, anything else (another
executor, the run's own thread, the run's final value, pickling) gets the value itself.
"""

from __future__ import annotations

from typing import Any


class RemoteValue:
    """A handle to a value kept by an executor. Subclasses say how to fetch it and when not to."""

    __slots__ = ()

    def fetch(self) -> Any:
        """The value itself, brought here."""
        raise NotImplementedError

    def for_executor(self, pool: Any) -> Any:
        """What an event run by `pool` (None: the run's own thread) receives in its place."""
        return self.fetch()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for a process pool or the cache: the value travels, not the handle.
        return _same, (self.fetch(),)


def _same(value: Any) -> Any:
    return value


def for_executor(value: Any, pool: Any) -> Any:
    """`value` as an event on `pool` should receive it."""
    return value.for_executor(pool) if isinstance(value, RemoteValue) else value


def fetched(value: Any) -> Any:
    """`value` here, in this process; the handle itself if it cannot be fetched (its
    `fetch()` raises the reason), so the end of a run never fails on it."""
    if not isinstance(value, RemoteValue):
        return value
    try:
        return value.fetch()
    except Exception:
        return value
