"""A thread body Python cannot stop: after a timeout or cancel the run says it is still running,
drops its late result, and the process's thread count comes back once the body ends."""

from __future__ import annotations

import threading
import time

from pointy_engine import Pipeline, event
from pointy_engine.run.submit import STILL_RUNNING

WAIT = 30


class Held(Pipeline):
    class Meta:
        pointy = "Hold -> After"


def _settle_threads(baseline: int) -> int:
    deadline = time.monotonic() + WAIT
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.active_count()


def test_a_cancelled_thread_body_is_reported_still_running_and_its_result_dropped() -> None:
    release, entered = threading.Event(), threading.Event()

    @event(executor="thread")
    def Hold():
        entered.set()
        release.wait(WAIT)
        return True, "late"

    @event(executor="thread", name="Hold")
    def warm_up():
        return True, 0

    events = {"Hold": Hold, "After": lambda: "after"}
    Held().start(events={**events, "Hold": warm_up})
    baseline = threading.active_count()  # the shared pool is up
    run = Held().start(events=events, background=True)
    assert entered.wait(WAIT)
    run.cancel()
    run.wait(WAIT)
    assert run.status == "cancelled"
    hold = run.nodes["Hold"]
    assert (hold.state, hold.error.type, hold.error.message) == (
        "cancelled",
        "Cancelled",
        f"cancelled; {STILL_RUNNING}",
    )
    assert run.nodes["After"].state == "cancelled"
    assert run.nodes["After"].error is None  # it never started: nothing goes on
    release.set()
    assert _settle_threads(baseline) <= baseline
    assert hold.value is None  # the late "late" never lands
    assert hold.state == "cancelled"


def test_a_timed_out_thread_body_says_it_is_still_running() -> None:
    release = threading.Event()

    @event(executor="thread", timeout=0.2)
    def Hold():
        release.wait(WAIT)
        return True, "late"

    try:
        run = Held().start(events={"Hold": Hold, "After": lambda: "after"})
    finally:
        release.set()
    assert (run.nodes["Hold"].state, run.nodes["After"].state) == ("failed", "succeeded")
    assert run.nodes["Hold"].error.message == (
        f"event 'Hold' timed out after 0.2 s; {STILL_RUNNING}"
    )
    assert run.nodes["Hold"].value is None
