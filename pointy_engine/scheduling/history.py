"""Run history: every finished run, one row each, in an embedded SQLite file.

`RunHistory` is a run observer: it attaches a listener to each run's record stream and, when the
run's last record arrives, hands a row to its writer thread, which commits it in one transaction.
The run never waits on the disk. The file is in WAL mode, so a process killed mid-write leaves
every committed run readable; other processes read it at the same time.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import trigger_of

if TYPE_CHECKING:
    import pandas

    from ..records import Record
    from ..run import Run

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
COLUMNS = ("run_id", "pipeline", "trigger", "job", "started", "ended", "status", "nodes", "error")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id   TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    trigger  TEXT NOT NULL,
    job      TEXT,
    started  REAL NOT NULL,
    ended    REAL,
    status   TEXT NOT NULL,
    nodes    TEXT NOT NULL,
    error    TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
"""
_STOP = object()


def default_history_path() -> Path:
    """`POINTY_HISTORY` if set, else `history.sqlite3` in the user data dir (platformdirs)."""
    import os

    given = os.environ.get("POINTY_HISTORY")
    if given:
        return Path(given)
    from platformdirs import user_data_path

    return user_data_path("pointy", appauthor=False) / "history.sqlite3"


def connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a crash
    connection.executescript(_SCHEMA)
    return connection


def _error_of(run: Run) -> str | None:
    errors = run.errors
    if errors:
        node, info = next(iter(errors.items()))
        return f"{node}: {info}"
    last = run.stream.records[-1] if run.stream.records else None
    if last is not None and last.error is not None:
        return str(last.error)
    return None


def row_of(run: Run, started: float, ended: float) -> tuple[Any, ...]:
    nodes = {
        key: {"state": result.state, "attempts": result.attempts, "duration": result.duration}
        for key, result in run.nodes.items()
    }
    for key, result in run.nodes.items():
        if result.state == "cached":  # not a run of the event: its duration is from then
            nodes[key]["computed"] = result.cached_at
    return (
        run.id,
        run.name or "",
        trigger_of(run.tags),
        run.tags.get("job"),
        started,
        ended,
        run.status,
        json.dumps(nodes),
        _error_of(run),
    )


class RunHistory:
    """The history file and its writer. `history.observe` is the run observer to register."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        self._connection = connect(self.path)  # created now, so a bad path fails here
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # ----- writing ------------------------------------------------------------------------

    def observe(self, run: Run) -> None:
        """Run observer: keep `run` in the history when it ends."""
        started: list[float] = []

        def listener(record: Record) -> None:
            # A re-run inherits its run's listeners; it is announced and kept on its own.
            if record.node or record.run_id != run.id:
                return
            if not started:
                started.append(record.time)
            if record.state in FINAL_STATES:
                self._put(row_of(run, started[0], record.time))

        # On the run's loop: a check per record, and at the end a row handed to the writer
        # thread. Off the loop, every run would wait at its end for a listener thread to wake
        # and finish (1-3 ms a kernel cell on a busy 2-core machine, the most of a short run).
        run.add_listener(listener, on_loop=True)

    def record_skipped(self, pipeline: str, job: str, when: float, reason: str) -> None:
        """A scheduled run that did not start (its previous run was still going)."""
        import uuid

        run_id = uuid.uuid4().hex[:12]
        self._put((run_id, pipeline, "schedule", job, when, when, "skipped", "{}", reason))

    def _put(self, row: tuple[Any, ...]) -> None:
        with self._lock:
            if self._closed:  # a run that outlived close(): written on its own, still kept
                connection = connect(self.path)
                try:
                    self._write(connection, row)
                finally:
                    connection.close()
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="pointy-history-writer", daemon=True
                )
                self._thread.start()
        self._queue.put(row)

    def _write_loop(self) -> None:
        while True:
            row = self._queue.get()
            if row is _STOP:
                return
            if isinstance(row, threading.Event):  # flush(): everything before it is written
                row.set()
                continue
            self._write(self._connection, row)

    def _write(self, connection: sqlite3.Connection, row: tuple[Any, ...]) -> None:
        try:
            with connection:  # one transaction: the row is there whole or not at all
                connection.execute(
                    f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(COLUMNS))})", row
                )
        except sqlite3.Error as error:  # history must never break runs
            import warnings

            warnings.warn(f"run history {self.path}: {error}", RuntimeWarning, stacklevel=1)

    def flush(self, timeout: float = 10) -> None:
        """Wait until every run handed over so far is committed."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, stop the writer thread and close the file."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._closed = True
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
        self._connection.close()

    # ----- reading ------------------------------------------------------------------------

    def rows(self, limit: int | None = None) -> list[tuple[Any, ...]]:
        return read_rows(self.path, limit)

    def frame(self, limit: int | None = None) -> pandas.DataFrame:
        return history_frame(self.path, limit)


def read_rows(path: str | Path, limit: int | None = None) -> list[tuple[Any, ...]]:
    """The newest runs first (all of them, or the last `limit`), from any process."""
    connection = connect(path)
    try:
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY started DESC, rowid DESC"
        if limit is not None:
            return connection.execute(sql + " LIMIT ?", (limit,)).fetchall()
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def history_frame(path: str | Path, limit: int | None = None) -> pandas.DataFrame:
    """The history as a DataFrame: times as timezone-aware datetimes, duration in seconds."""
    import pandas

    frame = pandas.DataFrame(read_rows(path, limit), columns=list(COLUMNS))
    frame["started"] = pandas.to_datetime(frame["started"], unit="s", utc=True)
    frame["ended"] = pandas.to_datetime(frame["ended"], unit="s", utc=True)
    frame.insert(6, "duration", (frame["ended"] - frame["started"]).dt.total_seconds())
    frame["nodes"] = [json.loads(text) for text in frame["nodes"]]
    for column in ("run_id", "pipeline", "trigger", "job", "status", "error"):
        frame[column] = frame[column].astype("string")
    return frame
