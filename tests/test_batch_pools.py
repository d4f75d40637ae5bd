"""Batch runs keep their process pool: the next batch run with the same settings starts on the
same workers; unused, broken or still-busy pools are not kept; exit and unload stop them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

from pointy_engine import BatchPipeline, InputDataField, Pipeline
from pointy_engine.executors import ExecutorInitializerConfig
from pointy_engine.process_pool import ProcessPool
from pointy_engine.process_pools import ProcessPools, shared_processes

HARD_TIMEOUT = 60.0


class Where(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Pid"


class WhereBatch(BatchPipeline):
    pipeline_template = Where


def _pid(numbers):
    import os

    return os.getpid()


def _pid_or_die(numbers):
    import os
    from pathlib import Path

    if isinstance(numbers[0], str):  # a path: say who is dying there, then die mid-event
        Path(numbers[0]).write_text(str(os.getpid()))
        os._exit(3)
    return os.getpid()


def _nap(numbers):
    import time
    from pathlib import Path

    seconds, marker = numbers[0]
    if marker:
        Path(marker).touch()  # the test sees the nap has started on its worker
    time.sleep(seconds)
    return seconds


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_until(condition: Any, what: str, timeout: float = HARD_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def fresh_pools() -> Any:
    """The shared pools emptied before and after, with their idle timeout put back."""
    timeout = shared_processes.idle_timeout
    shared_processes.shutdown()
    yield shared_processes
    shared_processes.idle_timeout = timeout
    shared_processes.shutdown()


def test_the_next_batch_run_with_the_same_settings_starts_on_the_same_workers(
    fresh_pools: ProcessPools,
) -> None:
    events = {"Pid": _pid}
    first = WhereBatch(numbers=[1, 2, 3, 4]).execute(max_workers=2, events=events)
    second = WhereBatch(numbers=[5, 6, 7, 8]).execute(max_workers=2, events=events)
    assert first.status == second.status == "succeeded"
    assert second._running_on is first._running_on
    # Eight batches, two worker processes in all: the second batch run started none.
    assert len({*first.results, *second.results}) <= 2
    assert os.getpid() not in first.results
    other = WhereBatch(numbers=[1, 2]).execute(max_workers=1, events=events)
    assert other._running_on is not first._running_on  # other settings, another pool
    assert set(fresh_pools.pools()) == {
        ExecutorInitializerConfig(max_workers=2),
        ExecutorInitializerConfig(max_workers=1),
    }


def test_an_unused_pool_is_shut_down_after_its_idle_timeout(fresh_pools: ProcessPools) -> None:
    fresh_pools.idle_timeout = 0.5
    done = WhereBatch(numbers=[1, 2]).execute(max_workers=2, events={"Pid": _pid})
    assert done.status == "succeeded"
    _wait_until(lambda: not fresh_pools.pools(), "shut down")
    # shutdown(wait=True) on the timer's thread joined them: no worker is left, not even a zombie.
    _wait_until(lambda: all(_gone(pid) for pid in done.results), "gone")
    again = WhereBatch(numbers=[1, 2]).execute(max_workers=2, events={"Pid": _pid})
    assert again.status == "succeeded"
    assert again._running_on is not done._running_on
    assert not set(again.results) & set(done.results)


def test_a_batch_run_whose_worker_died_leaves_no_broken_pool_behind(
    fresh_pools: ProcessPools, tmp_path: Path
) -> None:
    dying = tmp_path / "dying.pid"
    broken = WhereBatch(numbers=[1, str(dying), 3]).execute(
        max_workers=2, events={"Pid": _pid_or_die}
    )
    assert "failed" in broken.statuses
    error = broken.runs[1].errors["Pid"]
    assert "ended abruptly" in error.message
    # A stdlib pool is dropped, not handed to the next batch run; Pointy's own pool is kept,
    # as its next call starts new workers in place of the broken ones.
    if isinstance(broken._running_on, ProcessPool):
        assert list(fresh_pools.pools().values()) == [broken._running_on]
    else:
        assert not fresh_pools.pools()
    after = WhereBatch(numbers=[4, 5]).execute(max_workers=2, events={"Pid": _pid_or_die})
    assert after.status == "succeeded"
    # The dead worker's generation is gone: the batches the broken run still finished may have
    # moved to the fresh generation, which the next run shares, but the dead worker is not there.
    dead = int(dying.read_text())
    assert dead not in after.results
    _wait_until(lambda: _gone(dead), "gone")


def test_work_a_cancelled_batch_run_left_on_its_workers_does_not_hold_up_the_next(
    fresh_pools: ProcessPools, tmp_path: Path
) -> None:
    naps = [(4, str(tmp_path / f"nap{i}")) for i in range(4)]
    slow = WhereBatch(numbers=naps).start(max_workers=2, events={"Pid": _nap}, background=True)
    _wait_until(lambda: len(list(tmp_path.glob("nap*"))) == 2, "napping on both workers")
    slow.cancel()
    slow.wait(HARD_TIMEOUT)
    assert slow.status == "cancelled"
    started = time.monotonic()
    quick = WhereBatch(numbers=[(0, ""), (0, "")]).execute(max_workers=2, events={"Pid": _nap})
    took = time.monotonic() - started
    assert quick.status == "succeeded"
    assert took < 3.0, f"the next batch run waited {took:.1f} s behind abandoned naps"


class _FakePool(Executor):
    """Records shutdowns; `_broken` and `_pending_work_items` as ProcessPoolExecutor has them."""

    def __init__(self, config: ExecutorInitializerConfig) -> None:
        self.config = config
        self.shut = threading.Event()
        self._broken = False
        self._pending_work_items: dict[int, Any] = {}

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise NotImplementedError

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut.set()


def test_taking_a_pool_again_stops_its_idle_countdown() -> None:
    pools = ProcessPools(idle_timeout=0.2, build=_FakePool)
    config = ExecutorInitializerConfig(max_workers=2)
    pool = pools.acquire(config)
    pools.release(pool)
    assert pools.acquire(config) is pool  # within the timeout: the same pool, countdown off
    time.sleep(0.5)
    assert not pool.shut.is_set()
    pools.release(pool)
    assert pool.shut.wait(5.0)  # now unused: shut down after the timeout
    assert pools.pools() == {}


def test_a_pool_in_use_by_two_batch_runs_waits_for_both() -> None:
    pools = ProcessPools(idle_timeout=0.1, build=_FakePool)
    config = ExecutorInitializerConfig(max_workers=2)
    pool = pools.acquire(config)
    assert pools.acquire(config) is pool
    pools.release(pool)
    time.sleep(0.3)
    assert not pool.shut.is_set()  # the other batch run still uses it
    pools.release(pool)
    assert pool.shut.wait(5.0)


def test_a_broken_pool_is_replaced_when_taken_and_a_busy_one_is_dropped_when_given_back() -> None:
    pools = ProcessPools(idle_timeout=None, build=_FakePool)
    config = ExecutorInitializerConfig(max_workers=2)
    pool = pools.acquire(config)
    pools.release(pool)
    pool._broken = True  # a worker died after the batch run ended
    replacement = pools.acquire(config)
    assert replacement is not pool
    assert pool.shut.is_set()
    replacement._pending_work_items[0] = object()  # an attempt given up on, still queued
    pools.release(replacement)
    assert replacement.shut.is_set()
    assert pools.pools() == {}


def test_without_idle_timeout_a_pool_stays_until_shutdown() -> None:
    pools = ProcessPools(idle_timeout=None, build=_FakePool)
    pool = pools.acquire(ExecutorInitializerConfig())
    pools.release(pool)
    time.sleep(0.2)
    assert not pool.shut.is_set()
    pools.shutdown()
    assert pool.shut.is_set()
    assert pools.pools() == {}
    pools.release(pool)  # a batch run ending after shutdown: nothing to do, no error


SCRIPT = """\
from pointy_engine import BatchPipeline, InputDataField, Pipeline

