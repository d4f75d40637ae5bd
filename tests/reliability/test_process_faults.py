"""Process faults (a worker that exits, is killed, raises, returns what cannot be pickled, or
runs past its timeout): the node fails plainly, later process events run, no worker is left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import reliability_checks as checks
from engine_support import make_run, run_flow

from pointy_engine import RetryPolicy, event
from pointy_engine.executors import Executors


def dies_once(marker: str):
    @event(executor="process", retry_policy=RetryPolicy(max_attempts=2))
    def Dies():
        if not os.path.exists(marker):
            Path(marker).write_text("died")
            os._exit(3)
        return True, "second attempt"

    return Dies


@event(executor="process")
def After():
    return True, os.getpid()


def test_a_worker_that_exits_fails_the_attempt_and_the_retry_gets_a_new_pool(tmp_path):
    run = run_flow("Dies -> After", {"Dies": dies_once(str(tmp_path / "m")), "After": After})
    assert run.status == "succeeded"
    assert (run.nodes["Dies"].attempts, run.values["Dies"]) == (2, "second attempt")
    retrying = [r for r in run.records() if r.state == "retrying"]
    assert [str(r.error) for r in retrying] == [
        "BrokenProcessPool: the worker running 'Dies' ended abruptly (os._exit, a signal or out "
        "of memory); its pool is rebuilt for the next attempt"
    ]
    assert isinstance(run.values["After"], int)


def test_every_fault_kind_fails_its_node_plainly_and_leaves_no_worker_process():
    # os._exit, SIGKILL, raise, an unpicklable return value, a timeout: once each here,
    # ten times each in scripts/reliability.
    figures = checks.process_faults(1)
    assert figures["fault trials leaked processes"] == 0, figures
    assert figures["timed-out workers alive 1 s after their run"] == 0, figures
    for kind in checks.FAULT_KINDS:
        assert figures[f"faults injected: {kind}"] == 1
        assert figures[f"faults not as expected: {kind}"] == 0, kind


def test_stuck_calls_stopped_on_a_pool_leave_the_calls_beside_them_alone():
    # 200 rounds in scripts/reliability.
    figures = checks.pool_stops(15)
    assert figures["stuck calls stopped"] > 0, figures
    assert figures["calls beside stopped ones failed or wrong"] == 0, figures
    assert figures["stopped workers alive 2 s later"] == 0, figures
    assert figures["pool stop leaked processes"] == 0, figures


def test_the_fault_check_sees_an_unexpected_outcome_and_a_live_child(monkeypatch):
    monkeypatch.setitem(checks.FAULT_KINDS, "raise in worker", (checks.RaisesInWorker, "KeyError"))
    assert checks.fault_outcome("raise in worker") == (
        "('failed', 'failed', 'ValueError'), then AfterTheFault succeeded"
    )
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in checks._live_children()
    finally:
        child.kill()
        child.wait()
    assert child.pid not in checks._live_children()


@event(
    executor="process",
    executor_config={"max_workers": 1},
    timeout=0.5,
    retry_policy=RetryPolicy(max_attempts=3),
)
def Endless():
    time.sleep(60)
    return True, "never"


@event(executor="process", executor_config={"max_workers": 1})
def AfterEndless():
    return True, os.getpid()


HARD_LIMIT = 60  # s: a test that has not ended by then fails instead of hanging the suite


def _ended(run):
    try:
        run.wait(HARD_LIMIT)
    finally:
        run.cancel()  # a no-op once done; otherwise nothing outlives a failing test
    return run


def _settled_children(before: set[int]) -> set[int]:
    """Children not in `before` still alive once pools had time to end (shutdown is async)."""
    deadline = time.monotonic() + 10
    while checks._live_children() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    return checks._live_children() - before


def test_a_timed_out_process_body_is_stopped_and_each_retry_gets_a_new_worker_at_once():
    # max_workers=1 and a body that would hold its worker for a minute: each of the 3 attempts
    # times out after 0.5 s, its worker is killed, and the next one starts on a new worker.
    make_run("AfterEndless", {"AfterEndless": AfterEndless}).start()  # fork server up first
    before = checks._live_children()
    started = time.monotonic()
    make_run("AfterEndless", {"AfterEndless": AfterEndless}).start()
    new_pool = time.monotonic() - started  # a pool's start, one call and its end, here and now
    executors = Executors()
    # The same pool as Endless's (same config): its worker is up, so attempt 1 starts at once.
    make_run("AfterEndless", {"AfterEndless": AfterEndless}, executors=executors).start()
    started = time.monotonic()
    try:
        run = _ended(
            make_run(
                "Endless -> AfterEndless",
                {"Endless": Endless, "AfterEndless": AfterEndless},
                executors=executors,
            ).start(background=True)
        )
        elapsed = time.monotonic() - started
    finally:
        executors.shutdown(wait=True)
    # 3 timeouts of 0.5 s and 3 new workers (twice what one costs now, for noise), plus 2 s; a
    # worker held by the minute-long body would take 60 s.
    assert elapsed < 3 * 0.5 + 3 * 2 * new_pool + 2.0, (elapsed, new_pool)
    assert (run.nodes["Endless"].state, run.nodes["AfterEndless"].state) == ("failed", "succeeded")
    ended = [r for r in run.records() if r.node == "Endless" and r.state in ("retrying", "failed")]
    assert len(ended) == 3
    assert ended[0].worker  # it ran on the warm worker
    plain = "TimeoutError: event 'Endless' timed out after 0.5 s"
    pids = []
    for record in ended:
        if record.worker:  # it started: its worker was stopped
            pid = int(record.worker.removeprefix("pid:"))
            pids.append(pid)
            assert str(record.error) == f"{plain}; its worker process {pid} was stopped"
        else:  # a new worker took over 0.5 s to start (a loaded machine): it never began
            assert str(record.error) == plain
    assert len({*pids, run.values["AfterEndless"]}) == len(pids) + 1  # a new worker each time
    assert _settled_children(before) == set()


@event(executor="process", executor_config={"max_workers": 2}, timeout=0.3)
def Stuck():
    time.sleep(60)


@event(executor="process", executor_config={"max_workers": 2})
def Beside():
    time.sleep(1.0)
    return True, "beside"


@event(executor="process", executor_config={"max_workers": 2})
def Warm():
    time.sleep(0.2)  # long enough that the pool starts its second worker for the other one
    return True, os.getpid()


def test_a_timed_out_body_does_not_fail_the_attempt_running_beside_it_on_its_pool():
    make_run("Beside", {"Beside": lambda: True}).start()
    before = checks._live_children()
    executors = Executors()
    try:
        # Both workers of Stuck's and Beside's pool up first, so that both start at once.
        make_run("W1 || W2", {"W1": Warm, "W2": Warm}, executors=executors).start()
        run = _ended(
            make_run(
                "Stuck || Beside", {"Stuck": Stuck, "Beside": Beside}, executors=executors
            ).start(background=True)
        )
    finally:
        executors.shutdown(wait=True)
    assert (run.nodes["Beside"].state, run.values["Beside"]) == ("succeeded", "beside")
    error = run.nodes["Stuck"].error
    pid = run.nodes["Stuck"].worker.removeprefix("pid:")
    # Beside was running (Stuck's worker is stopped once it ended) or, on a slow start, not yet
    # (it moved to a new pool).
    assert error.message in (
        f"event 'Stuck' timed out after 0.3 s; its worker process {pid} is stopped once the "
        "other calls running on its pool end",
        f"event 'Stuck' timed out after 0.3 s; its worker process {pid} was stopped",
    )
    assert _settled_children(before) == set()


def test_cancelling_a_run_stops_the_process_body_it_was_running(tmp_path):
    marker = tmp_path / "started"

    @event(executor="process")
    def Running():
        marker.write_text(str(os.getpid()))
        time.sleep(60)

    make_run("AfterEndless", {"AfterEndless": AfterEndless}).start()
    before = checks._live_children()
    run = make_run("Running -> AfterEndless", {"Running": Running, "AfterEndless": AfterEndless})
    run.start(background=True)
    deadline = time.monotonic() + HARD_LIMIT
    # Until the pid is in the file: it is created empty a moment before it is written.
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    run.cancel()
    _ended(run)
    pid = int(marker.read_text())
    assert run.status == "cancelled"
    assert (run.nodes["Running"].error.type, run.nodes["Running"].error.message) == (
        "Cancelled",
        f"cancelled; its worker process {pid} was stopped",
    )
    assert _settled_children(before) == set()
