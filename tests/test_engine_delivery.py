"""Records reach listeners off the run's path: a slow or hung listener never stalls the run."""

from __future__ import annotations

import threading
import time

import pytest
from engine_support import WAIT, make_run

from pointy_engine import event
from pointy_engine.records import ListenerFailedWarning, ListenerStalledWarning
from pointy_engine.threads import WorkerThreads


class Hung:
    """A listener that blocks on every record until released, keeping what it saw."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list = []
        self.got_all = threading.Event()

    def __call__(self, record) -> None:
        self.release.wait(WAIT)
        self.seen.append(record)
        if not record.node and record.state != "running":
            self.got_all.set()


def test_a_listener_hung_on_every_record_does_not_stall_the_run():
    hung, healthy = Hung(), []
    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listener_wait=0.2)
    run.add_listener(hung)
    run.add_listener(healthy.append)
    began = time.monotonic()
    with pytest.warns(ListenerStalledWarning) as warned:
        run.start()
    took = time.monotonic() - began
    try:
        assert run.status == "succeeded"
        assert took < 0.2 + 2.0  # the bound, and nothing per record (WAIT is 10 s a record)
        assert healthy == run.records()  # the other listener had everything, on time
        assert len(warned) == 1
        assert str(warned[0].message) == (
            f"record listener 'Hung' was still busy 0.2 s after run {run.id} ended "
            "(6 of its records not yet handled); the run did not wait longer, and the "
            "listener gets the rest, in order, when it returns"
        )
    finally:
        hung.release.set()
    assert hung.got_all.wait(WAIT)
    assert hung.seen == run.records()  # late, but every record, in order


def test_the_issue_case_a_listener_sleeping_on_running_records():
    # Issue 13: a listener sleeping 3 s per `running` record made a one-event run take 6 s.
    def sleepy(record):
        if record.state == "running":
            time.sleep(3)

    run = make_run("A", {"A": lambda: 1}, listener_wait=0.1)
    run.add_listener(sleepy)
    began = time.monotonic()
    with pytest.warns(ListenerStalledWarning, match=r"^record listener '.*sleepy' was still"):
        run.start()
    assert time.monotonic() - began < 2.0
    assert run.status == "succeeded"


def test_start_returns_once_slow_listeners_have_seen_the_end():
    seen = []

    def slow(record):
        time.sleep(0.01)
        seen.append(record.state)

    run = make_run("A -> B -> C", {name: (lambda: 1) for name in "ABC"}, listeners=[slow])
    run.start()
    assert len(seen) == len(run.records()) == 8
    assert seen[-1] == "succeeded"


def test_a_background_run_is_done_once_its_listeners_have_seen_the_end():
    seen = []

    def slow(record):
        time.sleep(0.01)
        seen.append(record)

    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listeners=[slow])
    run.start(background=True).wait(WAIT)
    assert seen == run.records()


def test_listeners_are_not_called_on_the_loop_thread_and_keep_their_order():
    threads, states = set(), []

    def where(record):
        threads.add(threading.current_thread().name)
        states.append((record.node, record.state))

    @event(executor="thread")
    def T():
        return True, 1

    run = make_run("A -> T -> A", {"A": lambda: 1, "T": T}, listeners=[where])
    run.start()
    loop = threading.current_thread().name
    assert loop not in threads
    assert all(name.startswith("pointy-listener_") for name in threads)
    assert states == [(r.node, r.state) for r in run.records()]


def test_a_listener_raising_off_the_loop_is_detached_and_warned_once():
    calls = []

    def fragile(record):
        calls.append(record.state)
        raise ValueError("closed socket")

    run = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}, listeners=[fragile])
    with pytest.warns(ListenerFailedWarning) as warned:
        run.start()
    assert calls == ["running"]
    assert len(warned) == 1
    assert run.status == "succeeded"


def test_a_cancel_from_a_listener_still_reaches_the_run():
    # Listeners run on their own threads now: cancel() from one is a cancel from another thread.
    release = threading.Event()

    @event(executor="thread")
    def Wait():
        release.wait(WAIT)
        return True, None

    run = make_run("Wait -> After", {"Wait": Wait, "After": lambda: 1})

    def cancel_on_wait(record):
        if record.node == "Wait" and record.state == "running":
            run.cancel()

    run.add_listener(cancel_on_wait)
    run.start()
    release.set()
    assert run.status == "cancelled"
    assert run.nodes["After"].state == "cancelled"


def test_idle_workers_leave_and_the_pool_still_serves():
    pool = WorkerThreads(2, "idle-test", idle_timeout=0.05)
    try:
        done = threading.Event()
        pool.dispatch(done.set)
        assert done.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while any(t.name.startswith("idle-test_") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "idle worker did not leave"
            time.sleep(0.01)
        again = threading.Event()
        pool.dispatch(again.set)  # a new worker is started for it
        assert again.wait(WAIT)
    finally:
        pool.shutdown()


def test_shutting_the_pools_down_keeps_dispatched_work_and_drops_futures():
    # %unload_ext shuts the pools down (cancel_futures=True) perhaps while a run is going:
    # a listener's queued delivery, or a run's dispatched attempt, must still run.
    pool = WorkerThreads(1, "keep-test")
    try:
        gate, ran = threading.Event(), threading.Event()
        pool.dispatch(gate.wait, WAIT)  # occupies the only worker
        pool.dispatch(ran.set)  # queued behind it
        future = pool.submit(lambda: "never")
        pool.shutdown(wait=False, cancel_futures=True)
        assert future.cancelled()
        gate.set()
        assert ran.wait(WAIT)
    finally:
        gate.set()
        pool.shutdown()
