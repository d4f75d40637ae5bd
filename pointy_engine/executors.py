"""Executors: which `concurrent.futures.Executor` runs an event, and who owns the instances.

An event names its executor as `"inline"` (the run's own thread), `"thread"`, `"process"`, any
`Executor` subclass (built with the fields of its `ExecutorInitializerConfig` that it accepts),
an `Executor` instance (used as is, never shut down by Pointy), or a name registered on an
`Executors` object (how distributed engines plug in).
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from typing import Any

from .errors import PointyError
from .threads import ThreadPools, WorkerThreads

INLINE = "inline"


@dataclass(frozen=True, slots=True)
class ExecutorInitializerConfig:
    """How to build an executor. None means the executor's own default."""

    max_workers: int | None = None
    max_tasks_per_child: int | None = None
    thread_name_prefix: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_workers", "max_tasks_per_child"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise PointyError(
                    f"executor_config.{name} must be a whole number >= 1, not {value!r}"
                )
        prefix = self.thread_name_prefix
        if prefix is not None and not isinstance(prefix, str):
            raise PointyError(f"executor_config.thread_name_prefix must be a str, not {prefix!r}")

    @classmethod
    def coerce(
        cls, value: ExecutorInitializerConfig | Mapping[str, Any] | None
    ) -> ExecutorInitializerConfig:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                names = ", ".join(sorted(known))
                raise PointyError(f"unknown executor_config key {unknown[0]!r}; known: {names}")
            return cls(**value)
        raise PointyError(
            f"executor_config is an ExecutorInitializerConfig or a dict, not {type(value).__name__}"
        )

    def replace(self, **changes: Any) -> ExecutorInitializerConfig:
        return replace(self, **changes) if changes else self


@dataclass(frozen=True, slots=True)
class ExecutorChoice:
    """A resolved executor: `kind` is INLINE, a registered name, a class, or an instance."""

    kind: Any
    config: ExecutorInitializerConfig
    by_value: bool  # ship the event with cloudpickle (another interpreter runs it)
    # Read for every attempt: a stored field, not a property computing it each time.
    inline: bool = dataclass_field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inline", self.kind == INLINE)


ExecutorFactory = Callable[[ExecutorInitializerConfig], Executor]


# multiprocessing costs ~20 ms to import: only pipelines that use processes pay for it.


def _multiprocessing() -> Any:
    import multiprocessing

    return multiprocessing


def _is_process_pool(kind: type) -> bool:
    """Whether `kind` is a ProcessPoolExecutor; if that module was never imported, it is not."""
    module = sys.modules.get("concurrent.futures.process")
    return module is not None and issubclass(kind, module.ProcessPoolExecutor)


def _process_context() -> Any:
    # fork is unsafe in a process with threads (a notebook kernel always has some).
    method = (
        "forkserver"
        if sys.platform != "win32" and "forkserver" in _multiprocessing().get_all_start_methods()
        else "spawn"
    )
    from .worker_start import script_safe_context

    return script_safe_context(method)


def _thread_pool(config: ExecutorInitializerConfig) -> Executor:
    return WorkerThreads(*_thread_pool_shape(config))


def _thread_pool_shape(config: ExecutorInitializerConfig) -> tuple[int, str]:
    return (
        config.max_workers or min(32, (os.cpu_count() or 1) + 4),
        config.thread_name_prefix or "pointy",
    )


def _process_pool(config: ExecutorInitializerConfig) -> Executor:
    """Pointy's process pool: a timed-out or cancelled attempt stops its worker process (see
    `pointy_engine.process_pool`); on Windows, where it is not available, the stdlib's."""
    options: dict[str, Any] = {"max_workers": config.max_workers, "mp_context": _process_context()}
    if config.max_tasks_per_child is not None:
        _needs_tasks_per_child()
        options["max_tasks_per_child"] = config.max_tasks_per_child
    if sys.platform == "win32":
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(**options)
    from .process_pool import ProcessPool

    return ProcessPool(**options)


def _needs_tasks_per_child() -> None:
    if sys.version_info < (3, 11):
        raise PointyError(
            "executor_config.max_tasks_per_child needs Python 3.11 or newer for process pools "
            "(ProcessPoolExecutor has it from 3.11)"
        )


def _from_class(kind: type[Executor], config: ExecutorInitializerConfig) -> Executor:
    if _is_process_pool(kind):
        if kind is sys.modules["concurrent.futures.process"].ProcessPoolExecutor:
            return _process_pool(config)  # the stdlib's own class: Pointy's pool does the same
        if config.max_tasks_per_child is not None:
            _needs_tasks_per_child()
        options: dict[str, Any] = {"mp_context": _process_context()}
    else:
        options = {}
    try:
        accepted = inspect.signature(kind).parameters
    except (TypeError, ValueError):
        accepted = {}
    for field in fields(config):
        value = getattr(config, field.name)
        if value is not None and field.name in accepted:
            options[field.name] = value
    return kind(**options)


