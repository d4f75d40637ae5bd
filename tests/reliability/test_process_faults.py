"""Events that kill their own process: a failed attempt that says so, retried on a new pool."""

from __future__ import annotations

import os
import signal
from pathlib import Path

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
def Killed():
    os.kill(os.getpid(), signal.SIGKILL)


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


def test_a_killed_worker_fails_its_node_and_later_process_events_still_run():
    run = run_flow("Killed -> After", {"Killed": Killed, "After": After})
    assert (run.status, run.nodes["Killed"].state, run.nodes["After"].state) == (
        "failed",
        "failed",
        "succeeded",
    )
    assert run.nodes["Killed"].error.type == "BrokenProcessPool"
