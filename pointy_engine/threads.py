"""The engine's thread pool: `concurrent.futures` semantics, plus a path without futures.

Runs hand work to threads with `dispatch(fn, *args)`: no `Future`, no work-item object and no
condition variable per task (the result travels back through the run's own inbox), which is most
of what a task costs a `ThreadPoolExecutor`. `submit` gives the usual `Future` for everyone else.
Every task runs in a copy of the submitting thread's `contextvars` context (as `asyncio.to_thread`
does), so what a task prints or logs is attributed as if it ran where it was submitted: in a
notebook, under the cell that started the run.
"""

from __future__ import annotations

import atexit
import contextvars
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any

_STOP = None  # a worker that takes this leaves
_log = logging.getLogger("pointy_engine")


class WorkerThreads(Executor):
    """Up to `max_workers` daemon threads named `<prefix>_<n>`, started as work arrives."""

    def __init__(
        self,
        max_workers: int,
        thread_name_prefix: str = "pointy",
        idle_timeout: float | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        self.max_workers = max_workers
        self._prefix = thread_name_prefix
        # Seconds a worker waits for work before it leaves (None: it stays until shutdown).
        self._idle_timeout = idle_timeout
        self._work: SimpleQueue[Any] = SimpleQueue()
        # One token per worker waiting for work. A queue, not a Semaphore: a worker hands its
        # token back with one C call, so it frees the GIL at once for the loop it just woke.
        self._idle: SimpleQueue[None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._closed = False

    def dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on a worker. `fn` reports its own outcome: what it raises is only
        logged (to the `pointy_engine` logger), and the worker goes on."""
        if self._closed:
            raise RuntimeError("cannot dispatch work after shutdown")
        self._work.put((contextvars.copy_context(), fn, args))
        try:
            self._idle.get_nowait()
        except Empty:
            self._add_worker()

    def has_queued_work(self) -> bool:
        """Whether work waits for a worker (a worker going on with a chain lets it go first)."""
        return not self._work.empty()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.dispatch(_settle_future, future, fn, args, kwargs)
        return future

    def _add_worker(self) -> None:
        with self._lock:
            if len(self._threads) >= self.max_workers or self._closed:
                return
            thread = threading.Thread(
                target=self._serve, name=f"{self._prefix}_{next(self._numbers)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        work, idle, timeout = self._work, self._idle, self._idle_timeout
        while True:
            try:
                item = work.get(timeout=timeout)
            except Empty:
                if self._retire():
                    return
                continue
            if item is _STOP:
                return
            context, fn, args = item
            try:
                context.run(fn, *args)
            except BaseException:  # dispatch's contract is that fn reports its own outcome
                _log.exception("work dispatched to %s raised; the worker goes on", self._prefix)
            del item, context, fn, args  # let results go before waiting again
            idle.put(None)

    def _retire(self) -> bool:
        """An idle worker leaves, taking back one idle token. None left means a dispatcher
        just claimed this worker for work it queued: then it stays and takes that work."""
        with self._lock:  # the same lock as _add_worker, so queued work always finds a worker
            try:
                idle = self._idle
                idle.get_nowait()
            except Empty:
                return False
            self._threads.remove(threading.current_thread())
            return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            # Futures not started are cancelled (their owners are told). Dispatched work has no
            # one to tell if it is dropped (a run waiting for a result, a listener's records):
            # it goes back in the queue, before the workers' stop marks, and still runs.
            kept = []
            while not self._work.empty():
                item = self._work.get_nowait()
                if item is _STOP:
                    continue
                if item[1] is _settle_future:
                    item[2][0].cancel()
                else:
                    kept.append(item)
            for item in kept:
                self._work.put(item)
        for _ in threads:
            self._work.put(_STOP)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()


class ThreadPools:
    """Thread pools that outlive a run, by size and name: built once, reused by every start.

    Idle workers cost nothing but a blocked thread; building a pool and starting its threads
    for every start is most of what a short run on threads costs. `shutdown()` stops them all
    (at interpreter exit, and when the Jupyter extension is unloaded); the next `get` builds
    new ones.
    """

    def __init__(self) -> None:
        self._pools: dict[tuple[int, str], WorkerThreads] = {}
        self._lock = threading.Lock()
        self._exit_hook = False

    def get(
        self,
        max_workers: int,
        thread_name_prefix: str = "pointy",
        idle_timeout: float | None = None,
    ) -> WorkerThreads:
        """The pool of that size and name; `idle_timeout` only counts when it is first built."""
        key = (max_workers, thread_name_prefix)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                if not self._exit_hook:  # registered on first use: importing does nothing
                    atexit.register(self.shutdown)
                    self._exit_hook = True
                pool = WorkerThreads(max_workers, thread_name_prefix, idle_timeout)
                self._pools[key] = pool
        return pool

    def shutdown(self, wait: bool = False) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=True)


shared_threads = ThreadPools()
"""The process's own: `Pipeline.start()` runs events on threads from here."""


def _settle_future(future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as error:
        future.set_exception(error)
    else:
        future.set_result(result)
