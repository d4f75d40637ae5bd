"""Retries with a fake clock, per-event timeouts, and the stop_on_* settings (SPEC 2.1, 2.5)."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from engine_support import WAIT, Log, make_run, ok_pair, recorder, run_flow, states, trail

from pointy_engine import EventBase, FakeClock, Pipeline, PointyError, RetryPolicy, event
from pointy_engine import clock as clock_module
from pointy_engine.clock import SystemClock
from pointy_engine.run.submit import STILL_RUNNING

STILL = f"; {STILL_RUNNING}"  # a timed-out thread body goes on: the error says so


def flaky(log: Log, name: str, failures: list[BaseException], value: object = "done"):
    """An event that raises the given exceptions in turn, then returns `value`."""
    remaining = list(failures)

    def function():
        log.add(name)
        if remaining:
            raise remaining.pop(0)
        return value

    function.__name__ = name
    return function


def with_policy(function, policy, **settings):
    return event(function, retry_policy=policy, **settings)


# ----- clocks ---------------------------------------------------------------------------------


def test_system_clock_waits_in_slices_for_a_message_or_a_timeout(monkeypatch):
    monkeypatch.setattr(clock_module, "SLICE", 0.01)
    inbox = queue.SimpleQueue()
    inbox.put("ready")
    assert SystemClock.wait(inbox, None) == "ready"
    started = time.monotonic()
    assert SystemClock.wait(inbox, 0.05) is None  # several slices, then the timeout
    assert time.monotonic() - started >= 0.05
    late = threading.Timer(0.05, inbox.put, ("late",))
    late.start()
    assert SystemClock.wait(inbox, None) == "late"  # a message after several empty slices
    late.join(WAIT)


def test_fake_clock_jumps_over_waits_unless_a_message_is_there():
    clock = FakeClock(start=10.0)
    inbox = queue.SimpleQueue()
    assert clock.wait(inbox, 2.5) is None
    assert (clock.now, clock.monotonic(), clock.time(), clock.waits) == (12.5, 12.5, 12.5, [2.5])
    inbox.put("message")
    assert clock.wait(inbox, 30) == "message"
    assert clock.now == 12.5


# ----- the policy value ---------------------------------------------------------------------


def test_delay_doubles_up_to_the_maximum():
    policy = RetryPolicy(max_attempts=6, backoff_factor=0.5, max_backoff=3.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_should_retry_filters_by_isinstance_and_counts_attempts():
    policy = RetryPolicy(max_attempts=3, retry_on_exceptions=(ConnectionError,))
    assert policy.should_retry(ConnectionResetError(), 1)
    assert policy.should_retry(ConnectionError(), 2)
    assert not policy.should_retry(ConnectionError(), 3)
    assert not policy.should_retry(TimeoutError(), 1)
    assert policy.should_retry(TimeoutError(), 1, max_attempts=5) is False
    assert RetryPolicy(max_attempts=2).should_retry(KeyError(), 1)


def test_a_policy_may_be_a_dict():
    policy = RetryPolicy.coerce(
        {"max_attempts": 5, "backoff_factor": 0.1, "retry_on_exceptions": [ConnectionError]}
    )
    assert policy == RetryPolicy(5, 0.1, 60.0, (ConnectionError,))
    assert RetryPolicy(retry_on_exceptions=ValueError).retry_on_exceptions == (ValueError,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"max_attempts": 0}, "RetryPolicy.max_attempts must be at least 1, not 0"),
        ({"max_attempts": 2.5}, "RetryPolicy.max_attempts must be an int, not 2.5"),
        ({"max_attempts": True}, "RetryPolicy.max_attempts must be an int, not True"),
        ({"backoff_factor": -1}, "RetryPolicy.backoff_factor must be a number >= 0, not -1"),
        ({"max_backoff": "1"}, "RetryPolicy.max_backoff must be a number >= 0, not '1'"),
        (
            {"retry_on_exceptions": [int]},
            "RetryPolicy.retry_on_exceptions must hold exception classes, not <class 'int'>",
        ),
        (
            {"attempts": 3},
            "unknown retry policy key 'attempts'; known keys: max_attempts, backoff_factor, "
            "max_backoff, retry_on_exceptions",
        ),
    ],
)
def test_policy_validation_messages(value, message):
    with pytest.raises(PointyError) as caught:
        RetryPolicy.coerce(value)
    assert str(caught.value) == message


def test_policy_errors_name_the_event():
    with pytest.raises(PointyError) as caught:
        event(lambda: 1, name="Fetch", retry_policy=3)
    assert str(caught.value) == "event 'Fetch': a retry policy is a RetryPolicy or a dict, not int"

    class Load(EventBase, register=False):
        retry_policy = {"max_attempts": -2}

        def process(self):
            return True, 1

    with pytest.raises(PointyError) as caught:
        run_flow("Load", {"Load": Load})
    assert str(caught.value) == "event 'Load': RetryPolicy.max_attempts must be at least 1, not -2"


def test_a_policy_is_frozen():
    policy = RetryPolicy(max_attempts=2)
    with pytest.raises(AttributeError):
        policy.max_attempts = 5  # type: ignore[misc]


# ----- retries in a run ----------------------------------------------------------------------


def test_retries_wait_the_backoff_and_record_each_attempt():
    log = Log()
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=4, backoff_factor=0.5, max_backoff=1.5)
    A = with_policy(flaky(log, "A", [ConnectionError(f"try {n}") for n in range(1, 9)]), policy)
    run = run_flow("A -> B", {"A": A, "B": recorder(log, "B")}, clock=clock)
    assert log == ["A", "A", "A", "A", "B"]
    assert clock.waits == [0.5, 1.0, 1.5]  # no wait after the last attempt
    assert run.nodes["A"].attempts == 4
    assert run.nodes["A"].state == "failed"
    assert run.nodes["A"].error.message == "try 4"
    assert [t for t in trail(run) if t[0] == "A"] == [
        ("A", "running", 1),
        ("A", "retrying", 1),
        ("A", "running", 2),
        ("A", "retrying", 2),
        ("A", "running", 3),
        ("A", "retrying", 3),
        ("A", "running", 4),
        ("A", "failed", 4),
    ]
    retrying = [r for r in run.records() if r.state == "retrying"]
    assert [r.error.message for r in retrying] == ["try 1", "try 2", "try 3"]
    assert [r.time for r in retrying] == [1_000_000.0, 1_000_000.5, 1_000_001.5]


def test_a_retry_that_succeeds():
    log = Log()
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, backoff_factor=2)
    A = with_policy(ok_pair(flaky(log, "A", [OSError(), OSError()], value=99)), policy)
    run = run_flow("A", {"A": A}, clock=clock)
    assert clock.waits == [2, 4]
    assert run.status == "succeeded"
    assert (run.nodes["A"].attempts, run.nodes["A"].value, run.nodes["A"].error) == (3, 99, None)


def test_retry_on_exceptions_filters_by_isinstance():
    log = Log()
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, retry_on_exceptions=(ConnectionError,))
    A = with_policy(
        flaky(log, "A", [ConnectionResetError(), BrokenPipeError(), KeyError("k")]), policy
    )
    run = run_flow("A", {"A": A}, clock=clock)
    assert log == ["A", "A", "A"]  # two ConnectionErrors retried, the KeyError is not
    assert run.nodes["A"].attempts == 3
    assert run.nodes["A"].error.type == "KeyError"


def test_a_returned_failure_is_not_retried():
    calls = Log()

    @event(retry_policy={"max_attempts": 3})
    def A():
        calls.add("A")
        return False, "no"

    run = run_flow("A", {"A": A}, clock=FakeClock())
    assert calls == ["A"]
    assert run.nodes["A"].attempts == 1


def test_retry_factor_overrides_max_attempts_for_that_occurrence_only():
    log = Log()
    policy = RetryPolicy(max_attempts=5, backoff_factor=1)
    A = with_policy(flaky(log, "A", [ValueError()] * 20), policy)
    clock = FakeClock()
    run = run_flow("A * 3 -> A -> 2 * A", {"A": A}, clock=clock)
    assert [run.nodes[n].attempts for n in ("A", "A#2", "A#3")] == [3, 5, 2]
    assert clock.waits == [1, 2, 1, 2, 4, 8, 1]
    assert policy.max_attempts == 5
    assert A.event_settings.retry_policy is policy


def test_retry_factor_on_an_event_without_a_policy():
    log = Log()
    clock = FakeClock()
    run = run_flow("A * 3", {"A": flaky(log, "A", [ValueError(), ValueError()])}, clock=clock)
    assert log == ["A", "A", "A"]
    assert clock.now == 1_000_000.0  # no backoff: no time passes
    assert run.status == "succeeded"


def test_retry_factor_on_a_group_reaches_every_member():
    log = Log()
    events = {
        "A": flaky(log, "A", [ValueError()]),
        "B": flaky(log, "B", [ValueError(), ValueError()]),
    }
    run = run_flow("(A || B) * 3", events, clock=FakeClock())
    assert run.status == "succeeded"
    assert (run.nodes["A"].attempts, run.nodes["B"].attempts) == (2, 3)


def test_a_retrying_branch_head_chooses_its_arm_after_the_last_attempt():
    log = Log()
    events = {
        "A": flaky(log, "A", [ValueError()] * 5),
        "X": recorder(log, "X"),
        "Y": recorder(log, "Y"),
    }
    run_flow("A (0 -> X, 1 -> Y) * 2", events, clock=FakeClock())
    assert log == ["A", "A", "X"]


def test_waiting_for_a_retry_does_not_hold_a_worker():
    # One worker for both: B must run while A waits for its second attempt.
    log = Log()
    policy = RetryPolicy(max_attempts=2, backoff_factor=0.2)
    A = with_policy(
        ok_pair(flaky(log, "A", [ValueError()])), policy, executor="thread", max_workers=1
    )
    B = event(ok_pair(recorder(log, "B")), executor="thread", max_workers=1)
    run = run_flow("A || B", {"A": A, "B": B})
    assert log == ["A", "B", "A"]
    assert run.status == "succeeded"


# ----- timeouts -------------------------------------------------------------------------------


def test_an_event_that_runs_too_long_times_out_and_the_run_goes_on():
    release = threading.Event()
    log = Log()

    @event(executor="thread", timeout=0.2)
    def A():
        release.wait(WAIT)
        log.add("A finished late")

    try:
        started = time.monotonic()
        run = run_flow("A -> B", {"A": A, "B": recorder(log, "B")})
        assert time.monotonic() - started < WAIT / 2
        assert log == ["B"]
        assert states(run) == {"A": "failed", "B": "succeeded"}
        assert str(run.nodes["A"].error) == "TimeoutError: event 'A' timed out after 0.2 s" + STILL
    finally:
        release.set()


def test_a_timeout_is_retried_like_any_exception():
    release = threading.Event()
    attempts = Log()

    @event(executor="thread", timeout=0.05)
    def A():
        attempts.add(1)
        release.wait(WAIT)

    try:
        run = run_flow("A * 2", {"A": A})
        assert run.nodes["A"].attempts == 2
        assert [t for t in trail(run) if t[0] and t[1] in ("retrying", "failed")] == [
            ("A", "retrying", 1),
            ("A", "failed", 2),
        ]
    finally:
        release.set()


def test_a_finished_event_does_not_wait_for_its_timeout():
    @event(executor="thread", timeout=30)
    def A():
        return True, 1

    started = time.monotonic()
    run = run_flow("A -> A", {"A": A})
    assert run.status == "succeeded"
    assert time.monotonic() - started < 5


def test_an_inline_event_with_a_timeout_runs_on_a_thread_so_it_can_time_out():
    release = threading.Event()

    @event(timeout=0.1)
    def A():
        release.wait(WAIT)

    try:
        run = run_flow("A", {"A": A})
        assert run.nodes["A"].error.type == "TimeoutError"
        assert threading.current_thread().name not in [r.worker for r in run.records() if r.node]
    finally:
        release.set()


def test_timeout_validation():
    with pytest.raises(PointyError) as caught:
        event(lambda: 1, name="A", timeout=0)
    assert str(caught.value) == "event 'A': timeout must be a positive number of seconds, not 0"


# ----- stop_on_* ------------------------------------------------------------------------------


def _raises(log, name):
    return recorder(log, name, fail=ValueError("boom"))


def _succeeds(log, name):
    return ok_pair(recorder(log, name))


def _returns_false(log, name):
    def function():
        log.add(name)
        return False, "no"

    function.__name__ = name
    return event(function)  # a plain function's (False, ...) would be its value


@pytest.mark.parametrize(
    ("setting", "body", "stops"),
    [
        ("stop_on_exception", "raise", True),
        ("stop_on_exception", "return", False),
        ("stop_on_error", "raise", True),
        ("stop_on_error", "return", True),
        ("stop_on_success", "succeed", True),
        ("stop_on_success", "raise", False),
    ],
)
def test_event_stop_settings(setting, body, stops):
    log = Log()
    make = {"raise": _raises, "return": _returns_false, "succeed": _succeeds}[body]
    A = event(make(log, "A"), **{setting: True})
    run = run_flow("A -> B -> C", {"A": A, "B": recorder(log, "B"), "C": recorder(log, "C")})
    if stops:
        assert log == ["A"]
        assert states(run)["B"] == states(run)["C"] == "skipped"
        assert run.stop_reason == ("success" if body == "succeed" else "error")
        assert run.status == ("succeeded" if body == "succeed" else "failed")
    else:
        assert log == ["A", "B", "C"]
        assert run.stop_reason is None


def test_class_event_stop_setting():
    log = Log()

    class A(EventBase, register=False):
        stop_on_exception = True

        def process(self):
            raise RuntimeError("stop here")

    run = run_flow("A -> B", {"A": A, "B": recorder(log, "B")})
    assert log == []
    assert states(run) == {"A": "failed", "B": "skipped"}


def test_run_level_stop_on_error():
    log = Log()
    events = {"A": _returns_false(log, "A"), "B": recorder(log, "B")}
    run = run_flow("A -> B", events, stop_on_error=True)
    assert log == ["A"]
    assert run.status == "failed"
    assert states(run) == {"A": "failed", "B": "skipped"}

    class P(Pipeline):
        class Meta:
            pointy = "A -> B"

    log = Log()
    run = P().start(events={"A": _raises(log, "A"), "B": recorder(log, "B")}, stop_on_error=True)
    assert log == ["A"]
    run = P().start(
        events={"A": _returns_false(log, "A"), "B": recorder(log, "B")}, stop_on_exception=True
    )
    assert log == ["A", "A", "B"]


def test_a_handled_failure_still_stops_the_run_when_asked():
    log = Log()
    events = {"A": _raises(log, "A"), "X": recorder(log, "X"), "Z": recorder(log, "Z")}
    run = run_flow("A (0 -> X) -> Z", events, stop_on_error=True)
    assert log == ["A"]
    assert states(run) == {"A": "failed", "X": "skipped", "Z": "skipped"}
    assert run.status == "failed"


def test_a_stop_ends_retry_waits_at_once():
    # B waits 60 s for its second attempt when A stops the run: B fails now, with its error.
    log = Log()
    b_waits = threading.Event()

    @event(executor="thread", stop_on_exception=True)
    def A():
        assert b_waits.wait(WAIT)
        raise RuntimeError("stop")

    B = with_policy(
        flaky(log, "B", [ValueError("b1"), ValueError("b2")]),
        RetryPolicy(max_attempts=3, backoff_factor=60),
        executor="thread",
    )
    run = make_run("A || B -> C", {"A": A, "B": B, "C": recorder(log, "C")})
    run.add_listener(lambda r: b_waits.set() if r.state == "retrying" else None)
    started = time.monotonic()
    run.start()
    assert time.monotonic() - started < WAIT / 2
    assert log == ["B"]
    assert states(run) == {"A": "failed", "B": "failed", "C": "skipped"}
    assert run.nodes["B"].error.message == "b1"
    assert [t for t in trail(run) if t[0] == "B"][-1] == ("B", "failed", 1)
