"""Load, memory, soak and kill -9 checks: each returns its figures as a dict.

`tests/reliability/` runs them small, with assertions, in CI; `benchmarks/reliability_long.py`
(`scripts/reliability`) runs them at full size and prints one table. Every count named in
`MUST_BE_ZERO` of the long script must come out 0.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from pointy_engine import InputDataField, Pipeline, RetryPolicy, event
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.run import Run

ROOT = Path(__file__).resolve().parent.parent
MEMORY_TARGET = 2048  # bytes retained per finished event (the engine's promise)

# ----- 100 concurrent runs: every run's values, records and printed output are its own -------


class Tagged(Pipeline):
    """Each run carries its own `n` through a pipe, a parallel group on threads and a fan-in."""

    n = InputDataField(data_type=int, required=True)

    class Meta:
        pointy = "Tag |-> Double || Triple |-> Check"


def Tag(n):
    print(f"tag {n}")
    logging.getLogger("pointy.load").warning("logged %s", n)
    return n


@event(executor="thread")
def Double(previous_result):
    time.sleep(0.001)  # so that runs overlap on the pools
    print(f"double {previous_result}")
    return True, previous_result * 2


@event(executor="thread")
def Triple(previous_result):
    print(f"triple {previous_result}")
    return True, previous_result * 3


def Check(previous_result):
    doubled, tripled = previous_result
    print(f"check {doubled} {tripled}")
    return doubled + tripled


LOAD_EVENTS = {"Tag": Tag, "Double": Double, "Triple": Triple, "Check": Check}


def crosstalk_of(run: Run, n: int) -> list[str]:
    """What in `run` is not its own: wrong values, records of another run, foreign output."""
    wrong = []
    if run.status != "succeeded" or run.value != 5 * n:
        wrong.append(f"run {n}: {run.status}, value {run.value!r}")
    if {record.run_id for record in run.records()} != {run.id}:
        wrong.append(f"run {n}: records of another run")
    expected = {
        "Tag": f"tag {n}\nWARNING:pointy.load:logged {n}\n",  # the root handler's format
        "Double": f"double {n}\n",
        "Triple": f"triple {n}\n",
        "Check": f"check {2 * n} {3 * n}\n",
    }
    for node, text in expected.items():
        output = run.nodes[node].output
        if output != text:
            wrong.append(f"run {n}: {node} captured {output!r}, not {text!r}")
    return wrong


def concurrent_runs(count: int = 100) -> dict[str, Any]:
    """`count` runs of one pipeline started at once from `count` threads."""
    runs: dict[int, Run] = {}
    failures: list[str] = []
    barrier = threading.Barrier(count)

    def start(n: int) -> None:
        barrier.wait()
        try:
            runs[n] = Tagged(n=n).start(events=LOAD_EVENTS, capture_output=True)
        except Exception as error:  # counted, not raised: the table reports it
            failures.append(f"run {n}: {type(error).__name__}: {error}")

    threads_before = threading.active_count()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        threads = [threading.Thread(target=start, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    elapsed = time.perf_counter() - started
    wrong = failures + [item for n, run in sorted(runs.items()) for item in crosstalk_of(run, n)]
    for line in wrong[:5]:
        print(f"crosstalk: {line}", file=sys.stderr)
    return {
        "concurrent runs": count,
        "runs with crosstalk or a wrong value": len(wrong),
        "concurrent wall time (s)": round(elapsed, 2),
        "_threads_started": threading.active_count() - threads_before,
    }


# ----- memory of a long run --------------------------------------------------------------------


def memory_per_event(size: int) -> dict[str, Any]:
    """Bytes retained per finished event of a `size`-event chain (tracemalloc, after the run)."""
    events = {f"E{i}": (lambda: None) for i in range(size)}  # distinct, as real events are
    plan = Plan(build_graph(" -> ".join(events)), events)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        run = Run(plan).start()
        elapsed = time.perf_counter() - started
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if run.status != "succeeded" or len(run.nodes) != size:
        raise AssertionError(f"the {size}-event run ended {run.status}")
    per_event = (after - before) / size
    return {
        "events in one run": size,
        "bytes retained per finished event": round(per_event),
        "events over the memory bound": 0 if per_event <= MEMORY_TARGET else size,
        "long run wall time, traced (s)": round(elapsed, 2),
    }


# ----- soak: memory, threads and file descriptors stay flat ----------------------------------


def resources() -> tuple[int, int, int]:
    """(resident KiB, live threads, open file descriptors) of this process (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return (
        resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024,
        threading.active_count(),
        len(os.listdir("/proc/self/fd")),
    )


def settled_resources(threads_before: int, within: float = 5.0) -> tuple[int, int, int]:
    """`resources()` once idle threads have left: listener threads end after 2 s without work
    (pointy_engine.delivery), so a thread still there after `within` seconds is a leak."""
    deadline = time.monotonic() + within
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    return resources()


class Soak(Pipeline):
    n = InputDataField(data_type=int, default=0)

    class Meta:
        pointy = "Start |-> Work || Side |-> Join"


@event(executor="thread")
def Work(previous_result):
    return True, previous_result + 1


SOAK_EVENTS = {
    "Start": lambda n: n,
    "Work": Work,
    "Side": lambda previous_result: previous_result,
    "Join": lambda previous_result: sum(previous_result),
}


def _growth(samples: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """Growth from the end of warm-up (the first sample) to the last sample."""
    first, last = samples[0], samples[-1]
    return last[0] - first[0], last[1] - first[1], last[2] - first[2]


def soak_runs(count: int, warmup: int) -> dict[str, Any]:
    """`count` back-to-back runs in this process, sampled after `warmup` runs and at the end."""
    failed = 0
    samples = []
    for index in range(warmup + count):
        if index == warmup:
            gc.collect()
            samples.append(resources())
        run = Soak(n=index).start(events=SOAK_EVENTS)
        failed += run.status != "succeeded" or run.value != 2 * index + 1
    gc.collect()
    samples.append(resources())
    memory, threads, fds = _growth(samples)
    return {
        "soak runs": count,
        "soak runs failed": failed,
        "soak memory growth (KiB)": memory,
        "soak leaked threads": max(threads, 0),
        "soak leaked fds": max(fds, 0),
    }


def soak_scheduled(count: int, warmup: int, interval: float = 0.005) -> dict[str, Any]:
    """`count` scheduled runs at `interval` s, with their history, sampled after `warmup`."""
    from pointy_engine.scheduling import Scheduler

    done = threading.Semaphore(0)
    failed = []

    def on_failure(job: Any, run: Run) -> None:
        failed.append(run.id)

    Soak().start(events=SOAK_EVENTS)  # the process's thread pool is up before counting
    with tempfile.TemporaryDirectory() as folder:
        before = resources()
        samples = []
        with Scheduler(Path(folder) / "history.sqlite3", on_failure=on_failure) as scheduler:
            scheduler.schedule(
                Soak, every=interval, events={**SOAK_EVENTS, "Join": _counting(done)}
            )
            for index in range(warmup + count):
                if not done.acquire(timeout=30):
                    raise AssertionError(f"scheduled run {index} did not come")
                if index + 1 == warmup:
                    gc.collect()
                    samples.append(resources())
            job = scheduler.job("Soak")
            job.pause()
            # The last firing's Join released `done` before its run ended: wait for the run to
            # end, not for a guessed time (a loaded machine takes longer).
            _wait_until(lambda: job.current_run is None, within=30)
            gc.collect()
            samples.append(resources())
            # History rows come through a record listener, which may lag behind on a loaded
            # machine: a run is lost only if its row never comes.
            kept = warmup + count
            _wait_until(lambda: _succeeded_in(scheduler) >= kept, within=30)
            statuses = scheduler.history()["status"].value_counts()
        after = settled_resources(before[1])
    memory, threads, fds = _growth(samples)
    return {
        "scheduled runs": count,
        "scheduled runs failed": len(failed),
        "scheduled runs in history": int(statuses.get("succeeded", 0)),
        "scheduled firings skipped (overlap)": int(statuses.get("skipped", 0)),
        "scheduled memory growth (KiB)": memory,
        # APScheduler's worker pool starts threads as it needs them (up to 10): growth while
        # running is reported; what is left once the scheduler has stopped is a leak.
        "scheduled thread growth while running": threads,
        "scheduled leaked threads": max(0, after[1] - before[1]),
        "scheduled leaked fds": max(fds, 0, after[2] - before[2]),
    }


def _wait_until(condition: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def _succeeded_in(scheduler: Any) -> int:
    return int((scheduler.history()["status"] == "succeeded").sum())


def _counting(done: threading.Semaphore) -> Any:
    def Join(previous_result):
        done.release()
        return sum(previous_result)

    return Join


# ----- the run history under kill -9 -----------------------------------------------------------

_WRITER = """
import sys
from pointy_engine.observers import RunObservers
from pointy_engine.plan import Plan
from pointy_engine.graph import build_graph
from pointy_engine.run import Run
from pointy_engine.scheduling import RunHistory

history, observers = RunHistory(sys.argv[1]), RunObservers()
observers.add(history.observe)
plan = Plan(build_graph("A -> B"), {"A": lambda: 1, "B": lambda: 2})
while True:
    run = Run(plan, name="Killed", observers=observers).start()
    history.flush()
    print(run.id, flush=True)  # committed: it must survive the kill
"""


def history_kill9(trials: int, seed: int = 9) -> dict[str, Any]:
    """Writers of the history SIGKILLed at random moments: the file must open, pass
    `PRAGMA integrity_check` and hold every run the writer had reported committed."""
    rng = random.Random(seed)
    corrupt = lost = committed = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        for _ in range(trials):
            writer = subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(path)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert writer.stdout is not None
            reported = [writer.stdout.readline().strip()]  # it writes before we kill
            time.sleep(rng.uniform(0.0, 0.2))
            os.kill(writer.pid, signal.SIGKILL)
            rest, _ = writer.communicate()
            reported += rest.split()
            connection = sqlite3.connect(path)
            try:
                if connection.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                    corrupt += 1
                kept = {row[0] for row in connection.execute("SELECT run_id FROM runs")}
            except sqlite3.DatabaseError:
                corrupt += 1
                kept = set()
            finally:
                connection.close()
            committed += len(reported)
            lost += len(set(reported) - kept)
    return {
        "history kill -9 trials": trials,
        "history runs committed before the kills": committed,
        "history corrupt after kill -9": corrupt,
        "history committed runs lost": lost,
    }


# ----- process faults by kind: each ends the way the engine promises, and leaves nothing -----


def _live_children(root: int | None = None) -> set[int]:
    """Live descendants of this process (zombies do not count): pool workers are children of
    multiprocessing's forkserver, so grandchildren count too."""
    found: set[int] = set()
    parents = [os.getpid() if root is None else root]
    while parents:
        parent = parents.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(OSError):
                    for pid in map(int, (task / "children").read_text().split()):
                        with contextlib.suppress(OSError):
                            if Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z":
                                found.add(pid)
                                parents.append(pid)
    return found


@event(executor="process")
def ExitsInWorker():
    os._exit(3)


@event(executor="process")
def KilledInWorker():
    os.kill(os.getpid(), signal.SIGKILL)


@event(executor="process")
def RaisesInWorker():
    raise ValueError("raised in the worker")


@event(executor="process")
def ReturnsUnpicklable():
    return True, threading.Lock()


@event(executor="process", timeout=0.3)
def OverItsTimeout():
    # The run gives up after 0.3 s and kills the worker: nothing waits for this minute.
    time.sleep(60)
    return True, "too late"


@event(executor="process")
def AfterTheFault():
    return True, os.getpid()


# kind -> (event, the fault node's error type); every trial runs "Fault -> AfterTheFault" with
# its own pools and must end: run failed, the fault node failed with that type, the next
# process event succeeded on a working pool.
FAULT_KINDS: dict[str, tuple[Any, str]] = {
    "os._exit in worker": (ExitsInWorker, "BrokenProcessPool"),
    "SIGKILL of worker": (KilledInWorker, "BrokenProcessPool"),
    "raise in worker": (RaisesInWorker, "ValueError"),
    "unpicklable return value": (ReturnsUnpicklable, "UnpicklableValueError"),
    "timeout": (OverItsTimeout, "TimeoutError"),
}


def fault_outcome(kind: str) -> str:
    """'as expected', or what happened instead, for one trial of fault `kind`."""
    return _fault_trial(kind)[0]


def _fault_trial(kind: str) -> tuple[str, Run]:
    fault, error_type = FAULT_KINDS[kind]
    plan = Plan(
        build_graph("Fault -> AfterTheFault"), {"Fault": fault, "AfterTheFault": AfterTheFault}
    )
    run = Run(plan, own_executors=True).start()
    node = run.nodes["Fault"]
    seen = (run.status, node.state, node.error.type if node.error else None)
    after = run.nodes["AfterTheFault"].state
    if seen == ("failed", "failed", error_type) and after == "succeeded":
        return "as expected", run
    return f"{seen}, then AfterTheFault {after}", run


def _still_alive(pid: int, within: float) -> bool:
    """Whether process `pid` is alive `within` seconds from now (SIGKILL is not instant)."""
    deadline = time.monotonic() + within
    while pid in _live_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid in _live_children()


def process_faults(trials_per_kind: int) -> dict[str, Any]:
    """Every fault kind `trials_per_kind` times, interleaved; worker processes left after."""
    # Warm-up: multiprocessing's forkserver and resource tracker live as long as this process.
    Run(Plan(build_graph("AfterTheFault"), {"AfterTheFault": AfterTheFault})).start()
    children_before = _live_children()
    trials = dict.fromkeys(FAULT_KINDS, 0)
    unexpected = dict.fromkeys(FAULT_KINDS, 0)
    timed_out_alive = 0
    for _ in range(trials_per_kind):
        for kind in FAULT_KINDS:
            outcome, run = _fault_trial(kind)
            worker = run.nodes["Fault"].worker
            if kind == "timeout" and worker.startswith("pid:"):
                # Its body sleeps a minute: alive a second after its run, it was not stopped.
                timed_out_alive += _still_alive(int(worker[4:]), within=1.0)
            trials[kind] += 1
            if outcome != "as expected":
                unexpected[kind] += 1
                print(f"fault {kind}: {outcome}", file=sys.stderr)
    # Pools shut down asynchronously: a worker still there after that is left behind.
    deadline = time.monotonic() + 10
    while _live_children() - children_before and time.monotonic() < deadline:
        time.sleep(0.05)
    figures: dict[str, Any] = {}
    for kind in FAULT_KINDS:
        figures[f"faults injected: {kind}"] = trials[kind]
        figures[f"faults not as expected: {kind}"] = unexpected[kind]
    figures["timed-out workers alive 1 s after their run"] = timed_out_alive
    figures["fault trials leaked processes"] = len(_live_children() - children_before)
    return figures


# ----- stopping stuck calls of a process pool while others run beside them --------------------


def pool_stops(rounds: int, seed: int = 21, workers: int = 2) -> dict[str, Any]:
    """Rounds of 1-6 calls on one `ProcessPool` of `workers`, about a third of them stuck (a
    minute's sleep) and given up on after a random 0-80 ms, as a timeout or a cancel does. Every
    other call must return its own value (no BrokenProcessPool from a stopped neighbour); every
    stopped worker must end; no process is left once the pool is shut down."""
    from pointy_engine.executors import _process_context
    from pointy_engine.process_pool import ProcessPool, stop_attempts

    rng = random.Random(seed)
    pool = ProcessPool(max_workers=workers, mp_context=_process_context())
    pool.submit(sum, range(1)).result()  # the fork server is up before counting
    children_before = _live_children()
    stopped = failed = 0
    stopped_workers: set[int] = set()
    try:
        for _ in range(rounds):
            calls = []
            for _ in range(rng.randint(1, 6)):
                if rng.random() < 0.3:
                    calls.append((pool.submit(time.sleep, 60), None))
                else:
                    size = rng.randint(1, 400_000)  # up to a few ms of work beside the stuck
                    calls.append((pool.submit(sum, range(size)), size * (size - 1) // 2))
            time.sleep(rng.uniform(0, 0.08))
            stuck = [future for future, expected in calls if expected is None]
            for note in stop_attempts(stuck):
                stopped += 1
                if note is not None:
                    stopped_workers.add(note[0])
            for future, expected in calls:
                if expected is None:
                    continue
                try:
                    failed += future.result(30) != expected
                except Exception as error:
                    failed += 1
                    print(f"pool stops: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        pool.shutdown(wait=True)
    alive = sum(_still_alive(pid, within=2.0) for pid in stopped_workers)
    deadline = time.monotonic() + 10
    while _live_children() - children_before and time.monotonic() < deadline:
        time.sleep(0.05)
    return {
        "pool stop rounds": rounds,
        "stuck calls stopped": stopped,
        "calls beside stopped ones failed or wrong": failed,
        "stopped workers alive 2 s later": alive,
        "pool stop leaked processes": len(_live_children() - children_before),
    }


# ----- Ctrl-C at random points of a run ------------------------------------------------------


def _pause():
    time.sleep(0.002)
    return 1


@event(executor="thread")
def OnThread(previous_result=None):
    time.sleep(0.002)
    return True, 2


@event(retry_policy=RetryPolicy(max_attempts=3, backoff_factor=0.003))
def Flaky():
    raise ValueError("again")


INTERRUPT_EVENTS = {"pause": _pause, "OnThread": OnThread, "Flaky": Flaky}
INTERRUPT_FLOW = (
    "pause -> OnThread || pause |-> OnThread -> Flaky (0 -> pause) -> pause || OnThread"
)
FINISHED = {"succeeded", "failed", "skipped", "cancelled"}


def _interrupt_run() -> Run:
    return Run(Plan(build_graph(INTERRUPT_FLOW), INTERRUPT_EVENTS), own_executors=True)


def interrupt_trials(trials: int, seed: int = 13) -> dict[str, Any]:
    """`trials` runs, each sent SIGINT (Ctrl-C) on the main thread at a random moment within
    30 ms. Each must end cancelled with no node left running, or have ended before the
    interrupt (succeeded), or, interrupted as start() was entered, be not started with nothing
    recorded and start cleanly afterwards. Threads left once all trials are over are leaks."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("Ctrl-C trials need the main thread")
    rng = random.Random(seed)
    main = threading.main_thread().ident
    _interrupt_run().start()  # warm-up: the engine's shared pools exist from here on
    before = {thread for thread in threading.enumerate() if thread.is_alive()}
    outcomes = {"cancelled": 0, "ended before the interrupt": 0, "interrupted before start": 0}
    unexpected = 0
    for _ in range(trials):
        run = _interrupt_run()
        timer = threading.Timer(rng.uniform(0, 0.03), signal.pthread_kill, (main, signal.SIGINT))
        try:
            timer.start()
            run.start()
            timer.join(10)  # the interrupt may still come: take it here, not in the next trial
            time.sleep(0.001)
        except KeyboardInterrupt:
            timer.join(10)
        if not run.done:
            if (run.status, run.records()) != ("pending", []):
                unexpected += 1
                print(f"ctrl-c: left {run.status} with records", file=sys.stderr)
                continue
            outcomes["interrupted before start"] += 1
            run.start()
        node_states = {result.state for result in run.nodes.values()}
        if run.status == "cancelled" and node_states <= FINISHED:
            outcomes["cancelled"] += 1
        elif run.status == "succeeded":  # Flaky fails, and its 0 arm handles that
            outcomes["ended before the interrupt"] += 1
        else:
            unexpected += 1
            print(f"ctrl-c: run {run.status}, nodes {sorted(node_states)}", file=sys.stderr)
    # Event bodies cut off by a cancel still finish on their threads; then the count is back.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = {thread for thread in threading.enumerate() if thread.is_alive()} - before
        if not left:
            break
        time.sleep(0.01)
    return {
        "ctrl-c trials": trials,
        "ctrl-c runs cancelled": outcomes["cancelled"],
        "ctrl-c runs ended before the interrupt": outcomes["ended before the interrupt"],
        "ctrl-c interrupted as start() was entered": outcomes["interrupted before start"],
        "ctrl-c runs not as expected": unexpected,
        "ctrl-c leaked threads": len(left),
    }
