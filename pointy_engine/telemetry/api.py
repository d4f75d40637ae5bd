"""The seed's telemetry functions, with their names and meaning, over the process's store.

Each list-returning function has a DataFrame twin: `get_failed_events()` and `failed_events()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .attempts import fold_attempts
from .models import EventMetrics, NetworkMetrics
from .store import telemetry_store as store

if TYPE_CHECKING:
    import pandas as pd

    from ..run import Run
    from .publishers.base import MetricsPublisher


def monitor_events(
    publishers: Iterable[MetricsPublisher] | None = None, *, interval: float | None = None
) -> None:
    """Collect every run from now on (a no-op when already on), and feed `publishers`.

    Publishers get each run's attempts off the run's path, every `interval` seconds (1.0 by
    default) and when `telemetry_store.flush()` is called.
    """
    store.start(publishers, interval)


def _events() -> list[EventMetrics]:
    return [
        EventMetrics.from_attempt(attempt, entry.name)
        for entry in store.entries()
        for attempt in fold_attempts(list(entry.records))
    ]


def _network() -> list[NetworkMetrics]:
    return [
        NetworkMetrics.from_op(op) for entry in store.entries() for op in list(entry.network_ops)
    ]


def get_metrics() -> str:
    """Every attempt and network operation seen, as JSON text."""
    return json.dumps(
        {
            "events": [m.to_dict() for m in _events()],
            "network": [m.to_dict() for m in _network()],
        },
        indent=2,
    )


def get_failed_events() -> list[EventMetrics]:
    """Attempts that ended failed (retried attempts are `retrying`, see get_retry_stats)."""
    return [m for m in _events() if m.status == "failed"]


def get_slow_events(threshold_seconds: float = 1.0) -> list[EventMetrics]:
    """Attempts that took longer than `threshold_seconds`."""
    return [m for m in _events() if (m.duration or 0.0) > threshold_seconds]


def get_retry_stats() -> dict[str, Any]:
    """Retries in total, how many event runs needed any, the most any needed, retries by event."""
    per_node: dict[tuple[str, str], tuple[str, int]] = {}  # (run, node) -> (event, retries)
    for m in _events():
        if m.retry_count and m.start_time is not None:  # not a result a re-run reused
            per_node[(m.run_id, m.task_id)] = (m.event_name, m.retry_count)
    by_event: dict[str, int] = {}
    for event, count in per_node.values():
        by_event[event] = by_event.get(event, 0) + count
    counts = [count for _, count in per_node.values()]
    return {
        "total_retries": sum(counts),
        "events_with_retries": len(per_node),
        "max_retries": max(counts, default=0),
        "by_event": by_event,
    }


def get_failed_network_ops() -> list[NetworkMetrics]:
    return [m for m in _network() if m.error is not None]


def get_slow_network_ops(threshold_seconds: float = 1.0) -> list[NetworkMetrics]:
    return [m for m in _network() if m.latency > threshold_seconds]


# ----- DataFrame forms -------------------------------------------------------------------


def metrics() -> pd.DataFrame:
    """One row per attempt of every run this process has seen (see frames.METRICS_COLUMNS)."""
    from .frames import metrics_frame

    return metrics_frame(store.entries())


def summary() -> pd.DataFrame:
    """One row per node of every run seen."""
    from .frames import summary_frame

    return summary_frame(store.entries())


def runs() -> pd.DataFrame:
    """One row per run seen: status, start, duration, nodes, failed nodes, name, trigger."""
    from .frames import runs_frame

    return runs_frame(store.entries())


def network() -> pd.DataFrame:
    from .frames import network_frame

    return network_frame(store.entries())


def failed_events() -> pd.DataFrame:
    frame = metrics()
    return frame[frame["state"] == "failed"].reset_index(drop=True)


def slow_events(threshold_seconds: float = 1.0) -> pd.DataFrame:
    frame = metrics()
    return frame[frame["duration"] > threshold_seconds].reset_index(drop=True)


def retry_stats() -> pd.DataFrame:
    """By event: retried attempts, runs of it that needed a retry, total retry wait (s)."""
    frame = metrics()
    retried = frame[frame["state"] == "retrying"]
    waits = frame[frame["wait"] > 0].groupby("event", observed=True)["wait"].sum()
    stats = retried.groupby("event", observed=True).agg(retries=("attempt", "size"))
    # A node that was retried in two runs counts twice: "runs of it that needed a retry".
    stats["nodes"] = retried.drop_duplicates(["run_id", "node"]).groupby("event").size()
    stats["total_wait"] = waits.reindex(stats.index).fillna(0.0).astype("float64")
    return stats.sort_values("retries", ascending=False)


def critical_path(run: Run) -> pd.DataFrame:
    """The steps that set when `run` ended, from its graph (the same as `run.critical_path`)."""
    return run.critical_path


def failed_network_ops() -> pd.DataFrame:
    frame = network()
    return frame[frame["error"].notna()].reset_index(drop=True)


def slow_network_ops(threshold_seconds: float = 1.0) -> pd.DataFrame:
    frame = network()
    return frame[frame["latency"] > threshold_seconds].reset_index(drop=True)