def _dask() -> Any:
    from . import dask_executor

    return dask_executor


def _local_dask(config: ExecutorInitializerConfig) -> Executor:
    return _dask().local_dask_executor(config)


def _names_dask_cluster(executor: Any) -> bool:
    # Only a setting that names Dask may import it.
    return (isinstance(executor, str) and executor.startswith(("dask://", "tls://"))) or (
        "distributed" in sys.modules and _dask().names_dask_cluster(executor)
    )


BUILTIN_FACTORIES: dict[str, ExecutorFactory] = {
    "thread": _thread_pool,
    "process": _process_pool,
    "dask": _local_dask,
}
BY_VALUE_NAMES = {"process", "dask"}

# Members of a parallel group that would run inline run here instead, so they overlap.
PARALLEL_FALLBACK = ExecutorChoice(
    "thread", ExecutorInitializerConfig(max_workers=32, thread_name_prefix="pointy-par"), False
)


class Executors:
    """Owns the executor instances that runs use: built on first use, shut down together.

    A notebook keeps one for its kernel's lifetime, so process pools are reused across cells;
    a script's `Pipeline.start()` makes one per run. `factories` adds named executors
    (`{"dask": make_dask_executor}`); `by_value` lists which of them run in another interpreter.
    With `threads`, "thread" pools come from there and outlive these executors (`shutdown`
    leaves them running): how every `Pipeline.start()` shares the process's thread pools.
    """

    def __init__(
        self,
        factories: Mapping[str, ExecutorFactory] | None = None,
        by_value: frozenset[str] | set[str] = frozenset(),
        threads: ThreadPools | None = None,
    ) -> None:
        self._factories = {**BUILTIN_FACTORIES, **(factories or {})}
        self._by_value = BY_VALUE_NAMES | set(by_value)
        self._threads = threads if self._factories["thread"] is _thread_pool else None
        self._pools: dict[tuple[Any, ExecutorInitializerConfig], Executor] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def kinds(self) -> tuple[Any, ...]:
        """What `choose` depends on: executors of equal kinds make equal choices."""
        return (tuple(self._factories.items()), frozenset(self._by_value))

    def choose(
        self, executor: Any, config: ExecutorInitializerConfig, owner: str
    ) -> ExecutorChoice:
        """Validate an event's executor setting; `owner` names the event in errors."""
        if executor is None or executor == INLINE:
            return ExecutorChoice(INLINE, config, False)
        if executor == "dask" or _names_dask_cluster(executor):
            _dask().watch_runs()
            return ExecutorChoice(executor, config, True)
        if isinstance(executor, str):
            if executor not in self._factories:
                names = sorted([INLINE, *self._factories])
                import difflib

                close = difflib.get_close_matches(executor.lower(), names, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise PointyError(
                    f"event {owner!r}: unknown executor {executor!r}{hint}; "
                    f"known: {', '.join(names)}"
                )
            return ExecutorChoice(executor, config, executor in self._by_value)
        if isinstance(executor, type) and issubclass(executor, Executor):
            return ExecutorChoice(executor, config, _is_process_pool(executor))
        if isinstance(executor, Executor):
            # `runs_by_value`: an executor that says its work runs in another interpreter.
            remote = _is_process_pool(type(executor)) or getattr(executor, "runs_by_value", False)
            return ExecutorChoice(executor, config, bool(remote))
        raise PointyError(
            f"event {owner!r}: executor must be 'inline', 'thread', 'process', a registered name, "
            f"an Executor class or instance, not {executor!r}"
        )

    def fresh(self) -> Executors:
        """New, empty executors that build the same kinds of pools."""
        return Executors(self._factories, self._by_value, self._threads)

    def get(self, choice: ExecutorChoice) -> Executor:
        kind = choice.kind
        if isinstance(kind, Executor):
            return kind
        if kind == "thread" and self._threads is not None:
            if self._closed:
                raise PointyError("these executors were shut down")
            return self._threads.get(*_thread_pool_shape(choice.config))
        key = (kind, choice.config)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            if self._closed:
                raise PointyError("these executors were shut down")
            pool = self._pools.get(key)
            if pool is None:
                if _names_dask_cluster(kind):
                    pool = _dask().dask_executor_for(kind)
                else:
                    factory = self._factories[kind] if isinstance(kind, str) else None
                    pool = factory(choice.config) if factory else _from_class(kind, choice.config)
                self._pools[key] = pool
        return pool

    def discard_broken(self, choice: ExecutorChoice) -> None:
        """Drop `choice`'s pool if it is broken (a worker died): the next `get` builds a new one."""
        key = (choice.kind, choice.config)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None or not getattr(pool, "_broken", False):
                return
            del self._pools[key]
        pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, wait: bool = True, cancel_futures: bool = True) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            self._closed = True
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __enter__(self) -> Executors:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
