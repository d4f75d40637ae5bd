"""Feeds publishers off the run's path: a run pays nothing per record for being published.

The store already keeps each run's own record list. The publishing thread reads what was added
to those lists since its last pass, every `interval` seconds (and at once on `flush()`), turns
finished attempts into `EventMetrics` (and a finished run's network operations into
`NetworkMetrics`), hands them to every publisher in batches, then calls `flush()`. No listener
is attached to the run, so the loop thread never waits on telemetry; a run shorter than
`interval` is left alone until it ended, a longer one is published every `interval` as it
runs. A publisher that raises is counted per batch and logged once, never retried into it.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..attempts import FINISHED, executor_of
from ..models import EventMetrics, NetworkMetrics, process_id
from .base import MetricsPublisher

if TYPE_CHECKING:
    from ...records import Record
    from ...run import Run
    from ..store import RunEntry

log = logging.getLogger("pointy_engine.telemetry")
BATCH = 1_000
DEFAULT_INTERVAL = 1.0  # seconds between passes: how stale a scraped metric can be


class _Followed:
    """A run being published: how far its record list was read, and its open attempts."""

    __slots__ = ("cursor", "ended", "entry", "open", "run", "since")

    def __init__(self, run: Run, entry: RunEntry) -> None:
        self.entry = entry
        self.since = time.monotonic()
        self.run = weakref.ref(run)  # a run dropped before it ended is let go, not polled forever
        self.cursor = 0
        self.open: dict[str, Record] = {}  # node -> its running record
        self.ended: dict[str, float] = {}  # node -> end of its last attempt


def _finished(records: list[Record]) -> bool:
    """Whether the run's last record is its end (a run-level record other than running)."""
    if not records:
        return False
    last = records[-1]
    return not last.node and last.state != "running"


def _cache_hit(record: Record, pipeline: str) -> EventMetrics:
    """A node taken from the cache: its own state, no start and no duration (nothing ran)."""
    origin = record.origin
    return EventMetrics(
        record.event, record.node, None, record.time, "cached", None, 0, None, record.run_id,
        pipeline, 0, 0.0, record.worker, "",
        origin.duration if origin else None, origin.computed if origin else None,
    )  # fmt: skip


class Dispatcher:
    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self.publishers: list[MetricsPublisher] = []
        self.failures: dict[str, int] = {}
        self._lock = threading.Lock()  # guards the hand-over lists below, never a run
        self._incoming: list[_Followed] = []
        self._waiting: list[threading.Event] = []
        self._stopping = False
        self._wake = threading.Event()
        self._followed: list[_Followed] = []  # the publishing thread's own
        self._thread: threading.Thread | None = None

    def add(self, publishers: Iterable[MetricsPublisher]) -> None:
        for publisher in publishers:
            if publisher not in self.publishers:
                self.publishers = [*self.publishers, publisher]
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name="pointy-telemetry", daemon=True)
            self._thread.start()

    def follow(self, run: Run, entry: RunEntry) -> None:
        with self._lock:
            self._incoming.append(_Followed(run, entry))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until a pass has handed the publishers every record recorded so far."""
        if self._thread is None:
            return True
        done = threading.Event()
        with self._lock:
            self._waiting.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        """A last pass, then the thread ends and every publisher is closed."""
        if self._thread is not None:
            with self._lock:
                self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None
        for publisher in self.publishers:
            errors: list[Exception] = []
            self._call(publisher, "close", errors)
            if errors:
                self._failed(publisher, errors[0])

    # ----- the publishing thread ----------------------------------------------------------

    def _work(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                self._followed.extend(self._incoming)
                self._incoming = []
                waiting, self._waiting = self._waiting, []
                stopping = self._stopping
            self._pass(everything=bool(waiting) or stopping)
            for done in waiting:
                done.set()
            if stopping:
                return

    def _pass(self, everything: bool) -> None:
        """Publish what was recorded since the last pass.

        A run that is still running and began less than `interval` ago waits for the next pass
        (unless `everything`, on flush and close): a run shorter than the interval is published
        after it ended, never sharing the interpreter with this thread while it runs.
        """
        events: list[EventMetrics] = []
        network: list[NetworkMetrics] = []
        ended: list[tuple[str, str, float]] = []
        still: list[_Followed] = []
        young = time.monotonic() - self.interval
        for followed in self._followed:
            records = followed.entry.records
            if not everything and followed.since > young and not _finished(records):
                still.append(followed)
                continue
            end = len(records)  # the loop thread only appends: this prefix is complete
            new = records[followed.cursor : end]
            followed.cursor = end
            finished = False
            for record in new:
                finished |= self._take(followed, record, events, network, ended)
                if len(events) >= BATCH:
                    self._publish_all(events, network, ended)
                    events, network, ended = [], [], []
            if not finished and (new or followed.run() is not None):
                still.append(followed)
        self._followed = still
        if events or network or ended:
            self._publish_all(events, network, ended)

    def _take(
        self,
        followed: _Followed,
        record: Record,
        events: list[EventMetrics],
        network: list[NetworkMetrics],
        ended: list[tuple[str, str, float]],
    ) -> bool:
        """Turn one record into metrics; True when it ends the run."""
        entry = followed.entry
        if not record.node:
            if record.state == "running":
                return False
            # The run ended: its network calls are all in.
            network.extend(NetworkMetrics.from_op(op) for op in list(entry.network_ops))
            ended.append((record.run_id, record.state, record.time))
            return True
        if record.state == "cached":
            events.append(_cache_hit(record, entry.name))
            return False
        if record.attempt == 0:
            return False
        if record.state == "running":
            followed.open[record.node] = record
            return False
        if record.state not in FINISHED:
            return False
        start = followed.open.pop(record.node, None)
        if start is None:
            return False  # a reused result or a stopped run's confirmation: nothing ran
        previous = followed.ended.get(record.node)
        followed.ended[record.node] = record.time
        error = record.error
        worker = record.worker or start.worker
        executor = "inline" if start.worker else executor_of(worker)
        # Built field by field, not through an Attempt: this runs once per attempt published.
        events.append(
            EventMetrics(
                record.event, record.node, start.time, record.time, record.state,
                f"{error.type}: {error.message}" if error and error.message
                else (error.type if error else None),
                record.attempt - 1, process_id(worker, executor), record.run_id, entry.name,
                record.attempt, start.time - previous if previous is not None else 0.0,
                worker, executor,
            )
        )  # fmt: skip
        return False

    def _publish_all(
        self,
        events: list[EventMetrics],
        network: list[NetworkMetrics],
        ended: list[tuple[str, str, float]],
    ) -> None:
        for publisher in self.publishers:
            self._publish(publisher, events, network, ended)

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
