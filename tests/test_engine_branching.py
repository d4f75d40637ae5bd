"""Branch arms, descriptors, sinks and skipped arms (SPEC 2.4)."""

from __future__ import annotations

import pytest
from engine_support import Log, node_trail, piped, recorder, run_flow, states

from pointy_engine import EventBase, Outcome, PointyError, event


def _events(log: Log, **overrides):
    events = {name: recorder(log, name) for name in "ABCDEFTXYZ"}
    events.update(overrides)
    return events


def test_root_sink_after_success():
    log = Log()
    run = run_flow("A (0 -> X, 1 -> Y) -> Z", _events(log))
    assert log == ["A", "Y", "Z"]
    assert states(run) == {"A": "succeeded", "X": "skipped", "Y": "succeeded", "Z": "succeeded"}
    assert run.status == "succeeded"
    assert node_trail(run) == [
        ("A", "running"),
        ("A", "succeeded"),
        ("X", "skipped"),
        ("Y", "running"),
        ("Y", "succeeded"),
        ("Z", "running"),
        ("Z", "succeeded"),
    ]
    finished = [r for r in run.records() if r.node == "A" and r.state == "succeeded"]
    assert finished[0].descriptor == 1


def test_root_sink_after_failure_takes_the_zero_arm():
    log = Log()
    run = run_flow("A (0 -> X, 1 -> Y) -> Z", _events(log, A=recorder(log, "A", fail=OSError())))
    assert log == ["A", "X", "Z"]
    assert states(run) == {"A": "failed", "X": "succeeded", "Y": "skipped", "Z": "succeeded"}
    # The failure had an arm to go to: it is handled, and the run succeeds.
    assert run.status == "succeeded"
    assert run.nodes["A"].descriptor == 0


def test_failure_without_a_zero_arm_goes_on_to_the_sink_and_fails_the_run():
    log = Log()
    run = run_flow("A (1 -> Y) -> Z", _events(log, A=recorder(log, "A", fail=OSError("x"))))
    assert log == ["A", "Z"]
    assert states(run) == {"A": "failed", "Y": "skipped", "Z": "succeeded"}
    assert run.status == "failed"


def test_branch_inside_a_sequence():
    log = Log()
    run = run_flow("A -> B (0 -> C, 1 -> D)", _events(log))
    assert log == ["A", "B", "D"]
    assert states(run)["C"] == "skipped"


def test_nested_arms():
    log = Log()
    flow = "A (1 -> B (0 -> C, 1 -> D) -> E, 0 -> F) -> T"
    run = run_flow(flow, _events(log, B=recorder(log, "B", fail=KeyError("k"))))
    assert log == ["A", "B", "C", "E", "T"]
    assert states(run) == {
        "A": "succeeded",
        "B": "failed",
        "C": "succeeded",
        "D": "skipped",
        "E": "succeeded",
        "F": "skipped",
        "T": "succeeded",
    }
    assert run.status == "succeeded"


def test_every_node_of_an_untaken_arm_is_skipped():
    log = Log()
    run = run_flow("A (0 -> B -> C || D (1 -> E), 1 -> F) -> T", _events(log))
    assert log == ["A", "F", "T"]
    skipped = [r.node for r in run.records() if r.state == "skipped"]
    assert skipped == ["B", "C", "D", "E"]
    assert all(r.attempt == 0 for r in run.records() if r.state == "skipped")


def test_an_arm_may_hold_a_parallel_group_and_a_group_may_branch():
    log = Log()
    events = _events(log, B=piped(log, "B"), C=piped(log, "C"), D=piped(log, "D"))
    run = run_flow("A (1 |-> B || C) |-> D", events)
    assert sorted(log.items[1:3]) == [("B", "a"), ("C", "a")]
    assert log.items[3] == ("D", ("a", "a"))
    log = Log()
    run = run_flow("(A || B) (0 -> X, 1 |-> Y) |-> Z", _events(log, Y=piped(log, "Y")))
    assert log.items[2:] == [("Y", ("a", "b")), "Z"]
    assert run.values["Z"] == "z"


def test_the_readme_example():
    log = Log()
    flow = "A -> B (0->C (0 |-> T, 1 -> Z), 1 -> E) -> F (0 -> Y, 1 -> Z)"
    run = run_flow(flow, _events(log, B=recorder(log, "B", fail=ValueError("b"))))
    assert log == ["A", "B", "C", "Z", "F", "Z"]
    assert states(run) == {
        "A": "succeeded",
        "B": "failed",
        "C": "succeeded",
        "T": "skipped",
        "Z": "succeeded",
        "E": "skipped",
        "F": "succeeded",
        "Y": "skipped",
        "Z#2": "succeeded",
    }


