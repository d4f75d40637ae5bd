"""The process's telemetry: a bounded list of the runs it has seen. Importing it imports no pandas.

Collection is off in a plain script until `monitor_events()` (and on once `%load_ext
pointy_jupyter` ran). When on, the store is a run observer: for each run it keeps a reference to
the run's own record list and network operations, with its name and tags, never the `Run` (so
values are not kept alive). That costs one small object per run and nothing per record. The last
`limit` runs are kept (default `DEFAULT_LIMIT`); an older one is exported first when an export
directory is set (Parquet when pyarrow is installed, else CSV), then dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..observers import RunObservers, run_observers
from ..records import Record

if TYPE_CHECKING:
    from ..graph import Graph
    from ..run import Run
    from .publishers.base import MetricsPublisher
    from .publishers.dispatch import Dispatcher

DEFAULT_LIMIT = 1_000


class RunEntry:
    """What telemetry keeps of one run."""

    __slots__ = ("graph", "name", "network_ops", "records", "run_id", "tags")

    def __init__(self, run: Run) -> None:
        self.run_id: str = run.id
        self.name: str = run.name
        self.tags: dict[str, str] = dict(run.tags)
        self.records: list[Record] = run.stream.records  # the run's own list, not a copy
        self.network_ops: list[Any] = getattr(run, "network_ops", [])
        self.graph: Graph = run.graph  # immutable and shared by the runs of one flow

    @property
    def nodes(self) -> tuple[tuple[str, str], ...]:
        """(node id, event name) in graph order; worked out when read, not per run."""
        return tuple((node.id, node.name) for node in self.graph.nodes)


class TelemetryStore:
    """The last `limit` runs announced to it, oldest first, and the publishers that hear of them."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        observers: RunObservers = run_observers,
        export_dir: str | Path | None = None,
    ) -> None:
        self._entries: deque[RunEntry] = deque()
        self._lock = threading.Lock()
        self._observers = observers
        self.limit = limit
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self._dispatcher: Dispatcher | None = None

    # ----- collection -------------------------------------------------------------------

    @property
    def collecting(self) -> bool:
        return self.observe in self._observers

    def start(
        self,
        publishers: Iterable[MetricsPublisher] | None = None,
        interval: float | None = None,
    ) -> None:
        """Collect every run from now on (a no-op when already on); add `publishers`.

        Publishers are fed every `interval` seconds (default 1.0) from the records kept here,
        and at once on `flush()`; a run never waits on them.
        """
        publishers = list(publishers or ())
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0
        ):
            raise ValueError(
                f"monitor_events: interval must be a positive number of seconds, not {interval!r}"
            )
        if publishers:
            if self._dispatcher is None:
                from .publishers.dispatch import DEFAULT_INTERVAL, Dispatcher

                self._dispatcher = Dispatcher(interval or DEFAULT_INTERVAL)
            elif interval is not None:
                self._dispatcher.interval = interval
            self._dispatcher.add(publishers)
        self._observers.add(self.observe)

    def stop(self) -> None:
        """Stop collecting; publishers get what was already recorded, then their thread ends."""
        self._observers.remove(self.observe)
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            dispatcher.close()

    def observe(self, run: Run) -> None:
        entry = RunEntry(run)
        with self._lock:
            self._entries.append(entry)
            evicted = []
            while len(self._entries) > self.limit:
                evicted.append(self._entries.popleft())
        if evicted and self.export_dir is not None:
            from .frames import export_runs

            export_runs(evicted, self.export_dir)
        if self._dispatcher is not None:
            self._dispatcher.follow(run, entry)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the publishers have been handed every record kept so far."""
        return self._dispatcher.flush(timeout) if self._dispatcher is not None else True

    @property
    def publisher_failures(self) -> dict[str, int]:
        """Failed publish calls, by publisher name."""
        return dict(self._dispatcher.failures) if self._dispatcher is not None else {}

    # ----- reading ----------------------------------------------------------------------

    def entries(self) -> list[RunEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# The process's store: what `monitor_events()`, `metrics()` and `%pointy runs` use.
telemetry_store = TelemetryStore()
