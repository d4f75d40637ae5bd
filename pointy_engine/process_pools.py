"""Process pools that outlive a batch run: built on first use, reused by the next batch run with
the same settings, shut down after a while unused.

Starting a pool's worker processes is a fixed cost every batch run on a pool of its own pays
(the workers fork, import what an event needs and warm up; then the pool is joined at the end):
about 0.1 s of a 1 s batch run here. A notebook re-running a batch cell, or a script running
several batch runs, gets the workers of the previous one instead.

Idle workers are not free: each is an interpreter holding what the events imported (pandas, a
model: tens to hundreds of MB), and a notebook may sit unused for hours. So a pool that no batch
run has used for `idle_timeout` seconds (`IDLE_TIMEOUT`, 5 minutes) is shut down and the next
batch run builds a new one: a user iterating on a batch cell keeps warm workers, a kernel left
alone gives the memory back. A pool that broke (a worker died) or still holds work a finished
batch run gave up on (cancelled, timed out: Python cannot stop it on its worker) is never handed
out again. `shutdown()` stops them all: at interpreter exit, and on `%unload_ext pointy_jupyter`.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from .executors import ExecutorInitializerConfig, _process_pool

IDLE_TIMEOUT = 300.0
"""Seconds an unused pool keeps its workers before it is shut down."""


@dataclass(slots=True, eq=False)
class _Kept:
    pool: Executor
    users: int = 0  # batch runs using the pool now
    timer: threading.Timer | None = field(default=None, repr=False)


class ProcessPools:
    """Process pools by settings (`max_workers`, `max_tasks_per_child`), shared by batch runs.

    `acquire(config)` hands out the pool for those settings (built if there is none) and
    `release(pool)` gives it back at the end of a batch run; the last release starts the idle
    countdown. `idle_timeout=None` keeps pools until `shutdown()`. `build` makes a pool.
    """

    def __init__(
        self,
        idle_timeout: float | None = IDLE_TIMEOUT,
        build: Callable[[ExecutorInitializerConfig], Executor] = _process_pool,
    ) -> None:
        self.idle_timeout = idle_timeout
        self._build = build
        self._pools: dict[ExecutorInitializerConfig, _Kept] = {}
        self._lock = threading.Lock()
        self._exit_hook = False

    def acquire(self, config: ExecutorInitializerConfig) -> Executor:
        """The pool for `config`, in use until `release`; a bad config raises here."""
        retired: Executor | None = None
        with self._lock:
            kept = self._pools.get(config)
            if kept is not None and _broken(kept.pool):
                retired = self._drop(config, kept)
                kept = None
            if kept is None:
                kept = _Kept(self._build(config))
                if not self._exit_hook:  # registered on first use: importing does nothing
                    atexit.register(self.shutdown)
                    self._exit_hook = True
                self._pools[config] = kept
            kept.users += 1
            if kept.timer is not None:
                kept.timer.cancel()
                kept.timer = None
        if retired is not None:
            retired.shutdown(wait=False, cancel_futures=True)
        return kept.pool

    def release(self, pool: Executor) -> None:
        """A batch run is done with `pool`: its idle countdown starts if no one else uses it."""
        retired: Executor | None = None
        with self._lock:
            config, kept = next(
                ((c, k) for c, k in self._pools.items() if k.pool is pool), (None, None)
            )
            if config is None or kept is None:  # shut down meanwhile (unload, exit)
                return
            kept.users -= 1
            if kept.users > 0:
                return
            if _broken(pool) or _still_busy(pool):
                retired = self._drop(config, kept)
            elif self.idle_timeout is not None:
                kept.timer = threading.Timer(self.idle_timeout, self._retire_idle, (config, kept))
                kept.timer.name = "pointy-process-pool-idle"
                kept.timer.daemon = True
                kept.timer.start()
        if retired is not None:
            retired.shutdown(wait=False, cancel_futures=True)

    def _retire_idle(self, config: ExecutorInitializerConfig, kept: _Kept) -> None:
        with self._lock:
            if self._pools.get(config) is not kept or kept.users > 0:
                return  # taken again, or already replaced
            self._drop(config, kept)
        kept.pool.shutdown(wait=True)  # on the timer's own thread: no one waits for it

    def _drop(self, config: ExecutorInitializerConfig, kept: _Kept) -> Executor:
        """Forget `kept` (the caller holds the lock and shuts the pool down after it)."""
        del self._pools[config]
        if kept.timer is not None:
            kept.timer.cancel()
        return kept.pool

    def pools(self) -> dict[ExecutorInitializerConfig, Executor]:
        """The pools kept now, by their settings."""
        with self._lock:
            return {config: kept.pool for config, kept in self._pools.items()}

    def shutdown(self, wait: bool = True) -> None:
        """Stop every pool (batch runs still using one see their events fail); the next
        `acquire` builds a new one."""
        with self._lock:
            kept, self._pools = list(self._pools.values()), {}
        for item in kept:
            if item.timer is not None:
                item.timer.cancel()
            item.pool.shutdown(wait=wait, cancel_futures=True)


def _broken(pool: Executor) -> bool:
    # Pointy's own `ProcessPool` never is: its next call starts a new set of workers.
    return bool(getattr(pool, "_broken", False))


def _still_busy(pool: Executor) -> bool:
    """Whether work is left on a pool no batch run uses any more: attempts given up on.
    Pointy's own `ProcessPool` stops the workers of attempts given up on, so it never is."""
    return bool(getattr(pool, "_pending_work_items", None))


shared_processes = ProcessPools()
"""The process's own: batch runs on processes take their pool from here."""