@pytest.mark.parametrize("descriptor", range(2, 10))
def test_function_events_choose_an_arm_with_outcome(descriptor):
    log = Log()

    @event
    def A():
        return Outcome(descriptor=descriptor, value="chosen")

    arms = ", ".join(f"{d} |-> B{d}" for d in range(10))
    events = {"A": A, **{f"B{d}": piped(log, f"B{d}") for d in range(10)}}
    run = run_flow(f"A ({arms}) |-> Z", {**events, "Z": piped(log, "Z")})
    assert log == [(f"B{descriptor}", "chosen"), ("Z", "chosen")]
    assert run.nodes["A"].descriptor == descriptor
    assert [r.descriptor for r in run.records() if r.node == "A"] == [None, descriptor]
    skipped = {node for node, state in states(run).items() if state == "skipped"}
    assert skipped == {f"B{d}" for d in range(10)} - {f"B{descriptor}"}
    assert run.status == "succeeded"


@pytest.mark.parametrize("descriptor", range(2, 10))
def test_class_events_choose_an_arm_with_goto(descriptor):
    log = Log()

    class A(EventBase, register=False):
        def process(self):
            self.goto(descriptor)
            return True, "went"

    arms = ", ".join(f"{d} |-> B{d}" for d in range(10))
    events = {"A": A, **{f"B{d}": piped(log, f"B{d}") for d in range(10)}}
    run = run_flow(f"A ({arms})", events)
    assert log == [(f"B{descriptor}", "went")]
    assert run.nodes["A"].descriptor == descriptor


def test_class_events_may_return_an_outcome():
    log = Log()

    class A(EventBase, register=False):
        def process(self):
            return Outcome(descriptor=3, value=[1])

    run = run_flow("A (3 |-> B, 1 -> C)", _events(log, A=A, B=piped(log, "B")))
    assert log == [("B", [1])]
    assert states(run) == {"A": "succeeded", "B": "succeeded", "C": "skipped"}


def test_outcome_zero_is_a_failure_and_one_a_success():
    log = Log()
    run = run_flow(
        "A (0 |-> X, 1 -> Y) -> B (0 -> C, 1 |-> D)",
        _events(
            log,
            A=lambda: Outcome(0, "why"),
            B=lambda: Outcome(1, "fine"),
            X=piped(log, "X"),
            D=piped(log, "D"),
        ),
    )
    assert log == [("X", "why"), ("D", "fine")]
    assert states(run)["A"] == "failed"
    assert run.nodes["A"].error.type == "EventReturnedFailure"


def test_a_chosen_arm_that_is_absent_continues_to_the_sink():
    log = Log()

    @event
    def A():
        return Outcome(descriptor=7, value="seven")

    run = run_flow("A (0 -> X, 1 -> Y) |-> Z", _events(log, A=A, Z=piped(log, "Z")))
    assert log == [("Z", "seven")]
    assert states(run) == {"A": "succeeded", "X": "skipped", "Y": "skipped", "Z": "succeeded"}
    assert run.status == "succeeded"


def test_an_arm_may_pipe_the_failed_value():
    log = Log()

    @event
    def A():
        return False, {"reason": "empty"}

    run_flow("A (0 |-> T)", _events(log, A=A, T=piped(log, "T")))
    assert log == [("T", {"reason": "empty"})]


def test_the_sink_gets_the_arm_result_through_a_pipe():
    log = Log()
    run = run_flow(
        "A (1 |-> B) |-> C",
        _events(
            log, A=lambda: 2, B=lambda previous_result: previous_result * 10, C=piped(log, "C")
        ),
    )
    assert log == [("C", 20)]
    assert run.value == 20


def test_goto_works_when_a_subclass_skips_eventbase_init():
    class A(EventBase, register=False):
        def __init__(self, previous_result=None):
            self.previous_result = previous_result  # no super().__init__()

        def process(self):
            if self.previous_result is None:
                return True, "no choice"
            self.goto(2)
            return True, "chose"

    log = Log()
    run = run_flow("A (1 -> X, 2 -> Y)", _events(log, A=A))
    assert log == ["X"]
    run = run_flow("B |-> A (1 -> X, 2 -> Y)", _events(log, A=A))
    assert log == ["X", "B", "Y"]
    assert run.values["A"] == "chose"


def test_descriptors_are_validated():
    with pytest.raises(PointyError, match=r"^Outcome.descriptor must be 0..9, not 10$"):
        Outcome(descriptor=10)
    with pytest.raises(PointyError, match=r"^Outcome.descriptor must be an int 0..9, not True$"):
        Outcome(descriptor=True)

    class A(EventBase, register=False):
        def process(self):
            self.goto(12)
            return True, None

    run = run_flow("A (1 -> B)", {"A": A, "B": lambda: 1})
    assert states(run) == {"A": "failed", "B": "skipped"}
    assert str(run.nodes["A"].error) == "PointyError: Outcome.descriptor must be 0..9, not 12"
