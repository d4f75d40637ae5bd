"""Re-runs: everything, only what failed, or from one node on, reusing recorded values."""

from __future__ import annotations

import pytest
from engine_support import Log, node_trail, ok_pair, plan_flow, run_flow, states

from pointy_engine import Pipeline, PointyError, event


def failing_first(log: Log, name: str, times: int = 1):
    """Fails the first `times` calls, then returns `previous_result` tagged with a count."""
    calls = []

    def function(previous_result=None):
        calls.append(1)
        log.add((name, previous_result))
        if len(calls) <= times:
            raise RuntimeError(f"{name} failed #{len(calls)}")
        return f"{name}{len(calls)}"

    function.__name__ = name
    return function


def counting(log: Log, name: str):
    calls = []

    def function(previous_result=None):
        calls.append(1)
        log.add((name, previous_result))
        return f"{name}{len(calls)}"

    function.__name__ = name
    return function


def test_rerun_all_is_a_new_unstarted_run():
    log = Log()
    run = run_flow("A |-> B", {"A": counting(log, "A"), "B": counting(log, "B")})
    again = run.rerun("all")
    assert again is not run
    assert again.id != run.id
    assert again.status == "pending"
    assert not again.done
    assert again.start() is again
    assert log == [("A", None), ("B", "A1"), ("A", None), ("B", "A2")]
    assert run.values == {"A": "A1", "B": "B1"}
    assert again.values == {"A": "A2", "B": "B2"}


def test_rerun_failed_runs_only_the_failed_nodes_with_recorded_values_upstream():
    log = Log()
    events = {"A": counting(log, "A"), "B": failing_first(log, "B"), "C": counting(log, "C")}
    run = run_flow("A |-> B -> C", events)
    assert states(run) == {"A": "succeeded", "B": "failed", "C": "succeeded"}
    log.items.clear()
    again = run.rerun("failed").start()
    assert log == [("B", "A1")]  # A's recorded value, and C is not run again
    assert again.status == "succeeded"
    assert again.values == {"A": "A1", "B": "B2", "C": "C1"}
    assert node_trail(again) == [
        ("A", "succeeded"),
        ("B", "running"),
        ("B", "succeeded"),
        ("C", "succeeded"),
    ]
    reused = [r for r in again.records() if r.node == "A"]
    assert [(r.run_id, r.attempt, r.descriptor) for r in reused] == [(again.id, 1, 1)]


def test_rerun_failed_also_runs_what_never_ran():
    log = Log()
    A = event(ok_pair(failing_first(log, "A")), stop_on_exception=True)
    run = run_flow("A -> B", {"A": A, "B": counting(log, "B")})
    assert states(run) == {"A": "failed", "B": "skipped"}
    again = run.rerun("failed").start()
    assert states(again) == {"A": "succeeded", "B": "succeeded"}
    assert log == [("A", None), ("A", None), ("B", None)]


def test_a_reused_stop_on_success_still_stops():
    log = Log()
    A = event(ok_pair(counting(log, "A")), stop_on_success=True)
    run = run_flow("B -> A -> C", {"A": A, "B": failing_first(log, "B"), "C": counting(log, "C")})
    assert states(run) == {"B": "failed", "A": "succeeded", "C": "skipped"}
    log.items.clear()
    again = run.rerun("failed").start()
    assert log == [("B", None)]
    assert states(again) == {"B": "succeeded", "A": "succeeded", "C": "skipped"}
    assert again.stop_reason == "success"


def test_rerun_from_a_node_runs_it_and_everything_downstream():
    log = Log()
    events = {n: counting(log, n) for n in "ABCD"}
    run = run_flow("A |-> B |-> C -> D", events)
    log.items.clear()
    again = run.rerun("from", "B").start()
    assert log == [("B", "A1"), ("C", "B2"), ("D", None)]
    assert again.values == {"A": "A1", "B": "B2", "C": "C2", "D": "D2"}


def test_rerun_from_a_parallel_member():
    log = Log()
    events = {n: counting(log, n) for n in "ABCD"}
    run = run_flow("A -> B || C |-> D", events)
    log.items.clear()
    again = run.rerun("from", "C").start()
    assert log == [("C", None), ("D", ("B1", "C2"))]
    assert again.values["D"] == "D2"


def test_rerun_from_a_branch_keeps_the_recorded_choice_upstream():
    log = Log()
    events = {n: counting(log, n) for n in "AXYZ"}
    run = run_flow("A (0 -> X, 1 -> Y) -> Z", events)
    log.items.clear()
    again = run.rerun("from", "Z").start()
    assert log == [("Z", None)]
    assert states(again) == {"A": "succeeded", "X": "skipped", "Y": "succeeded", "Z": "succeeded"}

    log.items.clear()
    again = run.rerun("from", "A").start()
    assert log == [("A", None), ("Y", None), ("Z", None)]


def test_rerun_errors():
    run = run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2})
    with pytest.raises(PointyError) as caught:
        run.rerun("from", "X")
    assert str(caught.value) == "no node 'X' in this run; nodes: A, B"
    with pytest.raises(PointyError) as caught:
        run.rerun("some")
    assert str(caught.value) == "re-run mode is 'all', 'failed', 'from' or 'stale', not 'some'"


def test_rerun_of_a_pipeline_run_that_shut_its_executors_down():
    @event(executor="thread")
    def A():
        return True, "threaded"

    class Threaded(Pipeline):
        meta = {"pointy": "A |-> B"}

    run = Threaded().start(events={"A": A, "B": lambda previous_result: previous_result})
    assert run.plan.executors._closed
    again = run.rerun("all").start()
    assert again.status == "succeeded", again.errors
    assert again.values == {"A": "threaded", "B": "threaded"}
    assert again.plan.executors._closed  # the re-run owned (and shut down) fresh ones


def test_rerun_keeps_listeners_and_settings():
    seen = []
    log = Log()
    run = run_flow(
        "A -> B",
        {"A": failing_first(log, "A"), "B": counting(log, "B")},
        listeners=[seen.append],
        stop_on_error=True,
    )
    assert states(run) == {"A": "failed", "B": "skipped"}
    again = run.rerun("all").start()
    assert {r.run_id for r in seen} == {run.id, again.id}
    assert states(again) == {"A": "succeeded", "B": "succeeded"}


def test_rerun_with_a_new_plan_uses_redefined_events():
    log = Log()
    run = run_flow("A |-> B", {"A": counting(log, "A"), "B": failing_first(log, "B", times=5)})
    fixed = plan_flow("A |-> B", {"A": counting(log, "A"), "B": lambda previous_result: "fixed"})
    again = run.rerun("failed", plan=fixed).start()
    assert again.values == {"A": "A1", "B": "fixed"}
