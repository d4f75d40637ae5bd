"""Handing attempts to executors, and turning what comes back into `Attempt`s for the loop.

Inline attempts never come here: the loop calls them itself. Everything else gets a token and an
in-flight entry; how the work reaches its executor depends on the pool (see `Submitter.pool`):
the engine's own threads take it without a future, other thread pools get a task that reports
straight into the run's inbox, any other executor (processes, distributed engines) gets a
done-callback. Timeouts are timers in the loop that drop the entry; a late result finds none.

On the engine's own threads a worker that finishes a step may start the next step of its
sequence itself (`run_chain`): the loop settles the first and adopts the second from one message,
while the second already runs, so a chain of steps on threads costs no hand-off per step.
"""

from __future__ import annotations

import heapq
import queue
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..executors import ExecutorChoice
from ..invoke import Attempt, invoke, invoke_by_value, invoke_captured, pack, unpack
from ..plan import Task
from ..remote import RemoteValue
from ..threads import WorkerThreads
from .states import RUNNING

if TYPE_CHECKING:
    from .frames import Frame
    from .run import Run

DISPATCH, REPORTING, CALLBACK = 0, 1, 2  # how work reaches an executor (see Submitter.pool)

STILL_RUNNING = "still running on its worker (Python cannot stop it); its late result is dropped"


def _running(future: Any) -> bool:
    """A concurrent.futures future a worker has taken (Dask's own futures do not say)."""
    running = getattr(future, "running", None)
    return bool(running()) if callable(running) else False


