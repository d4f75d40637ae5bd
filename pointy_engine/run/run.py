"""A run of a plan: its public face. `Run` sets up the state; `RunLoop` (loop.py) runs it.

One loop owns all state; workers only run event bodies and report back (see loop.py).
"""

from __future__ import annotations

import contextvars
import itertools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..cache import as_cache
from ..clock import SLICE, Clock, SystemClock
from ..errors import PointyError
from ..events import Outcome
from ..graph import Graph
from ..observers import RunObservers, run_observers
from ..plan import Plan
from ..records import ErrorInfo, Listener, Record, RecordStream
from .loop import CANCEL, RunLoop
from .rerun import GOOD as _GOOD
from .rerun import downstream, kept_results
from .results import NodeResult, copy_result
from .states import FAILED, RerunMode
from .submit import Submitter

LISTENER_WAIT = 1.0
"""Seconds the end of a run waits for listeners still handling its records, at most."""


class Run(RunLoop):
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
        # 12 random hex digits, as uuid4().hex[:12] gave, at a fifth of the cost.
        self.id = run_id or os.urandom(6).hex()
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
            copy_result(self.nodes[node_id], kept)
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
            self._inbox.put(CANCEL)

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


__all__ = ["NodeResult", "Outcome", "Run"]
