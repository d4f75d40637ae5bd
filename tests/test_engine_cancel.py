"""Cancelling runs: from another thread, during retry waits, in the background, and Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest
from engine_support import WAIT, Log, make_run, recorder, states, trail

from pointy_engine import PointyError, RetryPolicy, event
from pointy_engine.clock import SystemClock
from pointy_engine.run import Run


def blocking(name: str, started: threading.Event, release: threading.Event, log: Log):
    """A thread event that says it started, then waits to be released."""

    @event(executor="thread", name=name)
    def function():
        started.set()
        release.wait(WAIT)
        log.add(name)
        return True, name

    return function


def in_thread(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def assert_cancelled_cleanly(run, expected_states):
    assert run.done
    assert run.status == "cancelled"
    assert states(run) == expected_states
    last = run.records()[-1]
    assert (last.node, last.state) == ("", "cancelled")
    assert sum(1 for r in run.records() if not r.node and r.state != "running") == 1


def test_cancel_from_another_thread_mid_run():
    log, started, release = Log(), threading.Event(), threading.Event()
    run = make_run(
        "A -> B -> C",
        {
            "A": blocking("A", started, release, log),
            "B": recorder(log, "B"),
            "C": recorder(log, "C"),
        },
    )

    def cancel_when_started():
        assert started.wait(WAIT)
        run.cancel()

    helper = in_thread(cancel_when_started)
    try:
        began = time.monotonic()
        run.start()
        assert time.monotonic() - began < WAIT / 2
        assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled", "C": "cancelled"})
        assert [t for t in trail(run) if t[0] == "A"] == [
            ("A", "running", 1),
            ("A", "cancelled", 1),
        ]
        count = len(run.records())
    finally:
        release.set()
        helper.join(WAIT)
    assert log == []  # B and C never ran
    run.plan.executors.shutdown(wait=True)  # A's late result arrives now: it must be dropped
    assert len(run.records()) == count
    assert run.nodes["A"].value is None


def test_cancel_reaches_a_run_busy_with_inline_events():
    # The loop never waits between inline events: the cancel must still stop the chain.
    log, started, release = Log(), threading.Event(), threading.Event()

    def A():
        started.set()
        assert release.wait(WAIT)
        log.add("A")
        return "a"

    run = make_run("A -> B -> C", {"A": A, "B": recorder(log, "B"), "C": recorder(log, "C")})

    def cancel_then_release():
        assert started.wait(WAIT)
        run.cancel()
        release.set()

    helper = in_thread(cancel_then_release)
    run.start()
    helper.join(WAIT)
    assert log == ["A"]  # A was running: it finishes, and its value stands
    assert_cancelled_cleanly(run, {"A": "succeeded", "B": "cancelled", "C": "cancelled"})
    assert run.values == {"A": "a"}


def test_cancel_during_the_last_blocked_inline_event_ends_cancelled():
    # Nothing follows A, so no later start sees the request: the end itself must.
    started, release = threading.Event(), threading.Event()

    def A():
        started.set()
        assert release.wait(WAIT)
        return "a"

    run = make_run("A", {"A": A})

    def cancel_then_release():
        assert started.wait(WAIT)
        run.cancel()
        release.set()

    helper = in_thread(cancel_then_release)
    run.start()
    helper.join(WAIT)
    assert_cancelled_cleanly(run, {"A": "succeeded"})
    assert run.values == {"A": "a"}  # it finished before the run ended: its value stands


def test_cancel_a_background_run():
    log, started, release = Log(), threading.Event(), threading.Event()
    run = make_run("A -> B", {"A": blocking("A", started, release, log), "B": recorder(log, "B")})
    try:
        assert run.status == "pending"
        assert run.start(background=True) is run
        assert run.status == "running"  # at once, not when the loop thread gets going
        assert started.wait(WAIT)
        assert not run.done
        run.cancel()
        run.wait(WAIT)
        assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled"})
    finally:
        release.set()


def test_cancel_during_a_retry_wait():
    log = Log()
    retrying = threading.Event()

    @event(retry_policy=RetryPolicy(max_attempts=3, backoff_factor=60))
    def A():
        log.add("A")
        raise ConnectionError("refused")

    run = make_run("A -> B", {"A": A, "B": recorder(log, "B")})
    run.add_listener(lambda r: retrying.set() if r.state == "retrying" else None)

    def cancel_when_waiting():
        assert retrying.wait(WAIT)
        run.cancel()

    helper = in_thread(cancel_when_waiting)
    began = time.monotonic()
    run.start()
    helper.join(WAIT)
    assert time.monotonic() - began < WAIT / 2
    assert log == ["A"]
    assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled"})
    assert run.nodes["A"].attempts == 1
    assert run.nodes["A"].error.message == "refused"


def test_cancel_reaches_every_parallel_member_and_the_rest():
    log, started, release = Log(), threading.Event(), threading.Event()
    other_started = threading.Event()
    run = make_run(
        "A || B -> C",
        {
            "A": blocking("A", started, release, log),
            "B": blocking("B", other_started, release, log),
            "C": recorder(log, "C"),
        },
    )
    try:
        run.start(background=True)
        assert started.wait(WAIT)
        assert other_started.wait(WAIT)
        run.cancel()
        run.wait(WAIT)
        assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled", "C": "cancelled"})
    finally:
        release.set()


def test_cancel_after_the_end_changes_nothing():
    run = make_run("A", {"A": lambda: 1}).start()
    records = run.records()
    run.cancel()
    assert run.status == "succeeded"
    assert run.records() == records


def test_a_run_starts_once_and_wait_can_time_out():
    run = make_run("A", {"A": lambda: 1}).start()
    with pytest.raises(PointyError) as caught:
        run.start()
    assert str(caught.value) == f"run {run.id} was already started; use rerun() for another run"

    started, release = threading.Event(), threading.Event()
    slow = make_run("A", {"A": blocking("A", started, release, Log())}).start(background=True)
    try:
        with pytest.raises(TimeoutError) as waited:
            slow.wait(0.01)
        assert str(waited.value) == f"run {slow.id} still running after 0.01 s"
    finally:
        release.set()
    assert slow.wait(WAIT).status == "succeeded"


# ----- Ctrl-C ---------------------------------------------------------------------------------


def test_keyboard_interrupt_in_an_inline_event_cancels_then_propagates():
    log = Log()

    def A():
        log.add("A")
        raise KeyboardInterrupt

    run = make_run("A -> B -> C", {"A": A, "B": recorder(log, "B"), "C": recorder(log, "C")})
    with pytest.raises(KeyboardInterrupt):
        run.start()
    assert log == ["A"]
    assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled", "C": "cancelled"})
    assert run.plan.executors._closed  # the run's own executors were shut down


def _interrupt_main_thread():
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def _wait_until_main_thread_is_in(function):
    """Poll the main thread's stack until `function` is on it (nothing to wait on instead)."""
    code = function.__code__
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(threading.main_thread().ident)
        while frame is not None:
            if frame.f_code is code:
                return
            frame = frame.f_back
        time.sleep(0.001)
    raise AssertionError(f"the main thread never reached {function.__qualname__}")


