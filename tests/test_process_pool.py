"""Pointy's process pool (`pointy_engine.process_pool`): a call given up on stops its worker,
and the calls beside it are neither failed nor held up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pointy_engine.executors import _process_context
from pointy_engine.process_pool import ProcessPool, stop_attempts

WAIT = 30.0  # hard limit on anything a test waits for; each normally takes well under a second


def mark_and_sleep(marker: str, seconds: float) -> int:
    """Runs in a worker: say it started (its pid), then sleep."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def mark_and_wait_for(marker: str, release: str) -> str:
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + WAIT
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    return "finished"


def _started(marker: Path) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text():
            return int(marker.read_text())
        time.sleep(0.01)
    raise AssertionError(f"{marker.name} never started")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ends(pid: int) -> bool:
    deadline = time.monotonic() + WAIT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _alive(pid)


@pytest.fixture
def pool():
    pool = ProcessPool(max_workers=1, mp_context=_process_context())
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def two_workers():
    pool = ProcessPool(max_workers=2, mp_context=_process_context())
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def test_a_stuck_call_is_stopped_and_the_call_queued_behind_it_moves_to_a_new_worker(
    pool, tmp_path
):
    stuck = pool.submit(mark_and_sleep, str(tmp_path / "stuck"), 60)
    queued = pool.submit(os.getpid)
    pid = _started(tmp_path / "stuck")
    assert stop_attempts([stuck]) == [(pid, f"its worker process {pid} was stopped")]
    assert _ends(pid)
    moved = queued.result(WAIT)  # it never started on the stuck worker's pool: no failure
    assert moved != pid
    assert pool.submit(os.getpid).result(WAIT) == moved  # the new worker serves what comes next


def test_calls_running_beside_a_stuck_one_finish_before_its_worker_is_stopped(
    two_workers, tmp_path
):
    stuck = two_workers.submit(mark_and_sleep, str(tmp_path / "stuck"), 60)
    release = tmp_path / "release"
    beside = two_workers.submit(mark_and_wait_for, str(tmp_path / "beside"), str(release))
    pid, beside_pid = _started(tmp_path / "stuck"), _started(tmp_path / "beside")
    assert stop_attempts([stuck]) == [
        (pid, f"its worker process {pid} is stopped once the other calls running on its pool end")
    ]
    # New calls do not wait for either: they go to a new generation of workers.
    assert two_workers.submit(os.getpid).result(WAIT) not in (pid, beside_pid)
    assert _alive(pid)  # killing it now would fail `beside` with BrokenProcessPool
    release.touch()
    assert beside.result(WAIT) == "finished"
    assert _ends(pid)


def test_a_call_given_up_before_it_starts_never_runs(pool, tmp_path):
    release = tmp_path / "release"
    running = pool.submit(mark_and_wait_for, str(tmp_path / "running"), str(release))
    waiting = pool.submit(mark_and_sleep, str(tmp_path / "waiting"), 0)
    _started(tmp_path / "running")
    assert stop_attempts([waiting]) == [None]  # no worker to stop: it had not started
    release.touch()
    assert running.result(WAIT) == "finished"
    pool.shutdown(wait=True)
    assert waiting.cancelled()
    assert not (tmp_path / "waiting").exists()


def test_stopping_several_calls_of_one_pool_stops_all_their_workers_at_once(two_workers, tmp_path):
    first = two_workers.submit(mark_and_sleep, str(tmp_path / "first"), 60)
    second = two_workers.submit(mark_and_sleep, str(tmp_path / "second"), 60)
    pids = _started(tmp_path / "first"), _started(tmp_path / "second")
    assert stop_attempts([first, second]) == [
        (pid, f"its worker process {pid} was stopped") for pid in pids
    ]
    assert all(_ends(pid) for pid in pids)


def test_cancel_before_a_worker_takes_the_call_and_shutdown_refuse_as_the_stdlib_does(
    pool, tmp_path
):
    release = tmp_path / "release"
    running = pool.submit(mark_and_wait_for, str(tmp_path / "running"), str(release))
    _started(tmp_path / "running")
    queued = [pool.submit(os.getpid) for _ in range(4)]  # the last ones wait outside the workers
    assert not running.cancel()
    assert queued[-1].cancel()
    assert queued[-1].cancelled()
    release.touch()
    assert running.result(WAIT) == "finished"
    assert all(isinstance(future.result(WAIT), int) for future in queued[:2])
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        pool.submit(os.getpid)
