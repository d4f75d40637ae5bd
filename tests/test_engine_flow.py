"""Sequence, parallel groups and result pipes (SPEC 2.2, 2.3)."""

from __future__ import annotations

import threading
import time

import pytest
from engine_support import WAIT, Log, node_trail, piped, recorder, run_flow, states, trail

from pointy_engine import EventBase, EventExecutionEvaluationState, event
from pointy_engine.records import ErrorInfo


def test_sequence_runs_in_order_and_records_every_change():
    log = Log()
    run = run_flow("A -> B -> C", {n: recorder(log, n) for n in "ABC"})
    assert log == ["A", "B", "C"]
    assert run.status == "succeeded"
    assert run.values == {"A": "a", "B": "b", "C": "c"}
    assert run.value == "c"
    assert trail(run) == [
        ("", "running", 0),
        ("A", "running", 1),
        ("A", "succeeded", 1),
        ("B", "running", 1),
        ("B", "succeeded", 1),
        ("C", "running", 1),
        ("C", "succeeded", 1),
        ("", "succeeded", 0),
    ]
    assert {r.run_id for r in run.records()} == {run.id}


def test_sequence_continues_after_a_raised_failure():
    log = Log()
    events = {"A": recorder(log, "A", fail=ValueError("bad input 7")), "B": recorder(log, "B")}
    run = run_flow("A -> B", events)
    assert log == ["A", "B"]
    assert states(run) == {"A": "failed", "B": "succeeded"}
    assert run.status == "failed"
    error = run.nodes["A"].error
    assert (error.type, error.message) == ("ValueError", "bad input 7")
    assert "raise fail" in error.traceback
    assert run.errors == {"A": error}
    assert run.values == {"B": "b"}
    failed = [r for r in run.records() if r.node and r.state == "failed"]
    assert [(r.node, r.error, r.descriptor) for r in failed] == [("A", error, 0)]


def test_sequence_continues_after_a_returned_failure():
    log = Log()

    class A(EventBase, register=False):
        def process(self):
            log.add("A")
            return False, "no rows"

    run = run_flow("A -> B", {"A": A, "B": recorder(log, "B")})
    assert log == ["A", "B"]
    assert states(run) == {"A": "failed", "B": "succeeded"}
    assert run.nodes["A"].value == "no rows"
    assert run.nodes["A"].error == ErrorInfo(
        "EventReturnedFailure", "'no rows'", run.nodes["A"].error.traceback
    )


def test_then_gives_previous_result_none_and_pipe_gives_the_value():
    log = Log()

    @event
    def A():
        return True, 41

    class B(EventBase, register=False):
        def process(self):
            log.add(("B", self.previous_result))
            return True, 42

    def C(previous_result):
        log.add(("C", previous_result))
        return previous_result + 1

    run = run_flow("A -> B |-> C -> D", {"A": A, "B": B, "C": C, "D": piped(log, "D")})
    assert log == [("B", None), ("C", 42), ("D", None)]
    assert run.values == {"A": 41, "B": 42, "C": 43, "D": None}


def test_function_event_tuple_convention_and_plain_functions_values():
    @event
    def A():
        return True, (1, 2)

    def B(previous_result):
        return (False, previous_result)  # a plain function's value is its return value

    run = run_flow("A |-> B", {"A": A, "B": B})
    assert run.status == "succeeded"
    assert run.values == {"A": (1, 2), "B": (False, (1, 2))}


def test_parallel_members_overlap_in_time():
    spans = {}

    def sleeper(name):
        def function():
            started = time.monotonic()
            time.sleep(0.3)
            spans[name] = (started, time.monotonic())
            return name

        function.__name__ = name
        return function

    started = time.monotonic()
    run = run_flow("A || B", {"A": sleeper("A"), "B": sleeper("B")})
    total = time.monotonic() - started
    assert run.status == "succeeded"
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values())
    assert total < 0.55


def test_parallel_members_run_at_the_same_time_at_the_root():
    # Each member waits for the other to arrive: this only finishes if they overlap.
    barrier = threading.Barrier(2, timeout=WAIT)

    def meet(name):
        def function():
            barrier.wait()
            return name, threading.current_thread().name

        function.__name__ = name
        return function

    run = run_flow("A || B", {"A": meet("A"), "B": meet("B")})
    assert run.status == "succeeded"
    assert run.value == (run.values["A"], run.values["B"])
    assert run.values["A"][1] != run.values["B"][1]
    assert {run.nodes["A"].worker, run.nodes["B"].worker} == {
        run.values["A"][1],
        run.values["B"][1],
    }


def test_pipe_after_a_parallel_group_gets_a_tuple_in_written_order():
    b_done = threading.Event()
    log = Log()

    def A():
        assert b_done.wait(WAIT)  # A finishes last, yet comes first in the tuple
        log.add("A")
        return "a"

    def B():
        log.add("B")
        b_done.set()
        return "b"

    run = run_flow("A || B |-> C", {"A": A, "B": B, "C": piped(log, "C")})
    assert log == ["B", "A", ("C", ("a", "b"))]
    assert run.values["C"] == ("a", "b")


def test_pipe_after_a_parallel_group_leaves_out_failed_members():
    log = Log()
    events = {
        "A": recorder(log, "A"),
        "B": recorder(log, "B", fail=RuntimeError("down")),
        "C": recorder(log, "C"),
        "D": piped(log, "D"),
    }
    run = run_flow("A || B || C |-> D", events)
    assert log.items[-1] == ("D", ("a", "c"))
    assert states(run) == {"A": "succeeded", "B": "failed", "C": "succeeded", "D": "succeeded"}
    assert run.status == "failed"  # the group failed: all members had to succeed


