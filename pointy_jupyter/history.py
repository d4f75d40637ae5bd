"""The kernel's runs, for `%pointy runs`: folded from the record stream, one row per run.

A `HistoryListener` is attached to every run a cell starts; re-runs inherit it (the engine copies
a run's listeners), so re-runs made from the widget or with `run.rerun(...)` are listed too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_RUNS = 1_000  # the oldest rows are dropped beyond this
COLUMNS = ("run", "status", "started", "duration", "nodes", "failed", "pipeline")


@dataclass
class _Row:
    run: str
    pipeline: str
    nodes: int
    status: str = "running"
    started: float | None = None
    finished: float | None = None
    states: dict[str, str] = field(default_factory=dict)


def first_line(source: str) -> str:
    """The first line of a pipeline that is not blank or a comment."""
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text
    return ""


class RunHistory:
    """Rows by run id, in the order runs started. Listeners write from loop threads."""

    def __init__(self, limit: int = MAX_RUNS) -> None:
        self._rows: OrderedDict[str, _Row] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def listener(self, source: str, node_count: int) -> HistoryListener:
        return HistoryListener(self, first_line(source), node_count)

    def record(self, record: Any, pipeline: str, node_count: int) -> None:
        with self._lock:
            row = self._rows.get(record.run_id)
            if row is None:
                row = self._rows[record.run_id] = _Row(record.run_id, pipeline, node_count)
                while len(self._rows) > self._limit:
                    self._rows.popitem(last=False)
            if record.node:
                row.states[record.node] = record.state
            elif record.state == "running":
                row.started = record.time
            else:
                row.status = record.state
                row.finished = record.time

    def frame(self) -> Any:
        """A pandas DataFrame: run, status, started, duration (s), nodes, failed, pipeline."""
        import pandas as pd

        with self._lock:
            rows = [
                {
                    "run": row.run,
                    "status": row.status,
                    "started": _when(row.started),
                    "duration": _duration(row),
                    "nodes": max(row.nodes, len(row.states)),
                    "failed": sum(1 for state in row.states.values() if state == "failed"),
                    "pipeline": row.pipeline,
                }
                for row in self._rows.values()
            ]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame["started"] = pd.to_datetime(frame["started"])
        return frame.astype({"duration": "float64", "nodes": "int64", "failed": "int64"})


class HistoryListener:
    """The record listener of one cell's runs (and their re-runs)."""

    def __init__(self, history: RunHistory, pipeline: str, node_count: int) -> None:
        self.history = history
        self.pipeline = pipeline
        self.node_count = node_count

    def __call__(self, record: Any) -> None:
        self.history.record(record, self.pipeline, self.node_count)


def _when(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds) if seconds is not None else None


def _duration(row: _Row) -> float | None:
    if row.started is None or row.finished is None:
        return None
    return round(row.finished - row.started, 6)
