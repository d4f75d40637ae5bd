"""Process faults (a worker that exits, is killed, raises, returns what cannot be pickled, or
runs past its timeout): the node fails plainly, later process events run, no worker is left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import reliability_checks as checks
from engine_support import run_flow

from pointy_engine import RetryPolicy, event


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
    for kind in checks.FAULT_KINDS:
        assert figures[f"faults injected: {kind}"] == 1
        assert figures[f"faults not as expected: {kind}"] == 0, kind


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