def test_a_pipe_from_a_failed_event_skips_its_target():
    # SPEC 2.3: the target receives the source's value; a failed source has none to give.
    log = Log()
    events = {
        "Load": recorder(log, "Load", fail=RuntimeError("no file")),
        "Total": piped(log, "Total"),
        "Report": piped(log, "Report"),
    }
    run = run_flow("Load |-> Total -> Report", events)
    assert log == ["Load", ("Report", None)]  # Total never ran; -> still goes on
    assert states(run) == {"Load": "failed", "Total": "skipped", "Report": "succeeded"}
    assert [r.attempt for r in run.records() if r.node == "Total"] == [0]
    assert run.status == "failed"


def test_a_pipe_chain_after_a_failure_skips_every_piped_step():
    log = Log()
    events = {"A": recorder(log, "A", fail=RuntimeError("x")), "B": piped(log, "B")}
    run = run_flow("A |-> B |-> B |-> B", events)
    assert log == ["A"]
    assert states(run) == {"A": "failed", "B": "skipped", "B#2": "skipped", "B#3": "skipped"}


def test_a_pipe_from_an_event_that_returned_false_skips_its_target():
    log = Log()

    @event
    def Load():
        return False, "half a file"

    run = run_flow("Load |-> Total", {"Load": Load, "Total": piped(log, "Total")})
    assert log == []
    assert states(run) == {"Load": "failed", "Total": "skipped"}


def test_a_pipe_from_a_group_whose_members_all_failed_skips_its_target():
    log = Log()
    events = {
        "A": recorder(log, "A", fail=RuntimeError("a")),
        "B": recorder(log, "B", fail=RuntimeError("b")),
        "C": piped(log, "C"),
    }
    run = run_flow("A || B |-> C", events)
    assert sorted(log.items) == ["A", "B"]  # C never ran
    assert states(run)["C"] == "skipped"


def test_then_after_a_parallel_group_gives_none():
    log = Log()
    run = run_flow(
        "A || B -> C", {"A": recorder(log, "A"), "B": recorder(log, "B"), "C": piped(log, "C")}
    )
    assert log.items[-1] == ("C", None)
    assert run.status == "succeeded"


def test_pipe_into_a_parallel_group_reaches_every_member():
    log = Log()
    run = run_flow(
        "A |-> B || C", {"A": recorder(log, "A", 5), "B": piped(log, "B"), "C": piped(log, "C")}
    )
    assert sorted(log.items[1:]) == [("B", 5), ("C", 5)]
    assert run.value == (5, 5)


def test_nested_sequences_inside_a_parallel_group():
    log = Log()
    events = {n: recorder(log, n) for n in "ABCDE"}
    run = run_flow("A -> (B -> C) || D -> E", events)
    items = log.items
    assert items[0] == "A"
    assert items[-1] == "E"
    assert items.index("B") < items.index("C")
    assert sorted(items[1:4]) == ["B", "C", "D"]
    assert run.status == "succeeded"


@pytest.mark.parametrize(
    ("state", "one_fails", "all_fail"),
    [
        (EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS, "failed", "failed"),
        (EventExecutionEvaluationState.FAILURE_FOR_PARTIAL_ERROR, "failed", "failed"),
        (EventExecutionEvaluationState.SUCCESS_FOR_PARTIAL_SUCCESS, "succeeded", "failed"),
        (EventExecutionEvaluationState.FAILURE_FOR_ALL_EVENTS_FAILURE, "succeeded", "failed"),
    ],
)
def test_group_outcome_follows_the_evaluation_state(state, one_fails, all_fail):
    def build(fail_b):
        @event(execution_evaluation_state=state, executor="thread")
        def A():
            raise ValueError("a")

        @event
        def B():
            if fail_b:
                raise ValueError("b")
            return True, "b"

        return {"A": A, "B": B, "Y": lambda: "yes", "N": lambda: "no"}

    arm = {"succeeded": "Y", "failed": "N"}
    run = run_flow("A || B", build(False))
    assert run.status == one_fails
    run = run_flow("(A || B) (0 -> N, 1 -> Y)", build(False))
    assert states(run)[arm[one_fails]] == "succeeded"
    # A group failure that has a 0 arm to go to is handled: the run succeeds.
    assert run.status == "succeeded"
    run = run_flow("A || B", build(True))
    assert run.status == all_fail
    run = run_flow("(A || B) (0 -> N, 1 -> Y)", build(True))
    assert states(run) == {"A": "failed", "B": "failed", "N": "succeeded", "Y": "skipped"}


def test_group_state_given_by_name():
    @event(execution_evaluation_state="SUCCESS_FOR_PARTIAL_SUCCESS")
    def A():
        raise ValueError("a")

    run = run_flow("A || B", {"A": A, "B": lambda: 1})
    assert run.status == "succeeded"
    assert run.value == (1,)


def test_a_long_chain_runs_without_recursion():
    count = 10_000
    source = " |-> ".join(["Step"] * count)

    def Step(previous_result=None):
        return (previous_result or 0) + 1

    run = run_flow(source, {"Step": Step})
    assert run.status == "succeeded"
    assert run.value == count
    assert len(run.records()) == 2 * count + 2


def test_same_event_twice_gives_two_nodes():
    run = run_flow("A |-> A |-> A", {"A": lambda previous_result=None: (previous_result or 0) + 1})
    assert list(run.nodes) == ["A", "A#2", "A#3"]
    assert run.values == {"A": 1, "A#2": 2, "A#3": 3}
    assert [node for node, state in node_trail(run) if state == "succeeded"] == ["A", "A#2", "A#3"]


def test_an_event_value_is_its_own_object():
    payload = {"rows": [1, 2]}
    run = run_flow("A |-> B", {"A": lambda: payload, "B": lambda previous_result: previous_result})
    assert run.values["B"] is payload
