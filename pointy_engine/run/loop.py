"""The loop's half of a run: it interprets the graph, settles attempts and emits the records.

One thread owns all of a run's state (see `Run`): it starts blocks with small frames (sequence,
parallel, branch), runs inline attempts itself, hands the rest to `Submitter`, and settles what
comes back. Finished work goes on a ready queue instead of being called back directly, so a chain
of any length runs without recursion. Retry waits and timeouts are timers here, so waiting never
holds a worker. Every state change is one `Record` in the run's stream.
"""

from __future__ import annotations

import heapq
import threading
import warnings
from typing import Any

from .. import capture
from ..graph import Block, Node, Parallel, Sequence, iter_nodes
from ..invoke import Attempt, EventReturnedFailure, invoke, invoke_captured
from ..plan import Task
from ..records import (
    CacheOrigin,
    ErrorInfo,
    ListenerStalledWarning,
    Record,
    describe,
)
from ..remote import RemoteValue
from .frames import BranchFrame, Frame, ParallelFrame, RootFrame, SequenceFrame
from .rerun import GOOD as _GOOD
from .results import NodeResult
from .states import (
    CACHED,
    CANCELLED,
    FAILED,
    PENDING,
    RETRYING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
)

CANCEL = object()  # the inbox message that asks the loop to cancel

_record = tuple.__new__  # builds a Record from a tuple in C: records are the hot path


class RunLoop:
    """The loop's methods of `Run`, which sets up the state they share (see `Run.__init__`)."""

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
        if message is CANCEL:
            self._cancel()
        elif message is not None:
            self._submitter.collect(*message)
            self._drain()
        else:
            now = self._clock.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, action, args = heapq.heappop(self._timers)
                action(*args)

    def _run_ready(self) -> None:
        ready = self._ready
        while ready:
            action, args = ready.popleft()
            action(*args)

    def _drain(self) -> None:
        """Take every result already waiting, without blocking: one wake-up serves a burst."""
        inbox = self._inbox
        while not inbox.empty():
            message = inbox.get_nowait()
            if message is CANCEL:
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
            if not (type(block) is Node and block.id in self._submitter.prestarted):
                self._skip(block)  # stopped early by a stop_on_* setting
                return
            # else: a worker started it before the stop (see run_chain); it runs to its end
            # like any step in flight at a stop.
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
        prestarted = self._submitter.prestarted
        if prestarted and node.id in prestarted:  # already running: a worker went on to it
            token = prestarted.pop(node.id)
            self._emit(node.id, node.name, attempt, RUNNING, "")
            if task.settings.timeout is not None:
                self._submitter.arm_timeout(task, token)
            return
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
