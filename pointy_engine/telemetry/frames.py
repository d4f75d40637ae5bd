"""Telemetry as pandas DataFrames: typed columns, one row per attempt, node, run or network call.

pandas is imported here, when a frame is first asked for, never by the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import trigger_of
from .attempts import fold_attempts, fold_nodes

if TYPE_CHECKING:
    import pandas as pd

    from .store import RunEntry

NODE_STATES = ("pending", "running", "retrying", "succeeded", "failed", "skipped", "cancelled")
NODE_STATES += ("cached",)  # taken from the cache: a row of its own, not a run of the event
RUN_STATES = ("pending", "running", "succeeded", "failed", "cancelled")
EXECUTORS = ("inline", "thread", "process", "dask", "")

METRICS_COLUMNS = (
    "run_id", "pipeline", "node", "event", "attempt", "state", "start", "end", "duration",
    "wait", "worker", "executor", "error_type", "error_message",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "run_id", "pipeline", "node", "event", "state", "attempts", "total_duration",
    "last_duration", "arm", "value_type", "value_size",
)  # fmt: skip
RUNS_COLUMNS = ("run", "status", "started", "duration", "nodes", "failed", "pipeline", "trigger")
NETWORK_COLUMNS = (
    "run_id", "node", "event", "attempt", "operation", "address", "bytes_sent",
    "bytes_received", "latency", "started", "error",
)  # fmt: skip


def _pd() -> Any:
    import pandas

    return pandas


def _text(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    for column in columns:
        frame[column] = frame[column].astype("string")


def _times(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    pd = _pd()
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)


def _category(frame: pd.DataFrame, column: str, values: Sequence[str]) -> None:
    frame[column] = _pd().Categorical(frame[column], categories=list(values))


def metrics_frame(entries: Iterable[RunEntry]) -> pd.DataFrame:
    """One row per attempt of every node of `entries`, in the order the attempts started."""
    rows = []
    for entry in entries:
        for a in fold_attempts(list(entry.records)):
            rows.append(
                (
                    a.run_id, entry.name, a.node, a.event, a.attempt, a.state, a.started,
                    a.finished, a.duration, a.wait, a.worker, a.executor, a.error_type,
                    a.error_message,
                )
            )  # fmt: skip
    frame = _pd().DataFrame.from_records(rows, columns=list(METRICS_COLUMNS))
    frame = frame.astype({"attempt": "int64", "duration": "float64", "wait": "float64"})
    _text(frame, ("run_id", "pipeline", "node", "event", "worker", "error_type", "error_message"))
    _category(frame, "state", NODE_STATES)
    _category(frame, "executor", EXECUTORS)
    _times(frame, ("start", "end"))
    return frame


def summary_frame(
    entries: Iterable[RunEntry], values: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """One row per node: final state, attempts, total and last duration (s), the arm it took.

    `values` (node id -> value, for one run) fills value type and size; the store keeps none.
    """
    rows = []
    for entry in entries:
        for n in fold_nodes(list(entry.records), entry.nodes):
            value_type = value_size = None
            if values is not None and n.node in values:
                value = values[n.node]
                value_type = type(value).__name__
                value_size = _size(value)
            rows.append(
                (
                    entry.run_id, entry.name, n.node, n.event, n.state, n.attempts,
                    n.total_duration, n.last_duration, n.descriptor, value_type, value_size,
                )
            )  # fmt: skip
    frame = _pd().DataFrame.from_records(rows, columns=list(SUMMARY_COLUMNS))
    frame = frame.astype(
        {
            "attempts": "int64",
            "total_duration": "float64",
            "last_duration": "float64",
            "arm": "Int64",
            "value_size": "Int64",
        }
    )
    _text(frame, ("run_id", "pipeline", "node", "event", "value_type"))
    _category(frame, "state", NODE_STATES)
    return frame


def _size(value: Any) -> int | None:
    """len() where it is cheap and defined; None otherwise."""
    try:
        return len(value)
    except Exception:  # no len, or a len that raises: size unknown
        return None


def runs_frame(entries: Iterable[RunEntry]) -> pd.DataFrame:
    """One row per run: status, start, duration (s), node count, failed nodes, name, trigger."""
    rows = []
    for entry in entries:
        records = list(entry.records)
        started = finished = None
        status = "pending"
        states: dict[str, str] = {}
        for record in records:
            if record.node:
                states[record.node] = record.state
            elif record.state == "running":
                started, status = record.time, "running"
            else:
                finished, status = record.time, record.state
        duration = finished - started if started is not None and finished is not None else None
        failed = sum(1 for state in states.values() if state == "failed")
        trigger = trigger_of(entry.tags)
        rows.append(
            (
                entry.run_id,
                status,
                started,
                duration,
                len(entry.graph.nodes),
                failed,
                entry.name,
                trigger,
            )
        )
    frame = _pd().DataFrame.from_records(rows, columns=list(RUNS_COLUMNS))
    frame = frame.astype({"duration": "float64", "nodes": "int64", "failed": "int64"})
    _text(frame, ("run", "pipeline", "trigger"))
    _category(frame, "status", RUN_STATES)
    _times(frame, ("started",))
    return frame


def network_frame(entries: Iterable[RunEntry]) -> pd.DataFrame:
    """One row per network operation (see pointy_engine.network.NetworkOp); latency in seconds."""
    rows = [tuple(op) for entry in entries for op in list(entry.network_ops)]
    frame = _pd().DataFrame.from_records(rows, columns=list(NETWORK_COLUMNS))
    frame = frame.astype(
        {"attempt": "int64", "bytes_sent": "int64", "bytes_received": "int64", "latency": "float64"}
    )
    _text(frame, ("run_id", "node", "event", "operation", "address", "error"))
    _times(frame, ("started",))
    return frame


def export_runs(entries: Sequence[RunEntry], directory: Path) -> Path:
    """Write the attempts of `entries` to one file in `directory`: Parquet if pyarrow is there."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = metrics_frame(entries)
    stem = f"pointy-runs-{entries[0].run_id}-{entries[-1].run_id}"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path = directory / f"{stem}.csv"
        frame.to_csv(path, index=False)
        return path
    path = directory / f"{stem}.parquet"
    frame.to_parquet(path, index=False)
    return path
