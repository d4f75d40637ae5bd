"""Large values that stay on the Dask cluster between events (see `pointy_engine.remote`).

A worker whose event returns more than the executor's `keep_over` bytes keeps the value in
the task's result (`Kept`) and sends back only the rest of the attempt. The run holds a
`ClusterValue`: the Dask future of that result. The next event on the same cluster gets a
`ClusterRef` in the value's place and the future as a task dependency, so Dask moves the value
worker to worker (or not at all); anything else fetches it through the future.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from .errors import PointyError
from .network import NetworkOp
from .remote import RemoteValue


class Kept(NamedTuple):
    """A task's result on a worker: the attempt without its value, and the value."""

    address: str
    attempt: bytes  # the pickled Attempt, its value left out
    value: Any
    nbytes: int  # size of the value as it was pickled


def head_of(kept: Kept) -> tuple[str, bytes, int]:
    """Runs on the worker holding `kept`: everything but the value, and the value's size."""
    return kept.address, kept.attempt, kept.nbytes


_resolving = threading.local()  # on a worker, while a task unpickles its payload


def resolving(values: dict[str, Any] | None) -> None:
    _resolving.values = values


class ClusterRef:
    """Stands for a cluster value inside a payload; a worker swaps in the value itself."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return _resolve, (self.key,)


def _resolve(key: str) -> Any:
    values = getattr(_resolving, "values", None) or {}
    if key not in values:
        raise PointyError(f"the cluster value {key} was not sent with this task")
    return values[key]


class ClusterValue(RemoteValue):
    """A value kept on a Dask cluster: `fetch()` brings it here (once), `nbytes`, `address`."""

    __slots__ = ("_call", "_executor", "_lock", "_value", "address", "future", "nbytes")

    def __init__(self, future: Any, executor: Any, nbytes: int, address: str, call: Any) -> None:
        self.future = future
        self.nbytes = nbytes
        self.address = address
        self._executor = executor
        self._call = call  # the _Call that made it: the run and node the fetch is recorded on
        self._value: Any = _MISSING
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ClusterValue {_human(self.nbytes)} on {self.address}>"

    @property
    def key(self) -> str:
        return str(self.future.key)

    def fetch(self) -> Any:
        with self._lock:
            if self._value is _MISSING:
                started = time.time()
                problem = None
                try:
                    self._value = self.future.result().value
                except Exception as error:
                    problem = f"{type(error).__name__}: {error}"
                    raise self._gone(f"{type(error).__name__}: {error}") from None
                finally:
                    self._record(started, problem)
            return self._value

    def for_executor(self, pool: Any) -> Any:
        if self._value is _MISSING and self._executor.same_cluster(pool):
            if self.future.status != "finished":  # cancelled, lost with its worker, released
                raise self._gone(f"its Dask future is {self.future.status}")
            pool.expect(self)
            return ClusterRef(self.key)
        return self.fetch()

    def _gone(self, reason: Any) -> PointyError:
        return PointyError(
            f"the value of {self._call.node or 'an event'!r} kept on the Dask worker "
            f"{self.address} cannot be fetched: {reason}"
        )

    def _record(self, started: float, problem: str | None) -> None:
        call = self._call
        run = call.run
        if run is None:
            return
        received = 0 if problem else self.nbytes
        run.network_ops.append(
            NetworkOp(
                run.id,
                call.node,
                call.event,
                call.attempt,
                "fetch",
                self.address,
                0,
                received,
                time.time() - started,
                started,
                problem,
            )
        )


_MISSING = object()


def _human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"  # pragma: no cover