class Where(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Pid"

class WhereBatch(BatchPipeline):
    pipeline_template = Where

def Pid(numbers):
    import os
    return os.getpid()

done = WhereBatch(numbers=[1, 2, 3, 4]).execute(max_workers=2, events={"Pid": Pid})
print(done.status, *sorted(set(done.results)))
"""


@pytest.mark.slow
def test_a_script_exits_at_once_and_takes_its_kept_workers_with_it(tmp_path: Path) -> None:
    script = tmp_path / "batch_script.py"
    script.write_text(SCRIPT)
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=HARD_TIMEOUT,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    took = time.monotonic() - started
    assert finished.returncode == 0, finished.stderr
    status, *pids = finished.stdout.split()
    assert status == "succeeded"
    assert pids
    assert took < 20, f"the script took {took:.1f} s to exit (an idle pool kept it alive?)"
    _wait_until(lambda: all(_gone(int(pid)) for pid in pids), "gone", timeout=10)


REDEFINE = [
    """\
import os
from pointy_engine import BatchPipeline, InputDataField, Pipeline

class Items(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Label"

class ItemsBatch(BatchPipeline):
    pipeline_template = Items

SCALE = 10

def Label(numbers):
    return f"one {numbers[0] * SCALE} {os.getpid()}"

first = ItemsBatch(numbers=[1, 2, 3]).execute(max_workers=2, events=globals())
print(first.status, [r.split()[:2] for r in first.results])
""",
    # The notebook redefines the event: the next batch run, on the same workers, runs the new one.
    """\
def Label(numbers):
    return f"two {numbers[0] * SCALE} {os.getpid()}"

second = ItemsBatch(numbers=[1, 2, 3]).execute(max_workers=2, events=globals())
print(second.status, [r.split()[:2] for r in second.results])
""",
    # A global the event reads changes: its new value travels too.
    """\
SCALE = 100
third = ItemsBatch(numbers=[1, 2, 3]).execute(max_workers=2, events=globals())
print(third.status, [r.split()[:2] for r in third.results])
""",
    """\
pids = [{r.split()[2] for r in run.results} for run in (first, second, third)]
print(third._running_on is first._running_on, len(set().union(*pids)) <= 2,
      str(os.getpid()) not in set().union(*pids))
""",
]


@pytest.mark.slow
def test_a_redefined_event_takes_effect_on_the_next_batch_run_on_the_kept_pool(
    tmp_path: Path,
) -> None:
    from kernel_support import execute, printed, running_kernel

    setup = f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r})"
    with running_kernel(tmp_path, setup) as (_, client):
        outputs = [printed(execute(client, textwrap.dedent(cell))).strip() for cell in REDEFINE]
    assert outputs == [
        "succeeded [['one', '10'], ['one', '20'], ['one', '30']]",
        "succeeded [['two', '10'], ['two', '20'], ['two', '30']]",
        "succeeded [['two', '100'], ['two', '200'], ['two', '300']]",
        "True True True",
    ]
