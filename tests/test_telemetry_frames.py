"""Telemetry DataFrames: exact rows and dtypes, the process store, the seed's functions."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from engine_support import run_flow
from telemetry_support import fresh_store, mixed_run

from pointy_engine import telemetry
from pointy_engine.run.submit import STILL_RUNNING
from pointy_engine.telemetry import api
from pointy_engine.telemetry.frames import METRICS_COLUMNS, NODE_STATES

STILL = f"; {STILL_RUNNING}"  # a timed-out thread body goes on: the error says so

UTC = "UTC"


def _when(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz=UTC)


def test_metrics_has_one_exact_row_per_attempt():
    run = mixed_run()
    frame = run.metrics
    assert list(frame.columns) == list(METRICS_COLUMNS)
    rows = [
        (row.node, row.attempt, row.state, row.start, row.end, row.wait, row.executor)
        for row in frame.itertuples()
    ]
    assert rows == [
        ("Fetch", 1, "retrying", _when(100.0), _when(100.0), 0.0, "inline"),
        ("Fetch", 2, "retrying", _when(100.5), _when(100.5), 0.5, "inline"),
        ("Fetch", 3, "succeeded", _when(101.5), _when(101.5), 1.0, "inline"),
        ("Slowpoke", 1, "failed", _when(101.5), _when(101.7), 0.0, ""),
        ("Check", 1, "failed", _when(101.7), _when(101.7), 0.0, "inline"),
        ("Alert", 1, "succeeded", _when(101.7), _when(101.7), 0.0, "inline"),
    ]
    assert frame["duration"].round(6).tolist() == [0.0, 0.0, 0.0, 0.2, 0.0, 0.0]
    assert frame["error_type"].tolist() == [
        "ConnectionError", "ConnectionError", pd.NA, "TimeoutError", "ValueError", pd.NA,
    ]  # fmt: skip
    assert frame["error_message"].tolist() == [
        "refused 1",
        "refused 2",
        pd.NA,
        "event 'Slowpoke' timed out after 0.2 s" + STILL,
        "bad rows",
        pd.NA,
    ]
    assert set(frame["run_id"]) == {run.id}
    assert set(frame["pipeline"]) == {"Nightly"}
    assert frame["worker"].tolist() == ["MainThread"] * 3 + [""] + ["MainThread"] * 2


def test_metrics_dtypes_column_by_column():
    dtypes = mixed_run().metrics.dtypes
    for column in ("run_id", "pipeline", "node", "event", "worker", "error_type", "error_message"):
        assert dtypes[column] == pd.StringDtype(), column
    assert dtypes["attempt"] == "int64"
    assert dtypes["duration"] == "float64"
    assert dtypes["wait"] == "float64"
    assert dtypes["start"] == pd.DatetimeTZDtype(tz=UTC)
    assert dtypes["end"] == pd.DatetimeTZDtype(tz=UTC)
    assert dtypes["state"] == pd.CategoricalDtype(list(NODE_STATES))
    assert dtypes["executor"] == pd.CategoricalDtype(["inline", "thread", "process", "dask", ""])


def test_summary_has_one_exact_row_per_node_with_the_arm_taken():
    frame = mixed_run().summary
    rows = [
        (r.node, r.state, r.attempts, round(r.total_duration, 6), r.arm, r.value_type, r.value_size)
        for r in frame.astype(object).where(frame.notna(), None).itertuples()
    ]
    assert rows == [
        ("Fetch", "succeeded", 3, 0.0, 1, "list", 2),
        ("Slowpoke", "failed", 1, 0.2, 0, None, None),
        ("Check", "failed", 1, 0.0, 0, None, None),
        ("Alert", "succeeded", 1, 0.0, 1, "str", 5),
        ("Done", "skipped", 0, 0.0, None, None, None),
    ]
    dtypes = frame.dtypes
    assert dtypes["attempts"] == "int64"
    assert dtypes["total_duration"] == dtypes["last_duration"] == "float64"
    assert dtypes["arm"] == dtypes["value_size"] == "Int64"
    assert dtypes["state"] == pd.CategoricalDtype(list(NODE_STATES))
    assert dtypes["value_type"] == pd.StringDtype()


def test_the_store_keeps_every_run_announced_while_collecting(monkeypatch):
    store, observers = fresh_store()
    monkeypatch.setattr(api, "store", store)
    first = run_flow("A", {"A": lambda: 1}, observers=observers)  # before: not seen
    store.start()
    store.start()  # a no-op when already on
    assert len(observers) == 1
    second = mixed_run(observers=observers)
    third = second.rerun("failed").start()
    assert [entry.run_id for entry in store.entries()] == [second.id, third.id]
    assert first.id not in set(telemetry.metrics()["run_id"])
    runs = telemetry.runs()
    assert runs[["run", "status", "nodes", "failed", "pipeline", "trigger"]].values.tolist() == [
        [second.id, "failed", 5, 2, "Nightly", "api"],
        [third.id, "succeeded", 5, 1, "Nightly", "rerun"],  # Slowpoke is quick this time
    ]
    assert runs.dtypes["started"] == pd.DatetimeTZDtype(tz=UTC)
    assert telemetry.summary()["run_id"].tolist() == [second.id] * 5 + [third.id] * 5


def test_the_store_is_bounded_and_exports_what_it_drops(tmp_path):
    store, observers = fresh_store(limit=2, export_dir=tmp_path)
    store.start()
    runs = [
        run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers) for _ in range(3)
    ]
    assert [entry.run_id for entry in store.entries()] == [runs[1].id, runs[2].id]
    (exported,) = tmp_path.iterdir()
    assert exported.name == f"pointy-runs-{runs[0].id}-{runs[0].id}.parquet"
    frame = pd.read_parquet(exported)
    assert frame[["run_id", "node", "state"]].values.tolist() == [
        [runs[0].id, "A", "succeeded"],
        [runs[0].id, "B", "succeeded"],
    ]


def test_export_falls_back_to_csv_without_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    store, observers = fresh_store(limit=1, export_dir=tmp_path)
    store.start()
    dropped = run_flow("A", {"A": lambda: 1}, observers=observers)
    run_flow("A", {"A": lambda: 1}, observers=observers)
    (exported,) = tmp_path.iterdir()
    assert exported.suffix == ".csv"
    monkeypatch.undo()  # pandas reads CSV with pyarrow when it can
    assert pd.read_csv(exported)["run_id"].tolist() == [dropped.id]


def test_importing_the_store_imports_no_pandas():
    code = (
        "import sys, pointy_engine.telemetry as t, pointy_engine.telemetry.store, "
        "pointy_engine.telemetry.api; t.monitor_events(); print(sorted("
        "m for m in ('pandas', 'prometheus_client', 'elasticsearch', 'opentelemetry', "
        "'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


def test_the_seed_functions_keep_their_names_and_meaning(monkeypatch):
    store, observers = fresh_store()
    monkeypatch.setattr(api, "store", store)
    store.start()
    run = mixed_run(observers=observers)
    failed = telemetry.get_failed_events()
    assert [(m.event_name, m.status, m.error) for m in failed] == [
        ("Slowpoke", "failed", "TimeoutError: event 'Slowpoke' timed out after 0.2 s" + STILL),
        ("Check", "failed", "ValueError: bad rows"),
    ]
    assert [m.task_id for m in telemetry.get_slow_events(threshold_seconds=0.1)] == ["Slowpoke"]
    assert telemetry.get_retry_stats() == {
        "total_retries": 2,
        "events_with_retries": 1,
        "max_retries": 2,
        "by_event": {"Fetch": 2},
    }
    document = json.loads(telemetry.get_metrics())
    assert document["network"] == []
    first = document["events"][0]
    assert first == {
        "event_name": "Fetch",
        "task_id": "Fetch",
        "start_time": 100.0,
        "end_time": 100.0,
        "status": "retrying",
        "error": "ConnectionError: refused 1",
        "retry_count": 0,
        "process_id": first["process_id"],
        "run_id": run.id,
        "pipeline": "Nightly",
        "attempt": 1,
        "wait": 0.0,
        "worker": "MainThread",
        "executor": "inline",
        "cached_duration": None,  # only a cache hit says what it took when computed
        "computed": None,
        "duration": 0.0,
    }
    assert telemetry.failed_events()["node"].tolist() == ["Slowpoke", "Check"]
    assert telemetry.slow_events(threshold_seconds=0.1)["node"].tolist() == ["Slowpoke"]
    stats = telemetry.retry_stats()
    assert stats.to_dict("index") == {"Fetch": {"retries": 2, "nodes": 1, "total_wait": 1.5}}


def test_retry_counts_take_each_run_once_and_skip_results_a_rerun_reused(monkeypatch):
    store, observers = fresh_store()
    monkeypatch.setattr(api, "store", store)
    store.start()
    first = mixed_run(observers=observers)
    mixed_run(observers=observers)
    rerun = first.rerun("failed").start()  # Fetch's result is reused, not retried again
    assert rerun.nodes["Fetch"].state == "succeeded"
    assert telemetry.get_retry_stats() == {
        "total_retries": 4,
        "events_with_retries": 2,
        "max_retries": 2,
        "by_event": {"Fetch": 4},
    }
    stats = telemetry.retry_stats()
    assert stats.to_dict("index") == {"Fetch": {"retries": 4, "nodes": 2, "total_wait": 3.0}}
    assert str(stats["nodes"].dtype) == "int64"


def test_network_ops_are_read_from_the_run(monkeypatch):
    from pointy_engine.network import NetworkOp

    store, observers = fresh_store()
    monkeypatch.setattr(api, "store", store)
    store.start()
    run = run_flow("A", {"A": lambda: 1}, observers=observers)
    ops = [
        NetworkOp(run.id, "A", "A", 1, "submit", "tcp://127.0.0.1:8786", 120, 0, 0.002, 5.0, None),
        NetworkOp(run.id, "A", "A", 1, "gather", "tcp://127.0.0.1:8786", 0, 64, 1.5, 5.1, "lost"),
    ]
    store.entries()[0].network_ops.extend(ops)  # what the Dask executor does to run.network_ops
    assert [(m.operation, m.host, m.port) for m in telemetry.get_failed_network_ops()] == [
        ("gather", "127.0.0.1", 8786)
    ]
    assert [m.latency for m in telemetry.get_slow_network_ops(threshold_seconds=1.0)] == [1.5]
    frame = telemetry.network()
    assert frame.dtypes["latency"] == "float64"
    assert frame.dtypes["bytes_sent"] == frame.dtypes["bytes_received"] == "int64"
    assert frame.dtypes["started"] == pd.DatetimeTZDtype(tz=UTC)
    assert frame.dtypes["operation"] == pd.StringDtype()
    assert telemetry.failed_network_ops()["operation"].tolist() == ["gather"]
    assert telemetry.slow_network_ops(threshold_seconds=1.0)["operation"].tolist() == ["gather"]


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        telemetry.nope  # noqa: B018
