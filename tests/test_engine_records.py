"""The record stream: one stream per run, listeners that cannot break it, the closing record."""

from __future__ import annotations

import pytest
from engine_support import WAIT, make_run, run_flow, trail

from pointy_engine import FakeClock, Record
from pointy_engine.records import ErrorInfo, ListenerFailedWarning, RecordStream


def test_listeners_see_exactly_the_records_of_the_run():
    first, second = [], []
    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listeners=[first.append])
    run.add_listener(second.append)
    run.start()
    assert first == second == run.records()
    assert all(type(record) is Record for record in first)
    assert run.records() is not run.records()  # a copy each time


def test_record_fields():
    clock = FakeClock(start=100.0)

    def B():
        raise ValueError("nope")

    run = run_flow("A -> B", {"A": lambda: 1, "B": B}, clock=clock)
    opening, a_running, a_done, b_running, b_failed, closing = run.records()
    assert opening == Record(run.id, "", "", 0, "running", 100.0, "MainThread", None, None)
    assert a_running == Record(run.id, "A", "A", 1, "running", 100.0, "MainThread", None, None)
    assert a_done == Record(run.id, "A", "A", 1, "succeeded", 100.0, "MainThread", None, 1)
    assert b_failed.error == run.nodes["B"].error
    assert (b_failed.state, b_failed.descriptor) == ("failed", 0)
    assert closing == Record(run.id, "", "", 0, "failed", 100.0, "MainThread", None, None)
    assert b_running.attempt == 1


def test_node_results_keep_state_value_error_and_timings():
    clock = FakeClock(start=5.0)
    run = run_flow("A", {"A": lambda: [1]}, clock=clock)
    result = run.nodes["A"]
    assert (result.id, result.event, result.state, result.value) == ("A", "A", "succeeded", [1])
    assert (result.attempts, result.descriptor, result.error) == (1, 1, None)
    assert (result.started, result.finished) == (5.0, 5.0)
    assert result.duration >= 0
    assert result.worker == "MainThread"
    assert repr(result) == "<NodeResult A succeeded attempts=1>"
    assert repr(run) == f"<Run {run.id} succeeded: 1 nodes (1 succeeded)>"


def test_a_raising_listener_is_reported_detached_and_the_run_goes_on():
    calls, healthy = [], []

    def fragile(record):
        calls.append(record.state)
        raise RuntimeError("widget went away")

    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listeners=[fragile, healthy.append])
    with pytest.warns(ListenerFailedWarning) as warned:
        run.start()
    assert calls == ["running"]  # called once, then detached
    assert healthy == run.records()
    assert run.status == "succeeded"
    assert len(warned) == 1
    assert str(warned[0].message) == (
        "record listener 'test_a_raising_listener_is_reported_detached_and_the_run_goes_on."
        "<locals>.fragile' raised RuntimeError: widget went away; it was detached and the run "
        "went on"
    )
    assert fragile not in run.stream.listeners


def test_listeners_can_be_removed():
    seen = []
    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2})

    def until_a_succeeded(record):
        seen.append(record)
        if record.node == "A" and record.state == "succeeded":
            run.remove_listener(until_a_succeeded)  # from its own call: nothing more comes

    run.add_listener(until_a_succeeded)
    run.start()
    assert [(r.node, r.state) for r in seen] == [
        ("", "running"),
        ("A", "running"),
        ("A", "succeeded"),
    ]
    assert run.stream.listeners == ()


@pytest.mark.parametrize(
    ("flow", "events", "status"),
    [
        ("A", {"A": lambda: 1}, "succeeded"),
        ("A", {"A": lambda: 1 / 0}, "failed"),
        ("A (0 -> B)", {"A": lambda: 1 / 0, "B": lambda: 1}, "succeeded"),
    ],
)
def test_every_run_ends_with_a_run_record(flow, events, status):
    run = run_flow(flow, events)
    closing = run.records()[-1]
    assert (closing.node, closing.event, closing.state) == ("", "", status)
    assert run.status == status
    assert run.done


def test_a_crash_inside_the_engine_still_closes_the_run():
    # A loop listener (engine-internal) raising something that is not an Exception is not
    # caught: the run ends as failed with a closing record that carries the error, then it
    # propagates.
    raised = []

    def exits(record):
        if record.node == "A" and not raised:
            raised.append(record)
            raise SystemExit("listener exits")

    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2})
    run.add_listener(exits, on_loop=True)
    with pytest.raises(SystemExit):
        run.start()
    closing = run.records()[-1]
    assert (closing.node, closing.state) == ("", "failed")
    assert str(closing.error) == "SystemExit: listener exits"
    assert run.status == "failed"
    assert run.done
    assert {key: result.state for key, result in run.nodes.items()} == {
        "A": "cancelled",  # abandoned while running
        "B": "cancelled",
    }
    assert [t for t in trail(run) if t[0] == "B"] == [("B", "cancelled", 0)]


def test_an_ordinary_listener_raising_system_exit_is_detached_and_the_run_goes_on():
    def exits(record):
        raise SystemExit("listener exits")

    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listeners=[exits])
    with pytest.warns(ListenerFailedWarning, match=r"'.*exits' raised SystemExit: listener exits"):
        run.start()
    assert run.status == "succeeded"
    assert run.stream.listeners == ()


def test_record_stream_alone():
    stream = RecordStream()
    seen = []
    stream.add_listener(seen.append)
    stream.add_listener(seen.append)  # once only
    record = Record("r", "A", "A", 1, "running", 0.0, "w")
    stream.emit(record)
    assert stream.flush(WAIT) == []  # delivered off the emitting thread: flush waits for it
    assert stream.records == seen == [record]
    stream.remove_listener(seen.append)
    stream.emit(record)
    assert stream.flush(WAIT) == []
    assert seen == [record]
    assert stream.listeners == ()


def test_error_info_from_an_exception():
    try:
        raise KeyError("missing")
    except KeyError as error:
        info = ErrorInfo.from_exception(error)
    assert (info.type, info.message) == ("KeyError", "'missing'")
    assert info.traceback.startswith("Traceback (most recent call last):")
    assert str(info) == "KeyError: 'missing'"
    assert str(ErrorInfo("StopIteration", "", "")) == "StopIteration"
