"""Calling an event once: the only code that runs on workers.

`invoke` returns an `Attempt` tuple and never raises for the event's own failure. Events that
must run in another interpreter go through `invoke_by_value`, which ships them with cloudpickle
(so classes and functions defined in `__main__` or a notebook cell work).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import Any, NamedTuple

from . import shipping
from .capture import install, set_sink, uninstall
from .errors import PointyError
from .events import Outcome
from .records import ErrorInfo

CLASS, FUNCTION, PLAIN = 0, 1, 2
"""How an event is called: an `EventBase` subclass, an `@event` function, a plain callable."""


class EventReturnedFailure(Exception):
    """Stands for an event that returned `(False, value)` instead of raising."""


class ReturnShapeError(EventReturnedFailure):
    """An event that must return `(ok, value)` returned something else. Never retried: the
    same code would return the same shape again."""


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
    if not conventional:
        return True, result, 1
    if type(result) is tuple and len(result) == 2 and type(result[0]) is bool:
        ok = result[0]
        return ok, result[1], 1 if ok else 0
    if type(result) is bool:  # the ok flag alone
        return result, None, 1 if result else 0
    raise _WrongShape(result)


class _WrongShape(Exception):
    """Raised by `_interpret` and turned into a `ReturnShapeError` naming the event."""

    def __init__(self, result: Any) -> None:
        self.result = result


def _shape_error(target: Any, style: int, result: Any) -> ReturnShapeError:
    return ReturnShapeError(
        f"{_event_label(target, style)} returned {_short_repr(result)}; "
        "return (ok, value), e.g. (True, result)"
    )


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
    except _WrongShape as wrong:
        error = _shape_error(target, style, wrong.result)
        return Attempt(False, None, 0, error, worker, time.perf_counter() - started)
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
    target = shipping.arrived(target, cloudpickle.loads)
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
            UNPICKLABLE,
            f"{_event_label(target, style)} returned a value of type "
            f"{_type_name(attempt.value)} that cannot be sent back from its worker process "
            f"({type(problem).__name__}: {problem})",
            "",
        )
        return cloudpickle.dumps(
            attempt._replace(ok=False, value=None, descriptor=0, error=RemoteError(info))
        )


UNPICKLABLE = "UnpicklableValueError"
"""The error type recorded when an event's value cannot travel back from a worker."""


def _event_label(target: Any, style: int) -> str:
    name = getattr(target, "__qualname__", None) or type(target).__name__
    name = name.rpartition("<locals>.")[2]  # defined in a function: its own name is enough
    return f"{name}.process" if style == CLASS else name


def _type_name(value: Any) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def pack(
    target: Any, style: int, kwargs: dict[str, Any], previous: Any, capture: bool = False
) -> bytes:
    """One attempt's payload for `invoke_by_value`. In a batch run (see `shipping`), the event
    is pickled once for all its batches and its bytes travel as they are."""
    import cloudpickle

    shipments = shipping.current()
    if shipments is not None:
        shipped = shipments.ship(target, lambda: _dumps(target, target, style))
        try:
            return cloudpickle.dumps((shipped, style, kwargs, previous, capture))
        except Exception:  # the arguments: as one payload below, for the same error as alone
            pass
    return _dumps((target, style, kwargs, previous, capture), target, style)


def _dumps(payload: Any, target: Any, style: int) -> bytes:
    """`payload` pickled with the user's modules of `target` by value (see `_user_modules`)."""
    import cloudpickle

    modules = _user_modules(target)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(payload)
    except Exception as problem:
        # By value, the module's globals the event uses travel too; one may not pickle (a lock,
        # a connection). Then the worker imports the module instead, as multiprocessing does,
        # unless the module is still being imported: that import would start it all again.
        if not modules or any(_importing(module) for module in modules):
            raise _unsendable(target, style, problem) from problem
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)
        try:
            return cloudpickle.dumps(payload)
        except Exception as again:  # not by reference either: say which event, and why
            raise _unsendable(target, style, again) from again


def _unsendable(target: Any, style: int, problem: Exception) -> PointyError:
    return PointyError(
        f"{_event_label(target, style)} cannot be sent to a worker process: {problem}"
    )


def _importing(module: Any) -> bool:
    """Whether `module`'s top level is running now (importlib marks its spec meanwhile)."""
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _user_modules(target: Any) -> list[Any]:
    """The user's modules an event is made of, which travel by value: a worker importing them by
    name would run their top level again, and a module that starts a pipeline while it is
    imported would start it again in every worker, without end. They are the modules of the
    event, of its classes' bases and of the functions and classes its code names, one step
    away (`from helpers import clean`). A module used by attribute (`helpers.clean(...)`) stays
    by reference: by value, cloudpickle would send all of its globals. Installed libraries and
    Pointy stay by reference too."""
    from .remote_tracebacks import event_functions

    owners: list[Any] = list(target.__mro__) if isinstance(target, type) else [target]
    owners.extend(event_functions(target))
    modules: list[Any] = []
    for owner in owners:
        module = sys.modules.get(getattr(owner, "__module__", None) or "")
        if module is not None and module not in modules and _is_user_module(module):
            modules.append(module)
    return modules


def _is_user_module(module: Any) -> bool:
    name = module.__name__
    if name == "__main__" or name.split(".", 1)[0] in ("pointy_engine", "pointy_jupyter"):
        return False  # cloudpickle ships __main__ by value already; Pointy's own import is inert
    path = getattr(module, "__file__", None)
    if not path:
        return False
    return not os.path.abspath(path).startswith(_installed_places())


@functools.cache
def _installed_places() -> tuple[str, ...]:
    import site
    import sysconfig

    places = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    places.update(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.USER_SITE:
        places.add(site.USER_SITE)
    return tuple(os.path.join(os.path.abspath(place), "") for place in places)


def unpack(result: bytes, target: Any = None) -> Attempt:
    """An `Attempt` back from a worker; with `target` (the event sent), its error's traceback
    and message point at the event's real file and line (see `remote_tracebacks`)."""
    import cloudpickle

    attempt: Attempt = cloudpickle.loads(result)
    if attempt.error is None or target is None:
        return attempt
    from .remote_tracebacks import definition_site, restore_locations

    error = attempt.error
    info = error.info if isinstance(error, RemoteError) else None
    if info is not None and info.type == UNPICKLABLE:
        site = definition_site(target)
        if site:
            info = info._replace(message=f"{info.message}; the event is at {site}")
        return attempt._replace(error=RemoteError(info))
    text = getattr(error, "_pointy_traceback", None) if info is None else info.traceback
    if text and "<dynamic-code>" in text:
        fixed = restore_locations(text, target)
        if info is not None:
            error.info = info._replace(traceback=fixed)
        else:
            error._pointy_traceback = fixed
    return attempt