needs_default_sigint = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's own SIGINT handler on the main thread",
)


@needs_default_sigint
def test_ctrl_c_while_the_loop_waits_cancels_then_propagates():
    log, release = Log(), threading.Event()

    @event(executor="thread")
    def A():
        _interrupt_main_thread()  # the loop is waiting for this very event
        release.wait(WAIT)
        log.add("A")

    run = make_run("A -> B", {"A": A, "B": recorder(log, "B")})
    try:
        with pytest.raises(KeyboardInterrupt):
            run.start()
        assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled"})
    finally:
        release.set()
    assert log == []


class _TellingClock(SystemClock):
    """The system clock, saying when the loop starts a long wait (a retry's backoff)."""

    def __init__(self) -> None:
        self.long_wait = threading.Event()

    def wait(self, inbox, timeout):
        if timeout is not None and timeout > 1:
            self.long_wait.set()
        return SystemClock.wait(inbox, timeout)


@needs_default_sigint
def test_ctrl_c_during_a_retry_wait():
    log = Log()

    @event(retry_policy=RetryPolicy(max_attempts=2, backoff_factor=WAIT))
    def A():
        log.add("A")
        raise ValueError("again")

    clock = _TellingClock()
    run = make_run("A -> B", {"A": A, "B": recorder(log, "B")}, clock=clock)

    def interrupt_when_waiting():
        assert clock.long_wait.wait(WAIT)
        _interrupt_main_thread()

    helper = in_thread(interrupt_when_waiting)
    with pytest.raises(KeyboardInterrupt):
        run.start()
    helper.join(WAIT)
    assert log == ["A"]
    assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled"})


@needs_default_sigint
def test_ctrl_c_while_waiting_for_a_background_run():
    log, started, release = Log(), threading.Event(), threading.Event()
    run = make_run("A -> B", {"A": blocking("A", started, release, log), "B": recorder(log, "B")})
    run.start(background=True)
    try:
        assert started.wait(WAIT)

        def interrupt_once_main_waits():
            _wait_until_main_thread_is_in(Run.wait)
            _interrupt_main_thread()

        helper = in_thread(interrupt_once_main_waits)
        with pytest.raises(KeyboardInterrupt):
            run.wait(WAIT)
        helper.join(WAIT)
        assert_cancelled_cleanly(run, {"A": "cancelled", "B": "cancelled"})
    finally:
        release.set()
