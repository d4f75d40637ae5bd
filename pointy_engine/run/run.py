"""A run of a plan: one loop owns all state; workers only run event bodies and report back.

The loop interprets the graph's block tree with small frames (sequence, parallel, branch).
Finished work is pushed onto a ready queue instead of being called back directly, so a chain of
any length runs without recursion. Workers report through an inbox (future done-callbacks);
retry waits and timeouts are timers in the loop, so waiting never holds a worker. Every state
change is one `Record` in the run's stream.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import queue
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import capture
from ..cache import as_cache
from ..clock import SLICE, Clock, SystemClock
from ..errors import PointyError
from ..events import Outcome
from ..graph import Block, Graph, Node, Parallel, Sequence, iter_nodes
from ..invoke import Attempt, EventReturnedFailure, invoke, invoke_captured
from ..observers import RunObservers, run_observers
from ..plan import Plan, Task
from ..records import (
    CacheOrigin,
    ErrorInfo,
    Listener,
    ListenerStalledWarning,
    Record,
    RecordStream,
    describe,
)
from ..remote import RemoteValue
from .frames import BranchFrame, Frame, ParallelFrame, RootFrame, SequenceFrame
from .rerun import GOOD as _GOOD
from .rerun import downstream, kept_results
from .states import (
    CACHED,
    CANCELLED,
    FAILED,
    PENDING,
    RETRYING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RerunMode,
)
from .submit import Submitter

_CANCEL = object()  # the inbox message that asks the loop to cancel

_record = tuple.__new__  # builds a Record from a tuple in C: records are the hot path

LISTENER_WAIT = 1.0
"""Seconds the end of a run waits for listeners still handling its records, at most."""


class NodeResult:
    """What happened to one node: state, value, error, attempts and timings."""

    __slots__ = (
        "attempts",
        "cache_note",
        "cached_at",
        "descriptor",
        "duration",
        "error",
        "event",
        "finished",
        "id",
        "output",
        "started",
        "state",
        "value",
        "worker",
    )

    def __init__(self, node: Node) -> None:
        self.id = node.id
        self.event = node.name
        self.state = PENDING
        self.value: Any = None
        self.error: ErrorInfo | None = None
        self.attempts = 0
        self.descriptor: int | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self.duration: float | None = None  # seconds spent in the event body, last attempt
        self.worker = ""
        self.output = ""  # printed and logged text, every attempt's, with capture_output=True
        self.cached_at: float | None = None  # state "cached": when the value was first computed
        self.cache_note = ""  # why the cache could not be used for this node, if it could not

    def __repr__(self) -> str:
        return f"<NodeResult {self.id} {self.state} attempts={self.attempts}>"


class Run:
    """One execution of a plan. Create with `Pipeline.start()` or `Run(plan).start()`.

    `start()` runs to the end in the calling thread (Ctrl-C cancels the run, then re-raises),
    or with `background=True` in a daemon thread, returning at once. An event's failure never
    raises: it is recorded on the node and in the run's status.

    With `capture_output=True`, what each event prints to stdout/stderr and logs with `logging`
    is kept in its `NodeResult.output` (and still shown as usual): see `pointy_engine.capture`.
    """

    def __init__(
        self,
        plan: Plan,
        *,
        listeners: Iterable[Listener] = (),
        clock: Clock | None = None,
        stop_on_error: bool = False,
        stop_on_exception: bool = False,
        reuse: dict[str, NodeResult] | None = None,
        own_executors: bool = False,
        run_id: str | None = None,
        capture_output: bool = False,
        name: str = "",
        tags: Mapping[str, str] | None = None,
        observers: RunObservers | None = None,
        cache: Any = None,
        listener_wait: float = LISTENER_WAIT,
    ) -> None:
        self.id = run_id or uuid.uuid4().hex[:12]
        # What the run is of ("Nightly", a cell's first line) and where it came from
        # ({"trigger": "schedule", "job": ...}, {"rerun_of": ..., "mode": ...}): for telemetry.
        self.name = name
        self.tags: dict[str, str] = dict(tags or {})
        self.plan = plan
        self.graph: Graph = plan.graph
        self.status = "pending"
        self.value: Any = None
        self.stream = RecordStream(tuple(listeners))
        self.listener_wait = listener_wait  # seconds the end waits for busy listeners
        self.nodes: dict[str, NodeResult] = {node.id: NodeResult(node) for node in plan.graph.nodes}
        # Remote calls (Dask) append here; made now so every observer sees the same list,
        # whichever order they were added in (telemetry before the Dask watcher lost them).
        self.network_ops: list[Any] = []
        self._clock = clock or SystemClock()
        self._stop_on_error = stop_on_error
        self._stop_on_exception = stop_on_exception
        # Results a re-run keeps, until the loop reaches them. Their nodes show them from the start
        # (a re-run's picture never shows a kept step as pending), and get their record then.
        self._reuse = dict(reuse or {})
        for node_id, kept in self._reuse.items():
            _copy_result(self.nodes[node_id], kept)
        self._own_executors = own_executors
        self._capture = capture_output
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._submitter = Submitter(self, self._inbox)
        self._in_flight = self._submitter.in_flight  # the loop runs while this holds work
        self._ready: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._timers: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._sequence = itertools.count()
        self._capturing = False  # capture installed by this run's loop, to undo at the end
        self._now = self._clock.time  # bound once: records are the hot path
        # Retries waiting for their timer. Timeout timers are not counted: one whose event
        # already finished must not keep the run alive until its deadline.
        self._retrying = 0
        self._failures: set[str] = set()
        self._stopped: str | None = None  # why the run stopped early: "error" or "success"
        self._cancelled = False  # the loop has cancelled the run
        self._cancel_asked = False  # cancel() was called (from any thread)
        self._halted = False  # stopped, cancelled or asked to cancel: start nothing new
        self._done = threading.Event()
        self._started = False
        self._thread: threading.Thread | None = None
        self._loop_thread_name = ""
        self._stale: set[str] = set()  # nodes whose event was redefined since (see mark_stale)
        self._redefined_in: Mapping[str, Any] | None = None  # where mark_stale found them
        self.cache = as_cache(cache)
        self._cache = None
        if self.cache is not None:
            from .cached import RunCache  # with the hashing: only a run with a cache needs it

            self._cache = RunCache(self.cache)
        self._observers = run_observers if observers is None else observers
        self._observers.announce(self)  # last: observers see a complete run

    # ----- public API -------------------------------------------------------------------

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for result in self.nodes.values():
            counts[result.state] = counts.get(result.state, 0) + 1
        summary = ", ".join(f"{counts[s]} {s}" for s in sorted(counts))
        return f"<Run {self.id} {self.status}: {len(self.nodes)} nodes ({summary})>"

    def add_listener(self, listener: Listener, *, on_loop: bool = False) -> None:
        """Call `listener(record)` for every record from now on, off the run's path and in
        order; `start()` returns once it has had the last one (or after `listener_wait`
        seconds, with a warning, if it is still busy). `on_loop=True` is for fast
        engine-internal listeners that must see a record before the run goes on."""
        self.stream.add_listener(listener, on_loop=on_loop)

    def remove_listener(self, listener: Listener) -> None:
        self.stream.remove_listener(listener)

    def records(self) -> list[Record]:
        """Every record so far, in order (a copy)."""
        return list(self.stream.records)

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped early: "error" or "success" (a stop_on_* setting), else None."""
        return self._stopped

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def values(self) -> dict[str, Any]:
        """Values of the nodes that succeeded (or came from the cache), by node id."""
        return {key: r.value for key, r in self.nodes.items() if r.state in _GOOD}

    @property
    def errors(self) -> dict[str, ErrorInfo]:
        return {
            key: r.error
            for key, r in self.nodes.items()
            if r.error is not None and r.state == FAILED
        }

    def start(self, background: bool = False) -> Run:
        if self._started:
            raise PointyError(f"run {self.id} was already started; use rerun() for another run")
        if background:
            self._started = True
            self.status = "running"  # already, so a background run never reads as pending
            # In a copy of the starter's contextvars, as the thread pools run tasks: what the
            # starter set (a notebook job's output sink) still holds for inline events.
            self._thread = threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._loop,),
                name=f"pointy-run-{self.id}",
                daemon=True,
            )
            self._thread.start()
            return self
        try:
            self._started = True
            self._loop()
        except KeyboardInterrupt:
            # A Ctrl-C before the loop's own handler was in place: nothing ran, nothing was
            # recorded, so the run is left as it was, not started (it can be started again).
            if self.status == "pending" and not self._done.is_set():
                self._started = False
            raise
        return self

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends. Ctrl-C while waiting cancels the run and re-raises."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            step = SLICE  # wait in short blocks, so that Ctrl-C is seen soon (see clock.SLICE)
            while not self._done.wait(step):
                if deadline is not None:
                    step = min(SLICE, deadline - time.monotonic())
                    if step <= 0:
                        raise TimeoutError(f"run {self.id} still {self.status} after {timeout} s")
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait(5)
            raise
        return self

    @property
    def dashboard_link(self) -> str | None:
        """The dashboard address of a Dask cluster that this run's events were sent to, if any."""
        for pool, _mode in tuple(self._submitter.pools.values()):  # a copy: the loop adds pools
            link = getattr(pool, "dashboard_link", None)
            if link:
                return str(link)
        return None

    @property
    def stale(self) -> list[str]:
        """Nodes whose event was redefined after this run used it, and everything downstream."""
        return sorted(self._stale)

    def mark_stale(self, events: Mapping[str, Any]) -> set[str]:
        """Compare `events` (a namespace) with the events this run used: the nodes whose event
        changed and their downstream become stale. Returns the nodes that newly became stale."""
        from .stale import redefined  # code digests: loaded by the first check, not by import

        fresh: set[str] = set()
        for node_id in redefined(self.plan, events):
            fresh |= downstream(self.graph, node_id)
        fresh -= self._stale
        self._stale |= fresh
        if self._stale:
            self._redefined_in = events
        return fresh

    def cancel(self) -> None:
        """Cancel: waiting retries and pending nodes at once, running nodes as soon as possible."""
        if not self._done.is_set():
            # The flag reaches a loop busy with inline events (it checks before each start);
            # the message wakes a loop that is waiting.
            self._cancel_asked = self._halted = True
            self._inbox.put(_CANCEL)

    def rerun(
        self,
        mode: RerunMode = "all",
        node: str | None = None,
        plan: Plan | None = None,
        **options: Any,
    ) -> Run:
        """A new, not yet started run: everything, only what failed, from `node` onwards, or
        the stale nodes (see `mark_stale`) and what depends on them.

        Nodes that are not re-run keep their recorded state and value; pass `plan` to run
        with re-resolved events (a notebook redefines them). `"stale"` without a `plan` binds
        the events anew from the namespace `mark_stale` found the redefinitions in, so the
        stale nodes run their new code. Start it with `.start()`.
        """
        if plan is None and mode == "stale" and self._redefined_in is not None:
            plan = self.plan.rebound(self._redefined_in)
        plan = plan or self.plan
        if self._own_executors and plan.executors is self.plan.executors:
            plan = plan.with_executors(plan.executors.fresh())  # ours were shut down at the end
        reuse = kept_results(self.nodes, self.graph, mode, node, plan.graph, self._stale)
        options.setdefault("own_executors", self._own_executors)
        options.setdefault("capture_output", self._capture)
        options.setdefault("name", self.name)
        options.setdefault("tags", {**self.tags, "rerun_of": self.id, "mode": mode})
        options.setdefault("observers", self._observers)
        options.setdefault("cache", self.cache)
        options.setdefault("listener_wait", self.listener_wait)
        run = Run(
            plan,
            clock=self._clock,
            stop_on_error=self._stop_on_error,
            stop_on_exception=self._stop_on_exception,
            reuse=reuse,
            **options,
        )
        for listener in self.stream.listeners:
            # A listener tied to this run (the signal bridge) follows the new run instead.
            rebind = getattr(listener, "for_run", None)
            run.add_listener(rebind(run) if rebind is not None else listener)
        return run

    # ----- the loop ---------------------------------------------------------------------

    def _emit(
        self,
        node: str,
        event: str,
        attempt: int,
        state: str,
        worker: str = "",
        error: ErrorInfo | None = None,
        descriptor: int | None = None,
    ) -> None:
        self.stream.emit(
            _record(
                Record,
                (
                    self.id,
                    node,
                    event,
                    attempt,
                    state,
                    self._now(),
                    worker,
                    error,
                    descriptor,
                    None,
                ),
            )
        )

    def _loop(self) -> None:
        self._loop_thread_name = threading.current_thread().name
        ready = self._ready
        try:  # from the first statement: a Ctrl-C anywhere still ends the run cleanly
            if self._capture:
                capture.install()
                self._capturing = True
            self.status = "running"
            self._emit("", "", 0, "running", self._loop_thread_name)
            ready.append((self._start, (self.graph.root, RootFrame(), 0, None)))
            while True:
                while ready:
                    action, args = ready.popleft()
                    action(*args)
                if self._cancelled or not (self._in_flight or self._retrying):
                    break
                self._wait_once()
        except KeyboardInterrupt:
            try:
                self._cancel()
            finally:
                self._finish()
            raise
        except BaseException as error:  # a bug in Pointy itself: end the run, loudly
            crash = ErrorInfo.from_exception(error)
            try:
                self._cancel()  # abandon what is running or waiting
            finally:
                self._finish(crash)
            raise
        self._finish()

    def _wait_once(self) -> None:
        timeout = None
        if self._timers:
            timeout = max(0.0, self._timers[0][0] - self._clock.monotonic())
        message = self._clock.wait(self._inbox, timeout)
        if message is _CANCEL:
            self._cancel()
        elif message is not None:
            self._submitter.collect(*message)
            self._drain()
        else:
            now = self._clock.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, action, args = heapq.heappop(self._timers)
                action(*args)

    def _drain(self) -> None:
        """Take every result already waiting, without blocking: one wake-up serves a burst."""
        inbox = self._inbox
        while not inbox.empty():
            message = inbox.get_nowait()
            if message is _CANCEL:
                self._cancel()
                return
            self._submitter.collect(*message)

    def _start(self, block: Block, parent: Frame, slot: int, previous: Any) -> None:
        if self._halted:
            if self._cancelled:
                return
            if self._cancel_asked:
                self._cancel()
                return
            self._skip(block)  # stopped early by a stop_on_* setting
            return
        kind = type(block)
        if kind is Node:
            reused = self._reuse.pop(block.id, None)
            if reused is not None:
                self._reuse_result(block, reused, parent, slot)
                return
            self._submit(self.plan.tasks[block.id], parent, slot, previous, 1)
        elif kind is Sequence:
            frame = SequenceFrame()
            frame.parent, frame.slot, frame.block = parent, slot, block
            self._ready.append((self._start, (block.items[0], frame, 0, previous)))
        elif kind is Parallel:
            frame = ParallelFrame()
            frame.parent, frame.slot, frame.block = parent, slot, block
            frame.outcomes = [None] * len(block.members)
            frame.remaining = len(block.members)
            for index, member in enumerate(block.members):
                self._start(member, frame, index, previous)
        else:
            frame = BranchFrame()
            frame.parent, frame.slot, frame.block, frame.arm = parent, slot, block, None
            self._ready.append((self._start, (block.head, frame, -1, previous)))

    def _submit(self, task: Task, parent: Frame, slot: int, previous: Any, attempt: int) -> None:
        node = task.node
        result = self.nodes[node.id]
        result.state = RUNNING
        result.attempts = attempt
        now = self._now()
        if attempt == 1:
            result.started = now
        kwargs = task.kwargs
        if task.wants_previous:
            kwargs = {**kwargs, "previous_result": previous}
        if (
            attempt == 1
            and self._cache is not None
            and self._cache.hit(self, task, parent, slot, kwargs, previous)
        ):
            return  # settled from the cache
        choice = task.executor
        sent = previous
        if isinstance(previous, RemoteValue):  # kept on a cluster: a reference, or the value
            try:
                pool = None if choice.inline else self._submitter.pool_for(choice)
                sent = previous.for_executor(pool)
            except Exception as error:  # the value is gone (its worker or cluster ended)
                self._emit(node.id, node.name, attempt, RUNNING, "")
                self._settle(
                    task, parent, slot, previous, attempt, Attempt(False, None, 0, error, "", 0.0)
                )
                return
            if task.wants_previous:
                kwargs = {**kwargs, "previous_result": sent}
        if choice.inline:
            worker = self._loop_thread_name
            self.stream.emit(
                _record(
                    Record,
                    (self.id, node.id, node.name, attempt, RUNNING, now, worker, None, None, None),
                )
            )
            if self._capture:
                sink: list[str] = []
                try:
                    outcome = invoke_captured(task.target, task.style, kwargs, sent, sink)
                except BaseException:  # Ctrl-C in the event: keep what it printed so far
                    result.output += "".join(sink)
                    raise
            else:
                outcome = invoke(task.target, task.style, kwargs, sent, worker)
            self._settle(task, parent, slot, previous, attempt, outcome)
            return
        self._submitter.submit(task, parent, slot, previous, attempt, kwargs, sent)

    def _settle(
        self, task: Task, parent: Frame, slot: int, previous: Any, attempt: int, outcome: Attempt
    ) -> None:
        node = task.node
        result = self.nodes[node.id]
        result.worker = outcome.worker
        result.duration = outcome.duration
        if outcome.output:
            result.output += outcome.output
        if outcome.ok:
            result.state = SUCCEEDED
            result.value = outcome.value
            result.descriptor = outcome.descriptor
            result.error = None
            result.finished = now = self._now()
            if self._cache is not None:
                self._cache.store(self, task, outcome)
            self.stream.emit(
                _record(
                    Record,
                    (
                        self.id,
                        node.id,
                        node.name,
                        attempt,
                        SUCCEEDED,
                        now,
                        outcome.worker,
                        None,
                        outcome.descriptor,
                        None,  # every field, origin too: tuple.__new__ fills no defaults
                    ),
                )
            )
            if task.settings.stop_on_success:
                self._stop("success")
            self._ready.append(
                (parent.child_done, (self, slot, True, outcome.value, outcome.descriptor))
            )
            return
        error = outcome.error
        info = ErrorInfo.from_exception(error) if error is not None else None
        raised = error is not None and not isinstance(error, EventReturnedFailure)
        if (
            raised
            and not self._cancelled
            and task.settings.retry_policy.should_retry(error, attempt, task.max_attempts)
        ):
            result.state = RETRYING
            result.error = info
            self._emit(node.id, node.name, attempt, RETRYING, outcome.worker, info)
            delay = task.settings.retry_policy.delay(attempt + 1)
            deadline = self._clock.monotonic() + delay
            self._retrying += 1
            heapq.heappush(
                self._timers,
                (
                    deadline,
                    next(self._sequence),
                    self._retry,
                    (task, parent, slot, previous, attempt + 1),
                ),
            )
            return
        result.state = FAILED
        result.value = outcome.value
        result.error = info
        result.descriptor = outcome.descriptor
        result.finished = self._now()
        self._failures.add(node.id)
        self._emit(node.id, node.name, attempt, FAILED, outcome.worker, info, outcome.descriptor)
        settings = task.settings
        if (
            settings.stop_on_error
            or self._stop_on_error
            or (raised and (settings.stop_on_exception or self._stop_on_exception))
        ):
            self._stop("error")
        self._ready.append(
            (parent.child_done, (self, slot, False, outcome.value, outcome.descriptor))
        )

    def _stop(self, reason: str) -> None:
        """Stop early: nothing new starts, and retries waiting for their timer end now."""
        if self._stopped is None:
            self._stopped = reason
        self._halted = True
        if self._retrying:
            retry = self._retry
            waiting = [timer for timer in self._timers if timer[2] == retry]
            self._timers = [timer for timer in self._timers if timer[2] != retry]
            heapq.heapify(self._timers)
            for _, _, action, args in waiting:
                self._ready.append((action, args))

    def _retry(self, task: Task, parent: Frame, slot: int, previous: Any, attempt: int) -> None:
        self._retrying -= 1
        if self._cancel_asked:  # asked between the wait and this timer
            self._cancel()
            return
        if self._stopped:  # the run stopped while this node waited: its last failure stands
            result = self.nodes[task.node.id]
            result.state = FAILED
            result.finished = self._now()
            self._failures.add(task.node.id)
            self._emit(
                task.node.id, task.node.name, attempt - 1, FAILED, result.worker, result.error, 0
            )
            self._ready.append((parent.child_done, (self, slot, False, None, 0)))
            return
        self._submit(task, parent, slot, previous, attempt)

    def _reuse_result(self, node: Node, reused: NodeResult, parent: Frame, slot: int) -> None:
        self._record_kept(node.id, node.name, reused)
        ok = reused.state in _GOOD
        if ok and self.plan.tasks[node.id].settings.stop_on_success:
            self._stop("success")  # as it did when it ran
        self._ready.append((parent.child_done, (self, slot, ok, reused.value, reused.descriptor)))

    def _record_kept(self, node_id: str, event: str, reused: NodeResult) -> None:
        """The record of a result a re-run keeps (its NodeResult holds it since __init__)."""
        origin = None
        if reused.state == CACHED and reused.duration is not None and reused.cached_at is not None:
            origin = CacheOrigin(reused.duration, reused.cached_at)
        self.stream.emit(
            Record(
                self.id,
                node_id,
                event,
                reused.attempts,
                reused.state,
                self._now(),
                reused.worker,
                reused.error,
                reused.descriptor,
                origin,
            )
        )

    def _skip(self, block: Block) -> None:
        for node in iter_nodes(block):
            result = self.nodes[node.id]
            if result.state == PENDING:
                result.state = SKIPPED
                self._emit(node.id, node.name, 0, SKIPPED)

    def _cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = self._halted = True
        self._timers.clear()
        self._retrying = 0
        notes = self._submitter.cancel_all()  # what became of bodies already running
        self._ready.clear()
        for result in self.nodes.values():
            if result.state in (RUNNING, RETRYING, PENDING):
                result.state = CANCELLED
                result.finished = self._now()
                note = notes.get(result.id)
                if note:
                    result.error = ErrorInfo("Cancelled", f"cancelled; {note}", "")
                self._emit(result.id, result.event, result.attempts, CANCELLED, "", result.error)

    def _finish(self, crash: ErrorInfo | None = None) -> None:
        # Kept results the loop never reached (the re-run stopped or was cancelled first) are
        # still this run's, as they were: recorded here, so every listener sees each node end.
        for node_id, kept in self._reuse.items():
            self._record_kept(node_id, kept.event, kept)
        self._reuse.clear()
        if self._cancel_asked and not self._cancelled:
            # cancel() came while the last work ran (an inline event blocks the loop): the
            # run ends cancelled, what finished keeps its state.
            self._cancel()
        for result in self.nodes.values():
            if result.state == PENDING:
                result.state = SKIPPED
                self._emit(result.id, result.event, 0, SKIPPED)
        if crash is not None:
            self.status = FAILED
        elif self._cancelled:
            self.status = CANCELLED
        elif self._failures or self._stopped == "error":
            self.status = FAILED
        else:
            self.status = SUCCEEDED
        try:
            self._emit("", "", 0, self.status, self._loop_thread_name, crash)
        finally:
            try:
                self._wait_for_listeners()
            finally:
                self._close()

    def _wait_for_listeners(self) -> None:
        """The run is over once its listeners have seen it end, or have had long enough."""
        for listener, waiting in self.stream.flush(self.listener_wait):
            warnings.warn(
                f"record listener {describe(listener)} was still busy {self.listener_wait:g} s "
                f"after run {self.id} ended ({waiting} of its records not yet handled); the "
                "run did not wait longer, and the listener gets the rest, in order, when it "
                "returns",
                ListenerStalledWarning,
                stacklevel=2,
            )

    def _close(self) -> None:
        try:
            if self._capturing:
                self._capturing = False
                capture.uninstall()
            if self._own_executors:
                self.plan.executors.shutdown(wait=False, cancel_futures=True)
        finally:
            self._done.set()

    # ----- frames report here -----------------------------------------------------------

    def _handled(self, block: Block) -> None:
        if self._failures:
            for node in iter_nodes(block):
                self._failures.discard(node.id)

    # ----- telemetry (pointy_engine.telemetry reads the records; nothing here) ----------

    @property
    def metrics(self) -> Any:
        """One row per attempt, as a pandas DataFrame (see pointy_engine.telemetry.frames)."""
        from ..telemetry.frames import metrics_frame
        from ..telemetry.store import RunEntry

        return metrics_frame([RunEntry(self)])

    @property
    def summary(self) -> Any:
        """One row per node, as a pandas DataFrame, with value type and size."""
        from ..telemetry.frames import summary_frame
        from ..telemetry.store import RunEntry

        return summary_frame([RunEntry(self)], self.values)

    def timeline(self) -> Any:
        """A Gantt-style timeline (SVG in notebooks; `.save(path)`)."""
        from ..telemetry.timeline import Timeline

        return Timeline.of(self)

    @property
    def critical_path(self) -> Any:
        """The steps that set when the run ended, from its graph, as a DataFrame."""
        from ..telemetry.critical import critical_path_frame

        return critical_path_frame(self.stream.records, self.graph)


def _copy_result(result: NodeResult, kept: NodeResult) -> None:
    for name in NodeResult.__slots__:
        setattr(result, name, getattr(kept, name))


__all__ = ["NodeResult", "Outcome", "Run"]