class Submitter:
    """A run's attempts on executors: what is in flight, by token, and the pools they use."""

    __slots__ = ("in_flight", "inbox", "pools", "prestarted", "run", "sinks", "started")

    def __init__(self, run: Run, inbox: queue.SimpleQueue[Any]) -> None:
        self.run = run
        self.inbox = inbox
        # token -> (task, parent, slot, previous, future or None, attempt)
        self.in_flight: dict[int, tuple[Task, Frame, int, Any, Any, int]] = {}
        self.sinks: dict[int, list[str]] = {}  # capture buffers of pool calls, by token
        self.pools: dict[int, tuple[Executor, int]] = {}  # by id() of the plan's choices
        self.started: set[int] = set()  # tokens a shared-pool worker took and has not reported
        # node id -> token of a step a worker started itself (run_chain), until the loop adopts it
        self.prestarted: dict[str, int] = {}

    def submit(
        self,
        task: Task,
        parent: Frame,
        slot: int,
        previous: Any,
        attempt: int,
        kwargs: dict[str, Any],
        sent: Any,
    ) -> None:
        """Hand one attempt to its executor; `sent` is `previous` as this executor receives it
        (see `pointy_engine.remote`), `previous` itself is kept for retries."""
        run = self.run
        node = task.node
        choice = task.executor
        token = next(run._sequence)
        in_flight = self.in_flight
        in_flight[token] = (task, parent, slot, previous, None, attempt)  # before a worker looks
        try:
            pool, mode = self.pools.get(id(choice)) or self.pool(choice)
            future = None
            if choice.by_value:
                future = pool.submit(
                    invoke_by_value, pack(task.target, task.style, kwargs, sent, run._capture)
                )
            else:
                if run._capture:
                    sink: list[str] = []
                    self.sinks[token] = sink
                    call: tuple[Any, ...] = (
                        invoke_captured,
                        task.target,
                        task.style,
                        kwargs,
                        sent,
                        sink,
                    )
                else:
                    call = (invoke, task.target, task.style, kwargs, sent)
                if mode == DISPATCH:
                    if node.id in run.plan.followers and not run._capture and run._cache is None:
                        pool.dispatch(run_chain, self, pool, token, task, parent, slot, *call)
                    else:
                        pool.dispatch(report, self.inbox, in_flight, self.started, token, *call)
                elif mode == REPORTING:
                    future = pool.submit(report, self.inbox, None, None, token, *call)
                else:
                    future = pool.submit(*call)
        except Exception as error:  # the executor refused the work (shut down, not picklable)
            del in_flight[token]
            run._emit(node.id, node.name, attempt, RUNNING, "")
            run._settle(
                task, parent, slot, previous, attempt, Attempt(False, None, 0, error, "", 0.0)
            )
            return
        if future is not None:
            in_flight[token] = (task, parent, slot, previous, future, attempt)
        run._emit(node.id, node.name, attempt, RUNNING, "")
        if mode == CALLBACK or choice.by_value:
            inbox = self.inbox
            future.add_done_callback(lambda done, token=token: inbox.put((token, done)))
        if task.settings.timeout is not None:
            self.arm_timeout(task, token)

    def arm_timeout(self, task: Task, token: int) -> None:
        run = self.run
        deadline = run._clock.monotonic() + task.settings.timeout
        heapq.heappush(run._timers, (deadline, next(run._sequence), self.time_out, (token,)))

    def pool_for(self, choice: ExecutorChoice) -> Executor:
        return (self.pools.get(id(choice)) or self.pool(choice))[0]

    def pool(self, choice: ExecutorChoice) -> tuple[Executor, int]:
        """The executor for `choice` and how to hand it work, cached for this run."""
        pool = self.run.plan.executors.get(choice)
        if isinstance(pool, WorkerThreads):
            mode = DISPATCH
        elif isinstance(pool, ThreadPoolExecutor):
            mode = REPORTING
        else:
            mode = CALLBACK
        self.pools[id(choice)] = (pool, mode)
        return pool, mode

    def collect(self, token: int, future: Any, following: int | None = None) -> None:
        """A message from the inbox: an `Attempt` from a thread, or a finished future. With
        `following`, the worker went on to the next step of the sequence (see `run_chain`)."""
        entry = self.in_flight.pop(token, None)
        self.started.discard(token)
        if entry is None:
            if following is not None:  # cancelled meanwhile: the next step is given up too
                self.in_flight.pop(following, None)
            return  # timed out or cancelled already; its late result is dropped
        task, parent, slot, previous, _, attempt = entry
        if self.sinks:
            self.sinks.pop(token, None)
        if type(future) is Attempt:  # reported by `report` on a thread pool
            if following is None:
                self.run._settle(task, parent, slot, previous, attempt, future)
                return
            started = self.in_flight.get(following)
            if started is not None:
                self.prestarted[started[0].node.id] = following
            self.run._settle(task, parent, slot, previous, attempt, future)
            # Adopt the next step now, before its own result (maybe already in the inbox).
            self.run._run_ready()
            return
        try:
            outcome = future.result()
            if task.executor.by_value and type(outcome) is not Attempt:  # Dask unpacks its own
                outcome = unpack(outcome, task.target)
        except BrokenExecutor as error:  # the worker died (os._exit, a signal, out of memory)
            outcome = Attempt(False, None, 0, self.broken(task, error), "", 0.0)
        except BaseException as error:  # the executor itself failed (cancelled, ...)
            outcome = Attempt(
                False,
                None,
                0,
                error if isinstance(error, Exception) else RuntimeError(repr(error)),
                "",
                0.0,
            )
        self.run._settle(task, parent, slot, previous, attempt, outcome)

    def broken(self, task: Task, error: BrokenExecutor) -> BrokenExecutor:
        """Forget the broken pool, so the next attempt gets a new one; say what happened."""
        self.pools.pop(id(task.executor), None)
        self.run.plan.executors.discard_broken(task.executor)
        described = type(error)(
            f"the worker running {task.node.name!r} ended abruptly (os._exit, a signal or out "
            "of memory); its pool is rebuilt for the next attempt"
        )
        described.__cause__ = error
        return described

    def time_out(self, token: int) -> None:
        entry = self.in_flight.pop(token, None)
        if entry is None:
            return
        task, parent, slot, previous, future, attempt = entry
        message = f"event {task.node.name!r} timed out after {task.settings.timeout:g} s"
        worker = ""
        if getattr(future, "stops_its_worker", False):  # Pointy's process pool
            stopped = _stop_workers([future])[0]
            if stopped is not None:
                message += f"; {stopped[1]}"
                worker = f"pid:{stopped[0]}"
        else:
            if token in self.started or _running(future):
                message += f"; {STILL_RUNNING}"
            if future is not None:
                future.cancel()
        self.started.discard(token)
        error = TimeoutError(message)
        # What a thread printed before its timeout (it may print more; that is dropped).
        output = "".join(self.sinks.pop(token, ()))
        self.run._settle(
            task,
            parent,
            slot,
            previous,
            attempt,
            Attempt(False, None, 0, error, worker, task.settings.timeout or 0.0, output),
        )

    def cancel_all(self) -> dict[str, str]:
        """Give up on everything in flight: futures are cancelled, late results dropped.
        Returns, for the nodes whose body was already running on a worker, what became of it:
        a process is stopped, a thread goes on (Python cannot stop it)."""
        notes = {}
        stoppable = []
        # A copy: a worker going on with a chain may add its next step meanwhile (run_chain).
        for token, entry in list(self.in_flight.items()):
            future = entry[4]
            if getattr(future, "stops_its_worker", False):
                stoppable.append((entry[0].node.id, future))
                continue
            if token in self.started or _running(future):
                notes[entry[0].node.id] = STILL_RUNNING
            if future is not None:
                future.cancel()
        if stoppable:
            stopped = _stop_workers([future for _, future in stoppable])
            for (node_id, _), outcome in zip(stoppable, stopped, strict=True):
                if outcome is not None:
                    notes[node_id] = outcome[1]
        self.in_flight.clear()
        self.started.clear()
        return notes


