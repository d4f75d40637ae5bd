"""Feeds publishers off the run's path: runs only enqueue records; one thread does the rest.

The listener attached to a run is the queue's own `put`, so a record costs the run one C call.
The thread takes what is queued in batches, turns finished attempts into `EventMetrics` (and a
finished run's network operations into `NetworkMetrics`), hands them to every publisher, then
calls `flush()`. A publisher that raises is counted per call and logged once, never retried
into the run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..attempts import FINISHED, Attempt, executor_of
from ..models import EventMetrics, NetworkMetrics
from .base import MetricsPublisher

if TYPE_CHECKING:
    from ...records import Record
    from ...run import Run
    from ..store import RunEntry

log = logging.getLogger("pointy_engine.telemetry")
BATCH = 1_000
_STOP = object()


class Dispatcher:
    def __init__(self) -> None:
        self.publishers: list[MetricsPublisher] = []
        self.failures: dict[str, int] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._runs: dict[str, RunEntry] = {}
        self._open: dict[str, dict[str, Record]] = {}  # run -> node -> its running record
        self._ended: dict[str, dict[str, float]] = {}  # run -> node -> end of its last attempt
        self._thread: threading.Thread | None = None

    def add(self, publishers: Iterable[MetricsPublisher]) -> None:
        for publisher in publishers:
            if publisher not in self.publishers:
                self.publishers = [*self.publishers, publisher]
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="pointy-telemetry", daemon=True)
            self._thread.start()

    def follow(self, run: Run, entry: RunEntry) -> None:
        self._queue.put(("run", entry))
        run.add_listener(self._queue.put)

    def flush(self, timeout: float | None = None) -> bool:
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        for publisher in self.publishers:
            errors: list[Exception] = []
            self._call(publisher, "close", errors)
            if errors:
                self._failed(publisher, errors[0])

    # ----- the publishing thread ----------------------------------------------------------

    def _work(self) -> None:
        get = self._queue.get
        while True:
            batch = [get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            waiting: list[threading.Event] = []
            events: list[EventMetrics] = []
            network: list[NetworkMetrics] = []
            ended: list[tuple[str, str, float]] = []
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                elif type(item) is tuple and item[0] == "run":
                    self._runs[item[1].run_id] = item[1]
                else:
                    self._take(item, events, network, ended)
            if events or network or ended:
                for publisher in self.publishers:
                    self._publish(publisher, events, network, ended)
            for done in waiting:
                done.set()
            if stop:
                return

    def _take(
        self,
        record: Record,
        events: list[EventMetrics],
        network: list[NetworkMetrics],
        ended: list[tuple[str, str, float]],
    ) -> None:
        run_id = record.run_id
        entry = self._runs.get(run_id)
        pipeline = entry.name if entry is not None else ""
        if not record.node:
            if record.state != "running":  # the run ended: its network calls are all in
                if entry is not None:
                    network.extend(NetworkMetrics.from_op(op) for op in list(entry.network_ops))
                ended.append((run_id, record.state, record.time))
                self._runs.pop(run_id, None)
                self._open.pop(run_id, None)
                self._ended.pop(run_id, None)
            return
        if record.attempt == 0:
            return
        if record.state == "running":
            self._open.setdefault(run_id, {})[record.node] = record
            return
        if record.state not in FINISHED:
            return
        start = self._open.get(run_id, {}).pop(record.node, None)
        if start is None:
            return  # a reused result or a stopped run's confirmation: nothing ran
        ended = self._ended.setdefault(run_id, {})
        previous = ended.get(record.node)
        ended[record.node] = record.time
        error = record.error
        attempt = Attempt(
            run_id, record.node, record.event, record.attempt, record.state, start.time,
            record.time, start.time - previous if previous is not None else 0.0,
            record.worker or start.worker, error.type if error else None,
            error.message if error else None, record.descriptor,
            "inline" if start.worker else executor_of(record.worker),
        )  # fmt: skip
        events.append(EventMetrics.from_attempt(attempt, pipeline))

    def _publish(
        self,
        publisher: MetricsPublisher,
        events: list[EventMetrics],
        network: list[NetworkMetrics],
        ended: list[tuple[str, str, float]],
    ) -> None:
        """Hand a batch to `publisher`; every call is tried, one failure is counted per batch."""
        errors: list[Exception] = []
        for metrics in events:
            self._call(publisher, "publish_event_metrics", errors, metrics)
        for metrics in network:
            self._call(publisher, "publish_network_metrics", errors, metrics)
        for run_end in ended:
            self._call(publisher, "end_run", errors, *run_end)
        self._call(publisher, "flush", errors)
        if errors:
            self._failed(publisher, errors[0])

    @staticmethod
    def _call(
        publisher: MetricsPublisher, method: str, errors: list[Exception], *args: Any
    ) -> None:
        try:
            getattr(publisher, method)(*args)
        except Exception as error:  # a publisher must never break telemetry or a run
            errors.append(error)

    def _failed(self, publisher: MetricsPublisher, error: Exception) -> None:
        name = type(publisher).__name__
        count = self.failures.get(name, 0)
        self.failures[name] = count + 1
        if count == 0:
            log.warning(
                "metrics publisher %s failed (%s: %s); its failures are counted in "
                "pointy_engine.telemetry.telemetry_store.publisher_failures and not logged again",
                name,
                type(error).__name__,
                error,
            )
