"""Calling an event once: the only code that runs on workers.

`invoke` returns an `Attempt` tuple and never raises for the event's own failure. Events that
must run in another interpreter go through `invoke_by_value`, which ships them with cloudpickle
(so classes and functions defined in `__main__` or a notebook cell work).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, NamedTuple

from .capture import install, set_sink, uninstall
from .events import Outcome
from .records import ErrorInfo

CLASS, FUNCTION, PLAIN = 0, 1, 2
"""How an event is called: an `EventBase` subclass, an `@event` function, a plain callable."""


class EventReturnedFailure(Exception):
    """Stands for an event that returned `(False, value)` instead of raising."""


_attempt = tuple.__new__
perf_counter = time.perf_counter


class Attempt(NamedTuple):
    ok: bool
    value: Any
    descriptor: int
    error: BaseException | None
    worker: str
    duration: float
    output: str = ""  # what the event printed and logged, when the run captures output


def _interpret(result: Any, conventional: bool) -> tuple[bool, Any, int]:
    if type(result) is Outcome:
        return result.descriptor != 0, result.value, result.descriptor
    if conventional and type(result) is tuple and len(result) == 2 and type(result[0]) is bool:
        ok = result[0]
        return ok, result[1], 1 if ok else 0
    return True, result, 1


def invoke(
    target: Any, style: int, kwargs: dict[str, Any], previous: Any, worker: str = ""
) -> Attempt:
    """Call the event once. `worker` names where it runs (default: the current thread)."""
    if not worker:
        worker = threading.current_thread().name
    started = perf_counter()
    try:
        if style == PLAIN:
            ok, value, descriptor = _interpret(target(**kwargs), False)
        else:
            if style == FUNCTION:
                result, instance = target(**kwargs), None
            else:
                instance = target(previous)
                result = instance.process(**kwargs)
            if type(result) is tuple and len(result) == 2 and result[0] is True:
                ok, value, descriptor = True, result[1], 1  # (True, value): most calls
            else:
                ok, value, descriptor = _interpret(result, True)
            if instance is not None and instance._descriptor is not None:
                descriptor = instance._descriptor
    except Exception as error:
        # Start the traceback at the event's own frame: this one is Pointy's plumbing.
        trace = error.__traceback__
        if trace is not None and trace.tb_frame.f_code is invoke.__code__:
            error.__traceback__ = trace.tb_next
        return Attempt(False, None, 0, error, worker, time.perf_counter() - started)
    if ok:  # the common case, built in C: no keyword handling, no defaults to fill
        return _attempt(
            Attempt, (True, value, descriptor, None, worker, perf_counter() - started, "")
        )
    error = EventReturnedFailure(_short_repr(value))
    return Attempt(ok, value, descriptor, error, worker, time.perf_counter() - started)


def invoke_captured(
    target: Any, style: int, kwargs: dict[str, Any], previous: Any, sink: list[str] | None = None
) -> Attempt:
    """`invoke`, keeping what the event prints and logs in this thread in `Attempt.output`.

    The caller may pass `sink` to read the text so far if it stops waiting (a timeout).
    """
    if sink is None:
        sink = []
    outer = set_sink(sink)
    try:
        attempt = invoke(target, style, kwargs, previous)
    finally:
        set_sink(outer)
    return attempt._replace(output="".join(sink))


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RemoteError(Exception):
    """An exception from another interpreter that could not travel back as itself; `info`
    describes the original (its ErrorInfo is what the run records)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(str(info))
        self.info = info


def invoke_by_value(payload: bytes) -> bytes:
    """Worker side of a by-value call: unpickle, invoke, pickle the `Attempt` back."""
    import cloudpickle

    target, style, kwargs, previous, capture = cloudpickle.loads(payload)
    if capture:  # a worker process runs one event at a time: capture just around it
        install()
        try:
            attempt = invoke_captured(target, style, kwargs, previous)
        finally:
            uninstall()
    else:
        attempt = invoke(target, style, kwargs, previous)
    attempt = attempt._replace(worker=f"pid:{os.getpid()}")
    error = attempt.error
    if error is not None:
        # The traceback does not travel with a pickled exception: keep its text on it, and
        # send an exception that would not come back as itself as a RemoteError.
        info = ErrorInfo.from_exception(error)
        try:
            error._pointy_traceback = info.traceback  # type: ignore[union-attr]
            cloudpickle.loads(cloudpickle.dumps(error))
        except Exception:
            attempt = attempt._replace(error=RemoteError(info))
    try:
        return cloudpickle.dumps(attempt)
    except Exception as problem:  # the value does not pickle
        info = ErrorInfo(
            type(problem).__name__, f"the event's value cannot be sent back: {problem}", ""
        )
        return cloudpickle.dumps(
            attempt._replace(ok=False, value=None, descriptor=0, error=RemoteError(info))
        )


def pack(
    target: Any, style: int, kwargs: dict[str, Any], previous: Any, capture: bool = False
) -> bytes:
    import cloudpickle

    return cloudpickle.dumps((target, style, kwargs, previous, capture))


def unpack(result: bytes) -> Attempt:
    import cloudpickle

    return cloudpickle.loads(result)
