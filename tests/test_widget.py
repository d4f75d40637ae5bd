"""Headless tests of the run widget: a run's records and results in, messages out; no browser.

The widget follows a run by polling. The tests drive the follower by hand (`FakeTicker.fire()` is
one look, `FakeClock` its time) and read what the front end would receive from the messages the
widget sends: `update` (trait syncs) and `custom` (deltas).
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from widget_fixtures import (
    EXAMPLE_GRAPH,
    EXAMPLE_IDS,
    SCORE_ERROR,
    ErrorInfo,
    FakeClock,
    FakeNode,
    FakeRun,
    FakeScheduler,
    FakeTicker,
    example_records,
    graph_json,
    rec,
    step,
    wide_group_root,
)

from pointy_jupyter.snapshot import arm_status, format_duration, iter_steps, render_snapshot
from pointy_jupyter.widget import (
    FULL_SYNC_EVERY,
    TIMELINE_EVERY,
    VALUE_LIMIT,
    RunWidget,
    short_repr,
)
from pointy_jupyter.widget_state import (
    RunReader,
    SharedTicker,
    TableViews,
    Throttle,
    controls_for,
    end_message,
    failure_message,
    node_table,
    pending_table,
    state_counts,
)

FINAL_NODES = {
    "Fetch": {"state": "succeeded", "attempts": 1, "duration": 0.5, "descriptor": 1},
    "Clean": {"state": "succeeded", "attempts": 1, "duration": 0.25, "descriptor": 1},
    "Enrich": {"state": "succeeded", "attempts": 2, "duration": 0.25, "descriptor": 1},
    "Score": {"state": "failed", "attempts": 1, "duration": 0.5, "descriptor": 0},
    "Alert": {"state": "succeeded", "attempts": 1, "duration": 0.25, "descriptor": 1},
    "Save": {"state": "skipped", "attempts": 0, "duration": None, "descriptor": None},
    "Report": {"state": "succeeded", "attempts": 1, "duration": 1.0, "descriptor": 1},
}
PENDING = {"state": "pending", "attempts": 0, "duration": None, "descriptor": None}
CONTROLS_OFF = {"rerun_all": False, "rerun_failed": False, "rerun_from": False, "cancel": False}
CONTROLS_OFF["rerun_stale"] = False


def chain(size: int) -> dict[str, Any]:
    ids = [f"E{i}" for i in range(size)]
    root = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * (size - 1)}
    return graph_json(root, ids)


def views(table: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    return dict(TableViews(table))


class Harness:
    """A widget following a fake run, with a fake clock and ticker, keeping what it sends."""

    def __init__(self, graph: dict[str, Any] = EXAMPLE_GRAPH, **kwargs: Any) -> None:
        self.clock = FakeClock()
        self.ticker = FakeTicker()
        self.commands: list[dict[str, Any]] = []
        self.run = FakeRun.of(graph)
        kwargs.setdefault("on_command", self.commands.append)
        self.widget = RunWidget(clock=self.clock, ticker=self.ticker, **kwargs)
        self.sent: list[dict[str, Any]] = []
        original = self.widget._send

        def keep(msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
            self.sent.append(msg)
            original(msg, buffers)

        self.widget._send = keep  # type: ignore[method-assign]
        self.widget.attach(self.run)

    def look(self, seconds: float = 0.05) -> list[dict[str, Any]]:
        """One interval passes and the follower looks; returns the messages it sent."""
        before = len(self.sent)
        self.clock.advance(seconds)
        self.ticker.fire()
        return self.sent[before:]

    def send(self, content: Any) -> None:
        """Deliver a front-end `model.send(content)` the way the comm does."""
        msg = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        self.widget._handle_msg(msg)

    @property
    def follower(self) -> Any:
        return self.ticker.followers[-1]


@pytest.fixture
def harness() -> Harness:
    return Harness()


def finished(harness: Harness) -> Harness:
    harness.run.emit_all(example_records())
    harness.look()
    return harness


def is_delta(msg: dict[str, Any]) -> bool:
    return msg["method"] == "custom" and msg["content"]["type"] == "delta"


# --- node tables, messages, controls -------------------------------------------------------------


def test_node_table_reads_the_results_in_columns() -> None:
    results = {
        "A": FakeNode("succeeded", attempts=2, duration=0.25, descriptor=1),
        "B": FakeNode(),
    }
    results["A"].started = 1700000000.5
    results["C"] = FakeNode("running", attempts=1, started=1700000001.25)
    table = node_table(["B", "A", "C"], results)
    assert table == {
        "ids": ["B", "A", "C"],
        "state": ["pending", "succeeded", "running"],
        "attempts": [0, 2, 1],
        "duration_us": [None, 250_000, None],
        "descriptor": [None, 1, None],
        "started": [None, None, 1700000001.25],  # only where it is running
        "error": [None, None, None],  # only where it failed or is retrying
    }
    assert views(table) == {
        "B": PENDING,
        "A": {**PENDING, **FINAL_NODES["Enrich"]},
        "C": {**PENDING, "state": "running", "attempts": 1},
    }
    results["D"] = FakeNode("failed", attempts=1)
    results["D"].error = ErrorInfo("ValueError", "bad score\nsecond line " + "x" * 300, "tb")
    failed = node_table(["A", "D"], results)
    assert failed["error"] == [None, "ValueError: bad score"]  # the first line, for the tooltip
    every_duration = node_table(["A"], results)  # no None in the column: the fast path
    assert every_duration["duration_us"] == [250_000]
    assert views(pending_table(["X"])) == {"X": PENDING}


def test_table_views_build_a_view_when_asked() -> None:
    table_views = TableViews(pending_table(["A", "B"]))
    assert len(table_views) == 2
    assert list(table_views) == ["A", "B"]
    assert table_views["B"] == PENDING
    assert table_views.get("C") is None


def test_state_counts_has_every_state_in_order() -> None:
    assert state_counts(["failed", "succeeded", "succeeded"]) == {
        "pending": 0,
        "running": 0,
        "retrying": 0,
        "succeeded": 2,
        "failed": 1,
        "skipped": 0,
        "cancelled": 0,
        "cached": 0,
    }


def test_failure_message_names_the_node_that_failed_last() -> None:
    error = ErrorInfo("KeyError", "'x'", "tb")
    results = {
        "A": FakeNode("failed", error=error, finished=5.0),
        "B": FakeNode("failed", finished=3.0),
        "C": FakeNode("succeeded", finished=9.0),
    }
    assert failure_message(["A", "B", "C"], ["failed", "failed", "succeeded"], results) == (
        "A failed: KeyError: 'x'"
    )
    assert failure_message(["B", "C"], ["failed", "succeeded"], results) == "B failed"
    assert failure_message(["C"], ["succeeded"], results) == ""
    same = {"A": FakeNode("failed"), "B": FakeNode("failed")}  # no times: the last one
    assert failure_message(["A", "B"], ["failed", "failed"], same) == "B failed"


@pytest.mark.parametrize(
    ("status", "crash", "node_message", "message"),
    [
        ("cancelled", None, "A failed", "cancelled"),
        ("failed", ErrorInfo("KeyError", "'x'", "tb"), "", "run failed: KeyError: 'x'"),
        ("failed", None, "", "run failed"),
        ("failed", None, "A failed", "A failed"),
        ("succeeded", None, "A failed", "A failed"),  # a handled failure
        ("succeeded", None, "", ""),
    ],
)
def test_end_message(status: str, crash: Any, node_message: str, message: str) -> None:
    assert end_message(status, crash, node_message) == message


@pytest.mark.parametrize(
    ("status", "counts", "selected", "can", "expected"),
    [
        ("running", {}, None, True, (False, False, False, True)),
        ("pending", {}, "A", True, (False, False, False, True)),
        ("succeeded", {}, None, True, (True, False, False, False)),
        ("succeeded", {}, "A", True, (True, False, True, False)),
        ("succeeded", {"failed": 1}, "A", True, (True, True, True, False)),
        ("cancelled", {}, None, True, (True, False, False, False)),
        ("cancelled", {"cancelled": 5}, None, True, (True, False, False, False)),
        ("cancelled", {"failed": 1, "cancelled": 4}, None, True, (True, True, False, False)),
        ("failed", {"failed": 2}, "A", False, (False, False, False, False)),
    ],
)
def test_controls(
    status: str, counts: dict[str, int], selected: str | None, can: bool, expected: tuple
) -> None:
    keys = ("rerun_all", "rerun_failed", "rerun_from", "cancel")
    assert controls_for(status, counts, selected, can) == dict(zip(keys, expected, strict=True))


# --- RunReader -----------------------------------------------------------------------------------


def test_reader_names_the_nodes_changed_since_its_last_look() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    reader = RunReader(run)
    assert reader.records() is run.stream.records  # the live list, no copy per look
    run.emit_all(example_records()[:5])
    assert list(reader.changed()) == ["Fetch", "Clean", "Enrich"]  # first appearance; no ""
    assert list(reader.changed()) == []
    run.emit(rec("Enrich", "retrying", 101.0))
    run.emit(rec("Clean", "succeeded", 101.0))
    assert list(reader.changed()) == ["Enrich", "Clean"]
    run.emit_all(example_records()[7:])
    reader.skip()
    assert list(reader.changed()) == []
    assert reader.crash() is None
    assert reader.done


def test_reader_of_a_run_without_a_record_list_asks_for_the_records() -> None:
    class Copying(FakeRun):
        calls = 0

        def records(self) -> list[Any]:
            self.calls += 1
            return super().records()

    run = Copying.of(EXAMPLE_GRAPH)
    run.emit_all(example_records()[:3])
    reader = RunReader(run)
    reader._records = None  # as for a run that keeps no plain list
    assert list(reader.changed()) == ["Fetch"]
    assert run.calls == 1


def test_reader_reports_the_error_that_ended_the_run() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    crash = ErrorInfo("RuntimeError", "bug", "tb")
    run.emit(rec("", "failed", 1.0, error=crash))
    assert RunReader(run).crash() == crash


# --- Throttle (streamed text: output.OutputSink) -------------------------------------------------


class ThrottleRig:
    def __init__(self, max_rate: float = 20.0) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler()
        self.flushes = 0
        self.throttle = Throttle(self.flush, max_rate, self.clock, self.scheduler)

    def flush(self) -> None:
        self.flushes += 1


def test_throttle_flushes_first_poke_at_once_and_coalesces_the_rest() -> None:
    rig = ThrottleRig()
    for _ in range(10_000):
        rig.throttle.poke()
    assert rig.flushes == 1
    assert [timer.delay for timer in rig.scheduler.timers] == [pytest.approx(0.05)]
    rig.clock.advance(0.05)
    assert rig.scheduler.fire() == 1
    assert rig.flushes == 2
    assert not rig.throttle.pending


def test_throttle_final_poke_flushes_at_once_and_drops_the_pending_flush() -> None:
    rig = ThrottleRig()
    rig.throttle.poke()
    rig.clock.advance(0.01)
    rig.throttle.poke()
    assert rig.throttle.pending
    rig.throttle.poke(final=True)
    assert rig.flushes == 2
    assert not rig.throttle.pending
    assert rig.scheduler.timers[0].cancelled
    # a timer thread that fires anyway (cancel raced it) does nothing
    rig.scheduler.timers[0].callback()
    assert rig.flushes == 2


def test_throttle_waits_only_the_rest_of_the_interval() -> None:
    rig = ThrottleRig(max_rate=10)
    rig.throttle.poke()
    rig.clock.advance(0.025)
    rig.throttle.poke()
    assert rig.scheduler.timers[0].delay == pytest.approx(0.075)
    rig.clock.advance(0.2)  # quiet for longer than the interval: the next poke flushes at once
    rig.scheduler.fire()
    rig.clock.advance(0.2)
    rig.throttle.poke()
    assert rig.flushes == 3


def test_throttle_close_drops_the_pending_flush() -> None:
    rig = ThrottleRig()
    rig.throttle.poke()
    rig.throttle.poke()
    rig.throttle.close()
    assert rig.scheduler.fire() == 0
    assert rig.flushes == 1


def test_throttle_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="max_rate must be positive, got 0"):
        Throttle(lambda: None, 0)


# --- RunWidget: following a run ------------------------------------------------------------------


def test_a_widget_made_with_its_run_opens_its_comm_with_the_whole_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ipywidgets.comm

    opened: list[dict[str, Any]] = []
    real_create = ipywidgets.comm.create_comm

    def create(*args: Any, **kwargs: Any) -> Any:
        opened.append(kwargs["data"]["state"])
        return real_create(*args, **kwargs)

    monkeypatch.setattr(ipywidgets.comm, "create_comm", create)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(RunWidget, "_send", lambda self, msg, buffers=None: sent.append(msg))
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.emit_all(example_records())
    widget = RunWidget(run, on_command=lambda _c: None, clock=FakeClock(), ticker=FakeTicker())
    state = opened[-1]  # the run widget's own comm_open (its layout opened first)
    assert json.loads(state["graph_json"]) == EXAMPLE_GRAPH
    assert state["run_id"] == "r1"
    assert state["status"] == "failed"
    assert views(json.loads(state["nodes_json"])) == FINAL_NODES
    assert state["controls"] == widget.controls
    assert state["controls"]["rerun_failed"]
    assert state["message"] == "Score failed: ValueError: score < 0"
    assert sent == []  # no update after the open
    assert not widget.following  # the run had ended: no follower


def test_a_widget_whose_run_cannot_be_read_still_opens_with_its_graph() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.stream.records.append(object())  # a record the widget cannot read
    ticker = FakeTicker()
    widget = RunWidget(run, clock=FakeClock(), ticker=ticker)
    assert json.loads(widget.graph_json) == EXAMPLE_GRAPH
    assert widget.message.startswith("widget error: AttributeError")
    assert widget.following  # the follower's looks try again
    assert len(ticker.live) == 1


def test_attach_shows_the_graph_with_every_node_pending(harness: Harness) -> None:
    widget = harness.widget
    assert widget.graph == EXAMPLE_GRAPH
    assert json.loads(widget.graph_json) == EXAMPLE_GRAPH
    assert widget.run_id == "r1"
    assert widget.status == "pending"
    shown = json.loads(widget.nodes_json)
    assert shown.pop("now") == pytest.approx(time.time(), abs=60)  # the kernel's clock
    assert shown == {"run": "r1", **pending_table(EXAMPLE_IDS)}
    assert widget.node_views() == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert widget.controls == {**CONTROLS_OFF, "cancel": True}
    assert [msg["method"] for msg in harness.sent] == ["update"]  # all of it in one message
    assert {"graph_json", "nodes_json", "run_id"} <= set(harness.sent[0]["state"])
    assert harness.run.listeners == []  # nothing runs in the engine's thread
    assert harness.follower.interval == pytest.approx(0.05)
    assert widget.following


def test_the_follower_shows_the_run_and_stops_at_its_end(harness: Harness) -> None:
    widget = finished(harness).widget
    assert widget.node_views() == FINAL_NODES
    assert widget.status == "failed"
    assert widget.message == "Score failed: ValueError: score < 0"
    assert widget.controls == {**CONTROLS_OFF, "rerun_all": True, "rerun_failed": True}
    assert harness.follower.finished
    assert not widget.following
    assert widget.tick() is False
    assert harness.look() == []


def test_a_look_sends_only_the_nodes_that_changed(harness: Harness) -> None:
    run = harness.run
    run.emit(rec("", "running", 100.0))
    run.emit(rec("Fetch", "running", 100.0))
    (status_sync,) = harness.look()  # pending -> running goes alone; the nodes wait
    assert status_sync["method"] == "update"
    assert status_sync["state"] == {"status": "running"}
    run.emit(rec("Fetch", "succeeded", 100.5, descriptor=1))
    run.emit(rec("Clean", "running", 100.5))
    (delta,) = harness.look()
    assert is_delta(delta)
    content = delta["content"]
    assert content["run"] == "r1"
    assert content["status"] == "running"
    assert views(content["nodes"]) == {
        "Fetch": FINAL_NODES["Fetch"],
        "Clean": {**PENDING, "state": "running", "attempts": 1},
    }
    assert "message" not in content
    assert "detail" not in content
    assert harness.look() == []  # nothing new, nothing sent


def test_10000_records_between_two_looks_make_one_delta() -> None:
    harness = Harness(chain(2000))
    run = harness.run
    run.emit(rec("", "running", 0.0))
    harness.look()
    ids = [f"E{i}" for i in range(1250)]
    records = []
    for index, node in enumerate(ids):
        start = float(index)
        for attempt in (1, 2, 3):
            records.append(rec(node, "running", start, attempt))
            records.append(rec(node, "retrying", start + 0.25, attempt))
            start += 0.5
        records.append(rec(node, "running", start, 4))
        records.append(rec(node, "succeeded", start + 0.75, 4, descriptor=1))
    assert len(records) == 10_000
    run.emit_all(records)
    (delta,) = harness.look()
    assert is_delta(delta)
    table = delta["content"]["nodes"]
    assert table == {
        "ids": ids,
        "state": ["succeeded"] * 1250,
        "attempts": [4] * 1250,
        "duration_us": [750_000] * 1250,
        "descriptor": [1] * 1250,
        "started": [None] * 1250,  # none of them is running
        "error": [None] * 1250,
    }
    run.emit(rec("", "succeeded", 9000.0))
    (final,) = harness.look()
    assert final["method"] == "update"
    shown = json.loads(final["state"]["nodes_json"])
    assert shown.pop("now") == pytest.approx(time.time(), abs=60)
    assert shown == {
        "run": "r1",
        "ids": [f"E{i}" for i in range(2000)],
        "state": ["succeeded"] * 1250 + ["pending"] * 750,
        "attempts": [4] * 1250 + [0] * 750,
        "duration_us": [750_000] * 1250 + [None] * 750,
        "descriptor": [1] * 1250 + [None] * 750,
        "started": [None] * 2000,
        "error": [None] * 2000,
    }
    assert final["state"]["status"] == "succeeded"
    assert harness.follower.finished


def test_at_most_one_message_per_look_whatever_changes() -> None:
    harness = Harness(chain(300))
    run, error = harness.run, ErrorInfo("ValueError", "bad", "tb")
    harness.send({"type": "select", "node": "E5"})  # a detail to keep up to date as well
    run.emit(rec("", "running", 0.0))
    sent = []
    for index in range(60):  # three seconds of looks, each after more records of every kind
        node = f"E{index}"
        run.emit(rec(node, "running", index))
        if index % 7 == 0:
            run.emit(rec(node, "failed", index + 0.5, error=error, descriptor=0))
        else:
            run.emit(rec(node, "succeeded", index + 0.5, descriptor=1))
        look = harness.look()
        assert len(look) <= 1
        sent += look
    assert len(sent) <= 60 == 3 * 20
    full = [msg for msg in sent if msg["method"] == "update" and "nodes_json" in msg["state"]]
    assert len(full) == int(3 / FULL_SYNC_EVERY)  # the catch-up sync, every 2 s
    deltas = [msg["content"] for msg in sent if is_delta(msg)]
    assert [d["message"] for d in deltas if "message" in d][:2] == [
        "E0 failed: ValueError: bad",
        "E7 failed: ValueError: bad",
    ]
    (with_detail,) = [d for d in deltas if "detail" in d]
    assert with_detail["detail"]["node"] == "E5"
    assert with_detail["detail"]["state"] == "succeeded"


def test_the_full_state_is_synced_every_two_seconds_while_running(harness: Harness) -> None:
    run = harness.run
    run.emit(rec("", "running", 100.0))
    harness.look()
    run.emit(rec("Fetch", "running", 100.0))
    assert is_delta(harness.look(FULL_SYNC_EVERY - 0.1)[0])
    run.emit(rec("Fetch", "succeeded", 100.5, descriptor=1))
    (sync,) = harness.look(0.1)
    assert sync["method"] == "update"
    assert views(json.loads(sync["state"]["nodes_json"]))["Fetch"] == FINAL_NODES["Fetch"]
    assert harness.widget.node_views()["Fetch"] == FINAL_NODES["Fetch"]


def test_hello_from_a_new_view_gets_the_full_state_at_the_next_look(harness: Harness) -> None:
    harness.run.emit(rec("", "running", 100.0))
    harness.look()
    harness.run.emit(rec("Fetch", "running", 100.0))
    harness.send({"type": "hello"})
    assert harness.widget.message == ""
    (sync,) = harness.look()  # not a delta: the traits a new view reads
    assert sync["method"] == "update"
    assert views(json.loads(sync["state"]["nodes_json"]))["Fetch"]["state"] == "running"
    finished(harness)
    harness.send({"type": "hello"})  # the traits hold the final state: nothing to send
    assert harness.look() == []


def test_finish_pushes_the_final_state_without_waiting_for_a_look(harness: Harness) -> None:
    harness.run.emit_all(example_records())
    before = len(harness.sent)
    assert harness.widget.finish() is True
    assert len(harness.sent) == before + 1
    assert harness.widget.node_views() == FINAL_NODES
    assert harness.widget.status == "failed"
    assert harness.follower.cancelled
    assert harness.ticker.fire() == 0
    assert harness.widget.finish() is True  # again: nothing left to do
    assert len(harness.sent) == before + 1


def test_finish_gives_up_after_its_timeout(harness: Harness) -> None:
    assert harness.widget.finish(timeout=0) is False
    assert harness.widget.following


def test_durations_come_from_the_results() -> None:
    """A node a re-run reuses has a record but no `running` one: its time is still shown."""
    run = FakeRun.of(EXAMPLE_GRAPH, "r2")
    widget = RunWidget(run, clock=FakeClock(), ticker=FakeTicker())
    node = run.nodes["Fetch"]
    node.attempts, node.duration, node.descriptor = 1, 0.5, 1
    run.emit(rec("", "running", 10.0, run_id="r2"))
    run.emit(rec("Fetch", "succeeded", 10.0, run_id="r2", descriptor=1))
    widget.finish(timeout=0)  # not over: nothing pushed
    run.emit(rec("", "cancelled", 10.0, run_id="r2"))
    widget.finish()
    assert widget.node_views()["Fetch"] == FINAL_NODES["Fetch"]
    assert widget.message == "cancelled"


def test_reused_nodes_keep_their_duration_after_a_real_rerun() -> None:
    graph = pytest.importorskip("pointy_engine.graph")
    plan_module = pytest.importorskip("pointy_engine.plan")
    run_module = pytest.importorskip("pointy_engine.run")
    calls = {"publish": 0}

    def fetch() -> int:
        return 1

    def publish(previous_result: int) -> int:
        calls["publish"] += 1
        if calls["publish"] == 1:
            raise OSError("down")
        return previous_result + 1

    plan = plan_module.Plan(
        graph.build_graph("fetch |-> publish"), {"fetch": fetch, "publish": publish}
    )
    first = run_module.Run(plan).start()
    assert first.status == "failed"
    second = first.rerun("failed")
    widget = RunWidget(second, clock=FakeClock(), ticker=FakeTicker())
    second.start()
    widget.finish()
    shown = widget.node_views()
    assert shown["fetch"] == {
        "state": "succeeded",
        "attempts": 1,
        "duration": round(first.nodes["fetch"].duration * 1e6) / 1e6,
        "descriptor": 1,
    }
    assert shown["publish"]["state"] == "succeeded"
    assert widget.status == "succeeded"


def test_attaching_late_reads_the_run_as_it_is() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.emit_all(example_records()[:5])
    widget = RunWidget(run, clock=FakeClock(), ticker=FakeTicker())
    assert widget.node_views()["Fetch"] == FINAL_NODES["Fetch"]
    assert widget.node_views()["Enrich"]["state"] == "running"
    assert widget.status == "running"


def test_attaching_a_finished_run_shows_it_and_follows_nothing() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.emit_all(example_records())
    ticker = FakeTicker()
    widget = RunWidget(run, clock=FakeClock(), ticker=ticker)
    assert widget.node_views() == FINAL_NODES
    assert widget.message == "Score failed: ValueError: score < 0"
    assert ticker.followers == []
    assert not widget.following


def test_attach_a_new_run_resets_and_moves_the_follower(harness: Harness) -> None:
    old, widget = harness.run, harness.widget
    old.emit_all(example_records()[:4])
    harness.look()
    harness.send({"type": "select", "node": "Score"})
    old_follower = harness.follower
    new = FakeRun.of(EXAMPLE_GRAPH, "r2")
    widget.attach(new)
    assert old_follower.cancelled
    assert widget.run is new
    assert widget.run_id == "r2"
    assert widget.node_views() == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert widget.status == "pending"
    assert widget.message == ""
    assert widget.selected is None
    assert widget.detail == {}
    old.emit_all(example_records()[4:])  # the old run goes on: nothing shown of it
    harness.look()
    assert widget.node_views()["Clean"] == PENDING
    new.emit_all(example_records("r2"))
    harness.look()
    assert widget.node_views() == FINAL_NODES


def test_show_graph_draws_a_plan_without_controls(harness: Harness) -> None:
    widget = finished(harness).widget
    widget.show_graph(EXAMPLE_GRAPH)
    assert widget.run is None
    assert widget.run_id is None
    assert widget.node_views() == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert json.loads(widget.nodes_json) == {"run": None, **pending_table(EXAMPLE_IDS)}
    assert widget.controls == CONTROLS_OFF
    assert repr(widget) == "RunWidget(run=None, status='pending', nodes=7, pending=7)"


def test_close_stops_the_follower(harness: Harness) -> None:
    harness.widget.close()
    assert harness.follower.cancelled
    assert harness.widget.run is None


def test_max_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rate must be positive, got 0"):
        RunWidget(max_rate=0)


def test_the_follower_thread_follows_a_real_run_live() -> None:
    graph = pytest.importorskip("pointy_engine.graph")
    plan_module = pytest.importorskip("pointy_engine.plan")
    run_module = pytest.importorskip("pointy_engine.run")
    gate, slow_shown = threading.Event(), threading.Event()

    def slow() -> int:
        gate.wait(10)
        return 2

    events = {"first": lambda: 1, "slow": slow, "last": lambda: 3}
    run = run_module.Run(plan_module.Plan(graph.build_graph("first -> slow -> last"), events))
    widget = RunWidget(max_rate=100)  # the real follower thread
    senders: list[str] = []
    original = widget._send

    def watch(msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        senders.append(threading.current_thread().name)
        if is_delta(msg) and views(msg["content"]["nodes"]).get("slow", {}).get("state") == (
            "running"
        ):
            slow_shown.set()
        original(msg, buffers)

    widget._send = watch  # type: ignore[method-assign]
    widget.attach(run)
    follower = widget._follower
    assert follower is not None
    run.start(background=True)
    try:
        assert slow_shown.wait(10), "the follower never showed the running node"
    finally:
        gate.set()
    run.wait(10)
    follower.join(10)  # it notices the end by itself and stops
    assert not follower.alive
    assert widget.status == "succeeded"
    assert {view["state"] for view in widget.node_views().values()} == {"succeeded"}
    assert "pointy-widget-follower" in senders
    assert widget.last_error is None


# --- the shared follower thread ------------------------------------------------------------------


def test_a_shared_ticker_runs_every_follower_from_one_thread() -> None:
    ticker = SharedTicker()
    seen: dict[str, list[str]] = {"a": [], "b": []}
    done = {name: threading.Event() for name in seen}

    def looker(name: str) -> Any:
        def look() -> bool:
            thread = threading.current_thread()
            seen[name].append(f"{thread.name} {thread.ident}")
            if len(seen[name]) == 3:
                done[name].set()
                return False  # nothing more to follow
            return True

        return look

    try:
        first, second = ticker(0.01, looker("a")), ticker(0.02, looker("b"))
        assert done["a"].wait(10)
        assert done["b"].wait(10)
        first.join(10)
        second.join(10)
        assert not first.alive
        assert not second.alive
        (thread,) = set(seen["a"] + seen["b"])  # both followers looked from one thread
        assert thread.startswith("pointy-widget-follower ")
        assert len(seen["a"]) == len(seen["b"]) == 3
    finally:
        ticker.close()


def test_a_follower_cancelled_before_its_first_look_never_looks() -> None:
    ticker = SharedTicker()
    looks: list[str] = []
    later = threading.Event()
    try:
        ticker(0.02, lambda: bool(looks.append("cancelled"))).cancel()
        ticker(0.05, lambda: bool(later.set()))
        assert later.wait(10)
        assert looks == []
    finally:
        ticker.close()


def test_a_failing_look_stops_only_its_own_follower(caplog: pytest.LogCaptureFixture) -> None:
    ticker = SharedTicker()
    calm = threading.Event()
    looks = []

    def broken() -> bool:
        raise RuntimeError("look failed")

    def steady() -> bool:
        looks.append(1)
        if len(looks) == 5:
            calm.set()
            return False
        return True

    try:
        failing = ticker(0.01, broken)
        ticker(0.01, steady)
        assert calm.wait(10)
        failing.join(10)
        assert not failing.alive
        assert "Pointy widget follower failed; it stopped" in caplog.text
    finally:
        ticker.close()


def test_a_closed_ticker_stops_its_followers_and_later_ones_get_a_thread_of_their_own() -> None:
    ticker = SharedTicker()
    follower = ticker(30.0, lambda: True)
    ticker.close()
    follower.join(10)
    assert not follower.alive
    looked = threading.Event()
    late = ticker(0.01, lambda: bool(looked.set()))
    assert looked.wait(10)
    late.cancel()


# --- failures never reach the run ----------------------------------------------------------------


def test_a_failing_look_is_shown_and_the_follower_goes_on(harness: Harness) -> None:
    run = harness.run
    run.stream.records.append(object())  # a record the widget cannot read
    run.emit(rec("Fetch", "running", 1.0))
    assert harness.look() != []  # the error message
    widget = harness.widget
    assert widget.message == "widget error: AttributeError: 'object' object has no attribute 'node'"
    assert isinstance(widget.last_error, AttributeError)
    assert widget.following
    run.emit_all(example_records()[1:])
    harness.look()
    assert widget.node_views() == FINAL_NODES  # the final full read puts everything right


def test_a_run_that_cannot_be_read_yet_does_not_stop_attach() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.nodes = {}  # the results are not there (yet)
    ticker = FakeTicker()
    widget = RunWidget(run, clock=FakeClock(), ticker=ticker)
    assert widget.message == "widget error: KeyError: 'Fetch'"
    assert widget.following
    run.nodes = FakeRun.of(EXAMPLE_GRAPH).nodes
    run.emit_all(example_records())
    ticker.fire()
    assert widget.node_views() == FINAL_NODES
    assert widget.message == "Score failed: ValueError: score < 0"


def test_a_failing_final_sync_is_shown_and_the_follower_stops(harness: Harness) -> None:
    def broken(_change: object) -> None:
        raise RuntimeError("front end gone")

    harness.widget.observe(broken, names="status")
    harness.run.emit(rec("", "cancelled", 1.0))
    assert harness.widget.tick() is False
    assert harness.widget.message == "widget error: RuntimeError: front end gone"
    assert not harness.widget.following


# --- commands from the front end -----------------------------------------------------------------


def test_select_fills_detail(harness: Harness) -> None:
    run = finished(harness).run
    run.nodes["Alert"].value = {"alerted": True}
    run.nodes["Alert"].output = "paging on-call\n"
    harness.send({"type": "select", "node": "Alert"})
    widget = harness.widget
    assert widget.selected == "Alert"
    assert widget.detail == {
        "node": "Alert",
        "state": "succeeded",
        "attempts": 1,
        "duration": 0.25,
        "total": None,  # one attempt: its duration says it all
        "descriptor": 1,
        "worker": "pointy-worker-0",
        "value": "{'alerted': True}",
        "error": None,
        "traceback": None,
        "output": "paging on-call\n",
    }
    assert widget.controls["rerun_from"] is True


def test_select_a_failed_node_shows_its_traceback(harness: Harness) -> None:
    finished(harness).send({"type": "select", "node": "Score"})
    detail = harness.widget.detail
    assert detail["error"] == "ValueError: score < 0"
    assert detail["traceback"] == SCORE_ERROR.traceback
    assert detail["value"] is None


def test_detail_follows_the_selected_node_live(harness: Harness) -> None:
    harness.send({"type": "select", "node": "Fetch"})
    assert harness.widget.detail["state"] == "pending"
    harness.run.emit(rec("", "running", 1.0))
    harness.look()
    harness.run.emit(rec("Fetch", "running", 1.0))
    (delta,) = harness.look()
    assert delta["content"]["detail"]["state"] == "running"
    harness.run.emit(rec("", "cancelled", 2.0))
    harness.look()
    assert harness.widget.detail["state"] == "running"


def test_select_none_clears_and_unknown_node_is_reported(harness: Harness) -> None:
    harness.send({"type": "select", "node": "Fetch"})
    harness.send({"type": "select", "node": None})
    assert harness.widget.selected is None
    assert harness.widget.detail == {}
    harness.send({"type": "select", "node": "Nope"})
    assert harness.widget.message == "unknown node: 'Nope'"
    assert harness.widget.selected is None


def test_a_command_message_stays_until_the_run_has_news(harness: Harness) -> None:
    harness.send({"type": "select", "node": "Nope"})
    harness.run.emit_all(example_records()[:5])
    harness.look()
    harness.look(FULL_SYNC_EVERY)
    assert harness.widget.message == "unknown node: 'Nope'"
    harness.run.emit_all(example_records()[5:])
    harness.look()
    assert harness.widget.message == "Score failed: ValueError: score < 0"


@pytest.mark.parametrize(
    ("content", "command"),
    [
        (
            {"type": "rerun", "mode": "all", "node": None},
            {"type": "rerun", "mode": "all", "node": None},
        ),
        ({"type": "rerun", "mode": "failed"}, {"type": "rerun", "mode": "failed", "node": None}),
        (
            {"type": "rerun", "mode": "from", "node": "Score"},
            {"type": "rerun", "mode": "from", "node": "Score"},
        ),
        ({"type": "cancel"}, {"type": "cancel"}),
    ],
)
def test_commands_go_to_on_command(
    harness: Harness, content: dict[str, Any], command: dict[str, Any]
) -> None:
    harness.send(content)
    assert harness.commands == [command]
    assert harness.widget.message == ""


def test_rerun_from_uses_the_selected_node(harness: Harness) -> None:
    harness.send({"type": "rerun", "mode": "from", "node": None})
    assert harness.commands == []
    assert harness.widget.message == "select a node to re-run from"
    harness.send({"type": "select", "node": "Enrich"})
    harness.send({"type": "rerun", "mode": "from", "node": None})
    assert harness.commands == [{"type": "rerun", "mode": "from", "node": "Enrich"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "rerun", "mode": "sideways"}, "unknown re-run mode: 'sideways'"),
        ({"type": "explode"}, "unknown command: 'explode'"),
        ({"type": "view", "view": "sideways"}, "unknown view: 'sideways'"),
        ({}, "unknown command: None"),
        (["not", "a", "dict"], "unknown command: None"),
    ],
)
def test_bad_commands_are_reported(harness: Harness, content: Any, message: str) -> None:
    harness.send(content)
    assert harness.commands == []
    assert harness.widget.message == message


def test_on_command_errors_go_to_message() -> None:
    def refuse(_command: dict[str, Any]) -> None:
        raise RuntimeError("kernel busy")

    harness = Harness(on_command=refuse)
    harness.send({"type": "rerun", "mode": "all"})
    assert harness.widget.message == "re-run failed: RuntimeError: kernel busy"
    harness.send({"type": "cancel"})
    assert harness.widget.message == "cancel failed: RuntimeError: kernel busy"


def test_without_on_command_controls_are_off_and_commands_say_so() -> None:
    harness = Harness(on_command=None)
    finished(harness)
    assert harness.widget.controls == CONTROLS_OFF
    harness.send({"type": "rerun", "mode": "all"})
    assert harness.widget.message == "re-run is not available here"


def test_a_rerun_handler_that_attaches_the_new_run(harness: Harness) -> None:
    finished(harness)
    widget = harness.widget
    new = FakeRun.of(EXAMPLE_GRAPH, "r2")
    widget._on_command = lambda _command: widget.attach(new)
    harness.send({"type": "rerun", "mode": "failed"})
    new.emit_all(example_records("r2"))
    harness.look()
    assert widget.run_id == "r2"
    assert widget.node_views() == FINAL_NODES


# --- values in the detail panel ------------------------------------------------------------------


def test_short_repr_is_bounded_and_never_raises() -> None:
    assert short_repr([1, 2]) == "[1, 2]"
    assert len(short_repr("x" * 10_000)) <= VALUE_LIMIT
    assert short_repr(list(range(1_000_000))).endswith(", 99, ...]")

    class Wide:
        def __repr__(self) -> str:
            return "w" * 5000

    assert short_repr(Wide()) == "w" * (VALUE_LIMIT - 1) + "…"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert short_repr(Broken()) == "<repr failed: RuntimeError: no repr>"


# --- repr and the saved picture ------------------------------------------------------------------


def test_repr_is_stable(harness: Harness) -> None:
    assert repr(harness.widget) == "RunWidget(run='r1', status='pending', nodes=7, pending=7)"
    finished(harness)
    assert repr(harness.widget) == (
        "RunWidget(run='r1', status='failed', nodes=7, succeeded=5, failed=1, skipped=1)"
    )
    assert repr(RunWidget()) == "RunWidget(run=None, status='pending', nodes=0)"


def test_mimebundle_has_text_and_the_snapshot(harness: Harness) -> None:
    data, _metadata = harness.widget._repr_mimebundle_()
    assert data["text/plain"] == "RunWidget(run='r1', status='pending', nodes=7, pending=7)"
    assert data["text/html"] == harness.widget.snapshot_html()
    assert "0x" not in data["text/plain"]


def node_states(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="pointy-node" data-node="([^"]+)" data-state="([^"]+)"', html))


def test_snapshot_has_every_node_with_its_state(harness: Harness) -> None:
    html = finished(harness).widget.snapshot_html()
    assert node_states(html) == {node: view["state"] for node, view in FINAL_NODES.items()}
    assert '<div class="pointy-status" data-status="failed"' in html
    assert "Pointy run <b>r1</b> failed: 5 succeeded, 1 failed, 1 skipped" in html
    assert "score &lt; 0" in html  # escaped
    assert '<div class="pointy-arm" data-descriptor="0" data-arm="taken"' in html
    assert '<div class="pointy-arm" data-descriptor="1" data-arm="not-taken"' in html
    assert 'data-link="pipe"' in html
    assert '<span class="pointy-attempts"> ↻2</span>' in html
    assert "<script" not in html


def test_snapshot_leaves_out_messages_of_commands(harness: Harness) -> None:
    harness.send({"type": "select", "node": "Nope"})
    assert "Nope" not in harness.widget.snapshot_html()


DURATION = re.compile(r'<span class="pointy-duration"[^>]*>[^<]*</span>')


def test_snapshot_timings_only_inside_pointy_duration() -> None:
    pictures = []
    for scale in (1.0, 3.0):
        nodes = {
            node: {
                **view,
                "duration": None if view["duration"] is None else view["duration"] * scale,
            }
            for node, view in FINAL_NODES.items()
        }
        pictures.append(render_snapshot(EXAMPLE_GRAPH, nodes, "failed", "r1"))
    assert pictures[0] != pictures[1]
    assert DURATION.sub("", pictures[0]) == DURATION.sub("", pictures[1])
    assert DURATION.findall(pictures[0])[0].endswith(">500 ms</span>")


def test_snapshot_is_deterministic(harness: Harness) -> None:
    finished(harness)
    assert harness.widget.snapshot_html() == harness.widget.snapshot_html()
    other = finished(Harness())
    assert other.widget.snapshot_html() == harness.widget.snapshot_html()


def test_snapshot_collapses_a_wide_parallel_group() -> None:
    ids = [f"W{i}" for i in range(20)]
    root = wide_group_root(ids)
    nodes = {
        i: {"state": "succeeded", "attempts": 1, "duration": 1.0, "descriptor": 1} for i in ids
    }
    nodes["W3"] = {"state": "failed", "attempts": 1, "duration": 1.0, "descriptor": 0}
    html = render_snapshot(graph_json(root, ["Start", *ids]), nodes, "running", "r9")
    assert list(node_states(html)) == ["Start"]
    assert 'class="pointy-parallel pointy-collapsed" data-group="g1"' in html
    assert ">20 in parallel<br>" in html  # in words, no internal group id
    assert "g1:" not in html
    assert "19 succeeded, 1 failed" in html


def test_snapshot_of_a_huge_graph_is_a_summary() -> None:
    ids = [f"E{i}" for i in range(2000)]
    nodes = {
        i: {"state": "succeeded", "attempts": 1, "duration": 0.5, "descriptor": 1} for i in ids
    }
    html = render_snapshot(chain(2000), nodes, "succeeded", "r1")
    assert node_states(html) == {}
    assert "2000 nodes: too many to draw here" in html
    assert "succeeded: 2000 succeeded" in html
    assert len(html) < 2000


def test_snapshot_without_a_run() -> None:
    html = RunWidget().snapshot_html()
    assert 'data-status="pending"' in html
    assert "Pointy plan: 0 nodes, nothing runs" in html


def test_arm_status() -> None:
    head = step("H")
    body = step("X")
    assert arm_status(head, 1, body, {}) == "open"
    assert arm_status(head, 1, body, {"H": {**PENDING, "descriptor": 1}}) == "taken"
    assert arm_status(head, 0, body, {"H": {**PENDING, "descriptor": 1}}) == "not-taken"
    assert arm_status(head, 0, body, {"X": {**PENDING, "state": "running"}}) == "taken"
    assert arm_status(head, 0, body, {"X": {**PENDING, "state": "skipped"}}) == "not-taken"


def test_iter_steps_walks_the_block_tree_in_source_order() -> None:
    assert list(iter_steps(EXAMPLE_GRAPH["root"])) == EXAMPLE_IDS


def test_iter_steps_handles_deep_nesting() -> None:
    block: dict[str, Any] = step("leaf")
    for _ in range(5000):
        block = {"kind": "sequence", "items": [block], "links": []}
    assert list(iter_steps(block)) == ["leaf"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0004, "0 ms"), (0.25, "250 ms"), (1.5, "1.50 s"), (59.994, "59.99 s"), (125.0, "2m 05.0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_static_files_ship_with_the_package() -> None:
    widget = RunWidget()
    assert "export default" in widget._esm
    assert ".pointy-widget" in widget._css
    assert widget.get_state()["_anywidget_id"] == "pointy_jupyter.widget.RunWidget"
    assert type(widget) is RunWidget  # no class built per instance


def test_fixture_graph_matches_the_engine_graph_json() -> None:
    """The hand-written example must stay what the engine produces for the same text."""
    graph = pytest.importorskip("pointy_engine.graph")
    text = "Fetch -> Clean || Enrich |-> Score (0 -> Alert, 1 -> Save) -> Report"
    built = graph.build_graph(text)
    data = built.to_json()
    assert data["root"] == EXAMPLE_GRAPH["root"]
    assert [node["id"] for node in data["nodes"]] == EXAMPLE_IDS


# --- the timeline tab ----------------------------------------------------------------------------


def timeline_of(widget: RunWidget) -> dict[str, Any]:
    return json.loads(widget.timeline_json)


def test_the_timeline_is_laid_out_only_while_a_view_shows_it(harness: Harness) -> None:
    records = example_records()
    harness.run.emit_all(records[:6])
    harness.look(FULL_SYNC_EVERY)  # a full sync: no view asked for the timeline
    assert harness.widget.timeline_json == ""
    harness.send({"type": "view", "view": "timeline"})
    shown = timeline_of(harness.widget)
    assert [(bar["node"], bar["state"]) for bar in shown["bars"]] == [
        ("Fetch", "succeeded"),
        ("Clean", "succeeded"),
        ("Enrich", "running"),
    ]
    harness.run.emit_all(records[6:9])  # Enrich retries and succeeds
    harness.look(0.05)
    assert len(timeline_of(harness.widget)["bars"]) == 3  # not again within TIMELINE_EVERY
    harness.look(TIMELINE_EVERY)
    assert [bar["attempt"] for bar in timeline_of(harness.widget)["bars"]] == [1, 1, 1, 2]
    assert timeline_of(harness.widget)["waits"][0]["node"] == "Enrich"
    harness.send({"type": "view", "view": "graph"})
    before = harness.widget.timeline_json
    harness.run.emit_all(records[9:])
    harness.look(FULL_SYNC_EVERY)
    assert harness.widget.timeline_json == before  # nobody looks at it: not computed


def test_the_final_sync_leaves_the_whole_timeline(harness: Harness) -> None:
    harness.send({"type": "view", "view": "timeline"})
    finished(harness)
    layout = timeline_of(harness.widget)
    assert layout["end"] == pytest.approx(3.25)
    assert layout["critical_path"][-1] == "Report"
    assert {bar["state"] for bar in layout["bars"]} == {"succeeded", "failed", "retrying"}


def test_a_finished_run_shows_its_timeline_when_asked() -> None:
    harness = Harness()
    finished(harness)
    assert harness.widget.timeline_json == ""
    harness.send({"type": "view", "view": "timeline"})
    assert len(timeline_of(harness.widget)["bars"]) == 7  # Enrich twice, Save skipped


def test_the_dask_dashboard_link_is_set_only_for_a_run_on_a_dask_cluster(dask_client: Any) -> None:
    from test_engine_dask import HARD_TIMEOUT, Doubled, _notebook_events

    on_dask = Doubled(x=20).start(events=_notebook_events(), executor="dask", background=True)
    on_dask.wait(HARD_TIMEOUT)
    assert on_dask.status == "succeeded"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/status", on_dask.dashboard_link or "")
    widget = RunWidget(on_dask, clock=FakeClock(), ticker=FakeTicker())
    assert widget.dashboard == on_dask.dashboard_link

    inline = Doubled(x=20).start(events=_notebook_events())
    assert inline.dashboard_link is None
    widget.attach(inline)  # the next run, not on Dask: the link goes away
    assert widget.dashboard == ""


def test_a_dashboard_link_that_is_not_a_web_address_is_not_shown() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.dashboard_link = "javascript:alert(1)"  # type: ignore[attr-defined]
    assert RunReader(run).dashboard == ""
    run.dashboard_link = "https://dask.example:8787/status"  # type: ignore[attr-defined]
    assert RunReader(run).dashboard == "https://dask.example:8787/status"


def test_a_retried_nodes_detail_gives_its_last_attempt_and_its_whole_time() -> None:
    from pointy_engine import RetryPolicy, event
    from pointy_engine.graph import build_graph
    from pointy_engine.plan import Plan
    from pointy_engine.run import Run

    tries: list[float] = []

    @event(retry_policy=RetryPolicy(max_attempts=2, backoff_factor=0.2))  # 0.2 s before retry 2
    def flaky() -> tuple[bool, int]:
        tries.append(time.monotonic())
        if len(tries) == 1:
            raise OSError("busy")
        return True, 1

    run = Run(Plan(build_graph("flaky * 2"), {"flaky": flaky}))
    widget = RunWidget(run, clock=FakeClock(), ticker=FakeTicker())
    run.start()
    widget.finish()
    widget.select("flaky")
    detail, node = widget.detail, run.nodes["flaky"]
    assert detail["attempts"] == 2
    assert detail["total"] == round(node.finished - node.started, 6)
    assert detail["total"] >= 0.2 > detail["duration"]  # the wait counts in the whole time only
