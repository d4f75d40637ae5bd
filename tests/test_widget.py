"""Headless tests of the run widget: records in, traits out; no kernel, no browser."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from widget_fixtures import (
    EXAMPLE_GRAPH,
    EXAMPLE_IDS,
    SCORE_ERROR,
    ErrorInfo,
    FakeClock,
    FakeRun,
    FakeScheduler,
    example_records,
    graph_json,
    rec,
    step,
)

from pointy_jupyter.widget import VALUE_LIMIT, RunWidget, short_repr
from pointy_jupyter.widget_state import (
    RunState,
    Throttle,
    arm_status,
    catch_up,
    controls_for,
    format_duration,
    iter_steps,
    rate_for,
    render_snapshot,
)

FINAL_NODES = {
    "Fetch": {"state": "succeeded", "attempts": 1, "duration": 0.5, "descriptor": 1},
    "Clean": {"state": "succeeded", "attempts": 1, "duration": 0.25, "descriptor": 1},
    "Enrich": {"state": "succeeded", "attempts": 2, "duration": 1.0, "descriptor": 1},
    "Score": {"state": "failed", "attempts": 1, "duration": 0.5, "descriptor": 0},
    "Alert": {"state": "succeeded", "attempts": 1, "duration": 0.25, "descriptor": 1},
    "Save": {"state": "skipped", "attempts": 0, "duration": None, "descriptor": None},
    "Report": {"state": "succeeded", "attempts": 1, "duration": 1.0, "descriptor": 1},
}
PENDING = {"state": "pending", "attempts": 0, "duration": None, "descriptor": None}


class Harness:
    """A widget on a fake run with a fake clock and scheduler, counting syncs of `nodes`."""

    def __init__(self, graph: dict[str, Any] = EXAMPLE_GRAPH, **kwargs: Any) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler()
        self.commands: list[dict[str, Any]] = []
        self.run = FakeRun.of(graph)
        kwargs.setdefault("on_command", self.commands.append)
        self.widget = RunWidget(self.run, clock=self.clock, schedule=self.scheduler, **kwargs)
        self.node_syncs = 0
        self.widget.observe(self._count, names="nodes")

    def _count(self, _change: object) -> None:
        self.node_syncs += 1

    def send(self, content: dict[str, Any]) -> None:
        """Deliver a front-end `model.send(content)` the way the comm does."""
        msg = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        self.widget._handle_msg(msg)


@pytest.fixture
def harness() -> Harness:
    return Harness()


def finished(harness: Harness) -> Harness:
    harness.run.emit_all(example_records())
    return harness


# --- RunState ------------------------------------------------------------------------------------


def test_run_state_folds_the_example_run() -> None:
    state = RunState()
    state.reset("r1", EXAMPLE_IDS)
    ends = [state.apply(record) for record in example_records()]
    assert ends == [False] * 16 + [True]
    assert state.nodes == FINAL_NODES
    assert state.status == "failed"
    assert state.message == "Score failed: ValueError: score < 0"
    assert state.counts() == {
        "pending": 0,
        "running": 0,
        "retrying": 0,
        "succeeded": 5,
        "failed": 1,
        "skipped": 1,
        "cancelled": 0,
    }
    assert state.workers["Score"] == "pointy-worker-0"


def test_run_state_shows_retrying_with_its_attempt() -> None:
    state = RunState()
    state.reset("r1", ["A"])
    state.apply(rec("A", "running", 1.0))
    state.apply(rec("A", "retrying", 1.5, 1))
    state.apply(rec("A", "running", 2.0, 2))
    assert state.nodes["A"] == {
        "state": "running",
        "attempts": 2,
        "duration": None,
        "descriptor": None,
    }
    assert state.status == "running"  # a node record means the run runs, even before its run record


def test_run_state_ignores_records_of_another_run() -> None:
    state = RunState()
    state.reset("r2", ["Fetch"])
    assert state.apply(rec("Fetch", "failed", 1.0, run_id="r1")) is False
    assert state.apply(rec("", "cancelled", 1.0, run_id="r1")) is False
    assert state.nodes["Fetch"] == PENDING
    assert state.status == "pending"


def test_run_state_messages_for_cancel_and_run_error() -> None:
    state = RunState()
    state.reset("r1", ["A"])
    assert state.apply(rec("", "cancelled", 1.0)) is True
    assert state.message == "cancelled"
    state.reset("r1", ["A"])
    state.apply(rec("", "failed", 1.0, error=ErrorInfo("KeyError", "'x'", "tb")))
    assert state.message == "run failed: KeyError: 'x'"


def test_run_state_keeps_unknown_nodes_and_reports_changes() -> None:
    state = RunState()
    state.reset("r1", ["A"])
    assert state.take_changes() == ({"A"}, True)
    state.apply(rec("B", "running", 1.0))
    assert state.take_changes() == ({"B"}, True)
    assert state.take_changes() == (set(), False)
    assert state.nodes["B"]["state"] == "running"


def test_node_views_are_fresh_copies() -> None:
    state = RunState()
    state.reset("r1", ["A"])
    views = state.node_views()
    views["A"]["state"] = "failed"
    assert state.nodes["A"]["state"] == "pending"


def test_catch_up_drops_records_seen_twice() -> None:
    history = [1, 2, 3, 4]
    assert catch_up(history, [3, 4, 5]) == [1, 2, 3, 4, 5]
    assert catch_up(history, [4]) == [1, 2, 3, 4]
    assert catch_up(history, [5, 6]) == [1, 2, 3, 4, 5, 6]
    assert catch_up([], [1]) == [1]


@pytest.mark.parametrize(
    ("status", "counts", "selected", "can", "expected"),
    [
        ("running", {}, None, True, (False, False, False, True)),
        ("pending", {}, "A", True, (False, False, False, True)),
        ("succeeded", {}, None, True, (True, False, False, False)),
        ("succeeded", {}, "A", True, (True, False, True, False)),
        ("succeeded", {"failed": 1}, "A", True, (True, True, True, False)),
        ("cancelled", {}, None, True, (True, True, False, False)),
        ("failed", {"failed": 2}, "A", False, (False, False, False, False)),
    ],
)
def test_controls(
    status: str, counts: dict[str, int], selected: str | None, can: bool, expected: tuple
) -> None:
    keys = ("rerun_all", "rerun_failed", "rerun_from", "cancel")
    assert controls_for(status, counts, selected, can) == dict(zip(keys, expected, strict=True))


def test_rate_for_slows_down_only_big_graphs() -> None:
    assert rate_for(7, 20.0) == 20.0
    assert rate_for(2000, 20.0) == 20.0
    assert rate_for(10_000, 20.0) == 4.0
    assert rate_for(1_000_000, 20.0) == 2.0


def test_iter_steps_walks_the_block_tree_in_source_order() -> None:
    assert list(iter_steps(EXAMPLE_GRAPH["root"])) == EXAMPLE_IDS


def test_iter_steps_handles_deep_nesting() -> None:
    block: dict[str, Any] = step("leaf")
    for _ in range(5000):
        block = {"kind": "sequence", "items": [block], "links": []}
    assert list(iter_steps(block)) == ["leaf"]


# --- Throttle ------------------------------------------------------------------------------------


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


def test_throttle_real_timer_delivers_the_trailing_flush() -> None:
    done = threading.Event()
    flushes: list[str] = []

    def flush() -> None:
        flushes.append(threading.current_thread().name)
        if len(flushes) == 2:
            done.set()

    throttle = Throttle(flush, max_rate=50)
    throttle.poke()
    throttle.poke()
    assert done.wait(5), "the trailing flush never came"
    assert flushes[0] == threading.current_thread().name
    assert flushes[1] != flushes[0]  # it ran on the timer's thread


# --- RunWidget: records in, traits out -----------------------------------------------------------


def test_attach_shows_the_graph_with_every_node_pending(harness: Harness) -> None:
    widget = harness.widget
    assert widget.graph == EXAMPLE_GRAPH
    assert widget.run_id == "r1"
    assert widget.status == "pending"
    assert widget.nodes == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert widget.controls == {
        "rerun_all": False,
        "rerun_failed": False,
        "rerun_from": False,
        "cancel": True,
    }
    assert harness.run.listeners == [widget.on_record]


def test_records_become_traits(harness: Harness) -> None:
    widget = finished(harness).widget
    assert widget.nodes == FINAL_NODES
    assert widget.status == "failed"
    assert widget.message == "Score failed: ValueError: score < 0"
    assert widget.controls == {
        "rerun_all": True,
        "rerun_failed": True,
        "rerun_from": False,
        "cancel": False,
    }


def test_a_burst_of_10000_records_makes_a_handful_of_syncs() -> None:
    ids = [f"E{i}" for i in range(2000)]
    chain = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * 1999}
    harness = Harness(graph_json(chain, ids))
    harness.node_syncs = 0
    records = [rec("", "running", 0.0)]
    for index, node in enumerate(ids):
        records += [rec(node, "running", index), rec(node, "succeeded", index + 0.5)]
    records += [rec(ids[7], "failed", 9000.0)] * 5999  # pad the burst to 10,000 records
    records.append(rec("", "failed", 9000.0))
    assert len(records) == 10_001
    harness.run.emit_all(records)
    assert harness.node_syncs <= 3
    assert harness.scheduler.live == []
    nodes = harness.widget.nodes
    assert nodes["E0"] == {"state": "succeeded", "attempts": 1, "duration": 0.5, "descriptor": None}
    assert nodes["E7"]["state"] == "failed"
    assert sum(view["state"] == "succeeded" for view in nodes.values()) == 1999
    assert harness.widget.status == "failed"


def test_records_from_an_engine_thread_with_the_real_timer() -> None:
    ids = [f"E{i}" for i in range(500)]
    chain = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * 499}
    run = FakeRun.of(graph_json(chain, ids))
    widget = RunWidget(run)  # real clock, real daemon timer
    syncs: list[str] = []
    widget.observe(lambda _change: syncs.append(threading.current_thread().name), names="nodes")
    records = [rec("", "running", 0.0)]
    for index, node in enumerate(ids):
        records += [rec(node, "running", index), rec(node, "retrying", index + 0.25)]
        records += [rec(node, "running", index + 0.5, 2), rec(node, "succeeded", index + 0.75, 2)]
    records.append(rec("", "succeeded", 600.0))
    engine = threading.Thread(target=run.emit_all, args=(records,), name="engine-loop")
    engine.start()
    engine.join()
    assert widget.status == "succeeded"
    assert widget.nodes == {
        node: {"state": "succeeded", "attempts": 2, "duration": 0.75, "descriptor": None}
        for node in ids
    }
    assert syncs  # synced while running; the final state above needed no timer to arrive
    assert not widget._throttle.pending
    assert widget.last_error is None


def test_trailing_flush_shows_what_came_inside_the_interval(harness: Harness) -> None:
    run, widget = harness.run, harness.widget
    run.emit(rec("", "running", 1.0))  # first record after attach's flush: inside the interval
    run.emit(rec("Fetch", "running", 1.0))
    assert widget.nodes["Fetch"]["state"] == "pending"
    harness.clock.advance(0.05)
    assert harness.scheduler.fire() == 1
    assert widget.nodes["Fetch"]["state"] == "running"
    assert widget.status == "running"


def test_no_sync_when_nothing_changed(harness: Harness) -> None:
    harness.node_syncs = 0
    harness.run.emit(rec("Fetch", "running", 1.0, run_id="other"))  # ignored: another run
    harness.clock.advance(1)
    harness.scheduler.fire()
    assert harness.node_syncs == 0


def test_attaching_late_catches_up_from_the_history() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    run.emit_all(example_records()[:5])
    widget = RunWidget(run, clock=FakeClock(), schedule=FakeScheduler())
    assert widget.nodes["Fetch"] == FINAL_NODES["Fetch"]
    assert widget.nodes["Enrich"]["state"] == "running"
    assert widget.status == "running"


def test_records_arriving_while_attaching_are_applied_once_in_order() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH)
    records = example_records()
    run.emit_all(records[:3])

    class RacingRun(FakeRun):
        def records(self) -> list[Any]:
            # The engine emits while the widget reads the history: the record is in both.
            self.emit(records[3])
            history = super().records()
            self.emit(records[4])
            return history

    racing = RacingRun(run.id, run.graph, nodes=run.nodes, history=run.history)
    widget = RunWidget(racing, clock=FakeClock(), schedule=FakeScheduler())
    assert widget.nodes["Clean"] == {
        "state": "running",
        "attempts": 1,
        "duration": None,
        "descriptor": None,
    }
    assert widget.nodes["Enrich"]["state"] == "running"


def test_attach_seeds_nodes_the_run_already_knows() -> None:
    run = FakeRun.of(EXAMPLE_GRAPH, "r2")
    run.nodes["Fetch"].state = "succeeded"  # reused by a re-run, no record for it
    run.nodes["Fetch"].attempts = 1
    run.nodes["Fetch"].duration = 0.5
    widget = RunWidget(run, clock=FakeClock(), schedule=FakeScheduler())
    assert widget.nodes["Fetch"] == {
        "state": "succeeded",
        "attempts": 1,
        "duration": 0.5,
        "descriptor": None,
    }


def test_attach_a_new_run_resets_and_moves_the_listener(harness: Harness) -> None:
    old, widget = finished(harness).run, harness.widget
    harness.send({"type": "select", "node": "Score"})
    new = FakeRun.of(EXAMPLE_GRAPH, "r2")
    widget.attach(new)
    assert old.listeners == []
    assert new.listeners == [widget.on_record]
    assert widget.run is new
    assert widget.run_id == "r2"
    assert widget.nodes == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert widget.status == "pending"
    assert widget.message == ""
    assert widget.selected is None
    assert widget.detail == {}
    old.emit(rec("Fetch", "failed", 5.0))  # a late record of the old run changes nothing
    assert widget.nodes["Fetch"] == PENDING


def test_show_graph_draws_a_plan_without_controls(harness: Harness) -> None:
    widget = finished(harness).widget
    widget.show_graph(EXAMPLE_GRAPH)
    assert harness.run.listeners == []
    assert widget.run is None
    assert widget.run_id is None
    assert widget.nodes == dict.fromkeys(EXAMPLE_IDS, PENDING)
    assert set(widget.controls.values()) == {False}
    assert repr(widget) == "RunWidget(run=None, status='pending', nodes=7, pending=7)"


def test_close_detaches_from_the_run(harness: Harness) -> None:
    harness.widget.close()
    assert harness.run.listeners == []


# --- the listener never breaks the run -----------------------------------------------------------


def test_a_bad_record_does_not_reach_the_run(harness: Harness) -> None:
    harness.run.emit(object())  # FakeRun lets listener errors propagate: none may escape
    widget = harness.widget
    error = "AttributeError: 'object' object has no attribute 'run_id'"
    assert widget.message == f"widget error: {error}"
    assert isinstance(widget.last_error, AttributeError)
    harness.run.emit_all(example_records())  # and the widget keeps working
    assert widget.nodes == FINAL_NODES


def test_a_failing_flush_does_not_reach_the_run(harness: Harness) -> None:
    def broken(_change: object) -> None:
        raise RuntimeError("front end gone")

    harness.widget.observe(broken, names="status")
    harness.run.emit(rec("", "cancelled", 1.0))
    assert harness.widget.message == "widget error: RuntimeError: front end gone"


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
    harness.run.emit(rec("Fetch", "running", 1.0))
    harness.run.emit(rec("", "cancelled", 2.0))
    assert harness.widget.detail["state"] == "running"


def test_select_none_clears_and_unknown_node_is_reported(harness: Harness) -> None:
    harness.send({"type": "select", "node": "Fetch"})
    harness.send({"type": "select", "node": None})
    assert harness.widget.selected is None
    assert harness.widget.detail == {}
    harness.send({"type": "select", "node": "Nope"})
    assert harness.widget.message == "unknown node: 'Nope'"
    assert harness.widget.selected is None


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
    assert set(harness.widget.controls.values()) == {False}
    harness.send({"type": "rerun", "mode": "all"})
    assert harness.widget.message == "re-run is not available here"


def test_a_rerun_handler_that_attaches_the_new_run(harness: Harness) -> None:
    finished(harness)
    widget = harness.widget
    new = FakeRun.of(EXAMPLE_GRAPH, "r2")
    widget._on_command = lambda _command: widget.attach(new)
    harness.send({"type": "rerun", "mode": "failed"})
    new.emit_all(example_records("r2"))
    assert widget.run_id == "r2"
    assert widget.nodes == FINAL_NODES


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
    assert '<span class="pointy-attempts"> ×2</span>' in html
    assert "<script" not in html


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
    root = {
        "kind": "sequence",
        "items": [
            step("Start"),
            {"kind": "parallel", "group": "g1", "members": [step(i) for i in ids]},
        ],
        "links": ["then"],
    }
    nodes = {
        i: {"state": "succeeded", "attempts": 1, "duration": 1.0, "descriptor": 1} for i in ids
    }
    nodes["W3"] = {"state": "failed", "attempts": 1, "duration": 1.0, "descriptor": 0}
    html = render_snapshot(graph_json(root, ["Start", *ids]), nodes, "running", "r9")
    assert list(node_states(html)) == ["Start"]
    assert 'class="pointy-parallel pointy-collapsed" data-group="g1"' in html
    assert "g1: 20 in parallel" in html
    assert "19 succeeded, 1 failed" in html


def test_snapshot_of_a_huge_graph_is_a_summary() -> None:
    ids = [f"E{i}" for i in range(2000)]
    chain = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * 1999}
    nodes = {
        i: {"state": "succeeded", "attempts": 1, "duration": 0.5, "descriptor": 1} for i in ids
    }
    html = render_snapshot(graph_json(chain, ids), nodes, "succeeded", "r1")
    assert node_states(html) == {}
    assert "2000 nodes: too many to draw here" in html
    assert "succeeded: 2000 succeeded" in html
    assert len(html) < 2000


def test_snapshot_without_a_run() -> None:
    html = RunWidget().snapshot_html()
    assert 'data-status="pending"' in html
    assert "Pointy run pending" in html


def test_arm_status() -> None:
    head = step("H")
    body = step("X")
    pending = {"state": "pending", "attempts": 0, "duration": None, "descriptor": None}
    assert arm_status(head, 1, body, {}) == "open"
    assert arm_status(head, 1, body, {"H": {**pending, "descriptor": 1}}) == "taken"
    assert arm_status(head, 0, body, {"H": {**pending, "descriptor": 1}}) == "not-taken"
    assert arm_status(head, 0, body, {"X": {**pending, "state": "running"}}) == "taken"
    assert arm_status(head, 0, body, {"X": {**pending, "state": "skipped"}}) == "not-taken"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0004, "0 ms"), (0.25, "250 ms"), (1.5, "1.50 s"), (59.994, "59.99 s"), (125.0, "2m 05.0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_static_files_ship_with_the_package() -> None:
    assert "export default" in str(RunWidget._esm)
    assert ".pointy-widget" in str(RunWidget._css)


def test_fixture_graph_matches_the_engine_graph_json() -> None:
    """The hand-written example must stay what the engine produces for the same text."""
    graph = pytest.importorskip("pointy_engine.graph")
    text = "Fetch -> Clean || Enrich |-> Score (0 -> Alert, 1 -> Save) -> Report"
    built = graph.build_graph(text)
    data = built.to_json()
    assert data["root"] == EXAMPLE_GRAPH["root"]
    assert [node["id"] for node in data["nodes"]] == EXAMPLE_IDS