def _stop_workers(futures: list[Any]) -> list[tuple[int, str] | None]:
    from ..process_pool import stop_attempts  # loaded already: these futures come from there

    return stop_attempts(futures)


def run_chain(
    submitter: Submitter,
    pool: WorkerThreads,
    token: int,
    task: Task,
    parent: Frame,
    slot: int,
    call: Callable[..., Attempt],
    *args: Any,
) -> None:
    """Worker side of `report` for a step with a follower (`Plan.followers`): after a success
    the worker starts the next step itself, unless the run is halting, the loop gave up on this
    one, or other work waits for this pool (it goes first: a chain never starves a sibling).

    The next step gets its token and in-flight entry before the loop hears of the first, so
    the run never looks idle between the two; the loop adopts it (`Submitter.prestarted`) when it
    settles the first, in the order a submitted step would have had.
    """
    live, started, inbox = submitter.in_flight, submitter.started, submitter.inbox
    run = submitter.run
    followers = run.plan.followers
    while True:
        if token not in live:
            return  # cancelled before it started
        started.add(token)
        try:
            attempt = call(*args)
        except BaseException as error:  # SystemExit and the like: still a failed attempt
            attempt = Attempt(False, None, 0, RuntimeError(repr(error)), "", 0.0)
        follower = followers.get(task.node.id)
        if (
            follower is None
            or not attempt.ok
            or run._halted
            or token not in live
            or pool.has_queued_work()
        ):
            inbox.put((token, attempt))
            return
        following, pipes = follower
        previous = attempt.value if pipes else None
        if following.node.id in run._reuse or isinstance(previous, RemoteValue):
            inbox.put((token, attempt))  # kept by a re-run, or a value the loop must place
            return
        kwargs = following.kwargs
        if following.wants_previous:
            kwargs = {**kwargs, "previous_result": previous}
        slot += 1
        next_token = next(run._sequence)
        live[next_token] = (following, parent, slot, previous, None, 1)
        inbox.put((token, attempt, next_token))
        token, task = next_token, following
        call, args = invoke, (following.target, following.style, kwargs, previous)


def report(
    inbox: queue.SimpleQueue[Any],
    live: dict[int, Any] | None,
    started: set[int] | None,
    token: int,
    call: Callable[..., Attempt],
    *args: Any,
) -> None:
    """Worker side: run the attempt and hand the result to the run's loop. With `live`, work
    the run gave up on (cancelled, timed out) before a worker took it is not started at all;
    `started` learns which tokens a worker took (a timeout or cancel then says so)."""
    if live is not None:
        if token not in live:
            return
        if started is not None:
            started.add(token)
    try:
        attempt = call(*args)
    except BaseException as error:  # SystemExit and the like: still a failed attempt
        attempt = Attempt(False, None, 0, RuntimeError(repr(error)), "", 0.0)
    inbox.put((token, attempt))
