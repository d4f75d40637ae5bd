"""Soft signals: named hooks with listeners, fed from the run's record stream.

Listeners are held strongly (one defined inline is never dropped) and called with the keyword
arguments they accept, so `def on_start(pipeline)` and `def on_any(sender, signal, **kwargs)`
both work. A listener that raises is reported as a warning and the run goes on.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .records import Record


class SignalListenerWarning(RuntimeWarning):
    """A signal listener raised; the run went on."""


class _Receiver:
    __slots__ = ("accepts", "function", "sender", "takes_all")

    def __init__(self, function: Callable[..., Any], sender: Any) -> None:
        self.function = function
        self.sender = sender
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):  # no signature to read: offer everything
            self.takes_all, self.accepts = True, frozenset()
            return
        self.takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters)
        self.accepts = frozenset(p.name for p in parameters)

    def matches(self, sender: Any) -> bool:
        wanted = self.sender
        if wanted is None or wanted is sender:
            return True
        sender_class = sender if isinstance(sender, type) else type(sender)
        return isinstance(wanted, type) and issubclass(sender_class, wanted)


class SoftSignal:
    """A named signal. `connect(listener, sender=None)`; `emit(sender, **arguments)`."""

    def __init__(self, name: str, provide_args: Iterable[str] = ()) -> None:
        self.name = name
        self.provide_args = tuple(provide_args)
        self._receivers: tuple[_Receiver, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SoftSignal {self.name}>"

    def connect(self, listener: Callable[..., Any], sender: Any = None) -> None:
        with self._lock:
            if not any(r.function == listener and r.sender is sender for r in self._receivers):
                self._receivers = (*self._receivers, _Receiver(listener, sender))

    def disconnect(self, listener: Callable[..., Any], sender: Any = None) -> bool:
        """Remove `listener` (for `sender`, or for every sender when None). True if it was there."""
        with self._lock:
            kept = tuple(
                r
                for r in self._receivers
                if not (r.function == listener and (sender is None or r.sender is sender))
            )
            removed = len(kept) != len(self._receivers)
            self._receivers = kept
        return removed

    @property
    def has_listeners(self) -> bool:
        return bool(self._receivers)

    def emit(self, sender: Any, **arguments: Any) -> None:
        for receiver in self._receivers:
            if not receiver.matches(sender):
                continue
            offered = {"sender": sender, "signal": self, **arguments}
            if not receiver.takes_all:
                offered = {k: v for k, v in offered.items() if k in receiver.accepts}
            try:
                receiver.function(**offered)
            except Exception as error:
                warnings.warn(
                    f"listener {getattr(receiver.function, '__qualname__', receiver.function)!r} "
                    f"of signal {self.name!r} raised {type(error).__name__}: {error}",
                    SignalListenerWarning,
                    stacklevel=2,
                )


def listener(
    signal: SoftSignal | Iterable[SoftSignal], sender: Any = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: connect the function to one signal or several."""
    signals = [signal] if isinstance(signal, SoftSignal) else list(signal)

    def connect(function: Callable[..., Any]) -> Callable[..., Any]:
        for each in signals:
            each.connect(function, sender=sender)
        return function

    return connect


pipeline_pre_init = SoftSignal("pipeline_pre_init", ["cls", "args", "kwargs"])
pipeline_post_init = SoftSignal("pipeline_post_init", ["pipeline"])
pipeline_shutdown = SoftSignal("pipeline_shutdown")
pipeline_stop = SoftSignal("pipeline_stop")
pipeline_execution_start = SoftSignal("pipeline_execution_start", ["pipeline"])
pipeline_execution_end = SoftSignal("pipeline_execution_end", ["execution_context"])
event_execution_init = SoftSignal(
    "event_execution_init", ["event", "execution_context", "executor", "call_kwargs"]
)
event_execution_start = SoftSignal("event_execution_start", ["event", "execution_context"])
event_execution_end = SoftSignal("event_execution_end", ["event", "execution_context", "future"])
event_execution_retry = SoftSignal(
    "event_execution_retry",
    ["event", "execution_context", "task_id", "backoff", "retry_count", "max_attempts"],
)
event_execution_retry_done = SoftSignal(
    "event_execution_retry_done", ["event", "execution_context", "task_id", "max_attempts"]
)

DEFAULT_SIGNALS = (
    pipeline_pre_init,
    pipeline_post_init,
    pipeline_shutdown,
    pipeline_stop,
    pipeline_execution_start,
    pipeline_execution_end,
    event_execution_init,
    event_execution_start,
    event_execution_end,
    event_execution_retry,
    event_execution_retry_done,
)


def any_listeners() -> bool:
    return any(signal.has_listeners for signal in DEFAULT_SIGNALS)


class SignalBridge:
    """A record listener that emits the default signals for one run of a pipeline.

    At the end of a run: `pipeline_stop` if it was cancelled or stopped early by a stop_on_*
    setting, then `pipeline_execution_end`, then `pipeline_shutdown` (the run releases its
    executors right after).
    """

    def __init__(self, sender: Any, run: Any) -> None:
        self.sender = sender
        self.run = run
        self._started: set[str] = set()  # nodes that ran here (a re-run reuses the others)

    def for_run(self, run: Any) -> SignalBridge:
        """The same bridge for a re-run."""
        return SignalBridge(self.sender, run)

    def __call__(self, record: Record) -> None:
        run, sender, state = self.run, self.sender, record.state
        if not record.node:
            if state == "running":
                pipeline_execution_start.emit(sender, pipeline=sender)
            else:
                if state == "cancelled" or run.stop_reason is not None:
                    pipeline_stop.emit(sender)
                pipeline_execution_end.emit(sender, execution_context=run)
                pipeline_shutdown.emit(sender)
            return
        task = run.plan.tasks[record.node]
        if state == "running":
            self._started.add(record.node)
            if record.attempt == 1:
                event_execution_init.emit(
                    sender,
                    event=record.event,
                    execution_context=run,
                    executor=task.executor.kind,
                    call_kwargs=task.kwargs,
                )
            event_execution_start.emit(sender, event=record.event, execution_context=run)
        elif state == "retrying":
            event_execution_retry.emit(
                sender,
                event=record.event,
                execution_context=run,
                task_id=record.node,
                backoff=task.settings.retry_policy.delay(record.attempt + 1),
                retry_count=record.attempt,
                max_attempts=task.max_attempts,
            )
        elif state in ("succeeded", "failed") and record.node in self._started:
            event_execution_end.emit(
                sender, event=record.event, execution_context=run, future=run.nodes[record.node]
            )
            if record.attempt > 1:
                event_execution_retry_done.emit(
                    sender,
                    event=record.event,
                    execution_context=run,
                    task_id=record.node,
                    max_attempts=task.max_attempts,
                )
