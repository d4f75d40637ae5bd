"""The process pool of `executor="process"`: an attempt given up on stops its worker process.

Python cannot stop a function running in a worker process, but it can end the process. Ending one
worker of a `ProcessPoolExecutor` breaks the whole pool, though: every call still pending on it
fails with `BrokenProcessPool`. So `ProcessPool` runs its calls on a *generation*, a
`ProcessPoolExecutor` of its own, and when `stop_attempts` gives up on a call that is running (a
timeout, a cancelled run), that generation is retired:

- new calls go to a fresh generation, built on the next `submit`;
- the retired one starts nothing more: a worker that takes a queued call refuses it, and calls
  that never started there are handed to the fresh generation (their futures just take longer);
- calls already running on it beside the stuck one run to their end; then the stuck workers are
  killed (which ends the generation's other, idle workers too) and it is gone.

A worker tells the pool which call it starts (its number and the worker's pid) on a pipe, under
the lock that guards the retired flag, so once the flag is set the pool knows exactly which calls
started. Each start record is one `os.write` smaller than PIPE_BUF, so it arrives whole.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import struct
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from typing import Any

_START = struct.Struct("=qq")  # (call number, worker pid)
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)
_SEAL_WAIT = 5.0  # s; the flag's lock is only ever held for a pipe write


class _NotRun:
    """What a worker of a retired generation returns instead of starting a call."""


# ----- worker side --------------------------------------------------------------------------

_worker_pipe: Any = None
_worker_retired: Any = None


def _start_worker(pipe: Any, retired: Any) -> None:
    """The generation's initializer: where this worker announces what it starts."""
    global _worker_pipe, _worker_retired
    _worker_pipe, _worker_retired = pipe, retired  # kept: dropping the connection closes it


def _announced(number: int, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    with _worker_retired.get_lock():
        if _worker_retired.value:
            return _NotRun()
        os.write(_worker_pipe.fileno(), _START.pack(number, os.getpid()))
    return fn(*args, **kwargs)


# ----- pool side ----------------------------------------------------------------------------


class _Generation:
    """One `ProcessPoolExecutor` and what the pool knows about the calls on it."""

    def __init__(self, options: dict[str, Any], context: Any) -> None:
        reader, writer = context.Pipe(duplex=False)
        os.set_blocking(reader.fileno(), False)
        self._reader, self._writer = reader, writer  # the writer goes to workers started later
        self._retired_flag = context.Value("b", 0)
        self.pool = ProcessPoolExecutor(
            mp_context=context,
            initializer=_start_worker,
            initargs=(writer, self._retired_flag),
            **options,
        )
        self.live: dict[int, PoolFuture] = {}  # call number -> its future, until it settles
        self.started: dict[int, int] = {}  # call number -> pid of the worker running it
        self.abandoned: set[int] = set()  # live calls given up on
        self.killed: set[int] = set()
        self.manager: threading.Thread | None = None  # the pool's own thread, once retired
        self.retired = False  # takes no new calls
        self.sealed = False  # and knows every call that started on it
        self._unread = b""

    def read_starts(self) -> None:
        """Take in the start records written so far (the caller holds the pool's lock)."""
        data = self._unread
        with contextlib.suppress(BlockingIOError, OSError):
            while True:
                chunk = os.read(self._reader.fileno(), 65536)
                if not chunk:
                    break
                data += chunk
        whole = len(data) - len(data) % _START.size
        self._unread = data[whole:]
        for number, pid in _START.iter_unpack(data[:whole]):
            if number in self.live:  # a call that settled already (its pool broke) is over
                self.started[number] = pid

    def seal(self) -> None:
        """No worker starts a call from now on; every start before is in the pipe."""
        lock = self._retired_flag.get_lock()
        # Held only around one pipe write; a worker killed inside it (its pool broke) never
        # releases it, and then no worker is left to start anything anyway.
        acquired = lock.acquire(timeout=_SEAL_WAIT)
        try:
            self._retired_flag.value = 1
        finally:
            if acquired:
                lock.release()

    def over(self) -> bool:
        """A retired generation with no calls left and its pool's thread ended."""
        return not self.live and (self.manager is None or not self.manager.is_alive())

    def running_beside(self) -> bool:
        """Whether a call not given up on is running here."""
        return any(n in self.started for n in self.live if n not in self.abandoned)

    def stuck_workers(self) -> set[int]:
        """Workers to kill now: those running abandoned calls, once nothing else runs here."""
        if not self.sealed or self.running_beside():
            return set()
        pids = {self.started[n] for n in self.abandoned if n in self.started} - self.killed
        self.killed |= pids
        return pids


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, _KILL)


def _never_ran(inner: Future[Any], sealed: bool) -> bool:
    """Whether `inner`, whose call wrote no start record, ended without it starting: cancelled,
    refused, or, on a sealed generation, its pool ended (unsealed, a worker might still take
    it in the moment before the pool's other workers are terminated)."""
    if inner.cancelled():
        return True
    error = inner.exception()
    if error is not None:
        return sealed and isinstance(error, BrokenProcessPool)
    return isinstance(inner.result(), _NotRun)


class PoolFuture(Future):
    """A call on a `ProcessPool`; it may move to another generation before it starts."""

    stops_its_worker = True  # `stop_attempts` takes it (how the run loop tells, duck-typed)

    def __init__(self, pool: ProcessPool, call: tuple[Callable[..., Any], tuple, dict]) -> None:
        super().__init__()
        self._pool = pool
        self._call = call
        self._generation: _Generation | None = None
        self._number = 0
        self._inner: Future[Any] | None = None
        self._given_up = False  # by stop_attempts or cancel(): never moved, its result unused

    def cancel(self) -> bool:
        """Cancel the call if no worker has taken it yet (as `concurrent.futures` does)."""
        with self._pool._lock:
            inner = self._inner
            if inner is None:
                return self.cancelled()
            self._given_up = True
            if inner.cancel():  # runs _settled here, which cancels this future
                return True
            self._given_up = False
            return self.cancelled()

    def _take(self, inner: Future[Any]) -> None:
        """Settle as `inner` did."""
        if inner.cancelled() or (inner.exception() is None and isinstance(inner.result(), _NotRun)):
            Future.cancel(self)
            return
        if not self.set_running_or_notify_cancel():
            return
        error = inner.exception()
        if error is not None:
            self.set_exception(error)
        else:
            self.set_result(inner.result())


class ProcessPool(Executor):
    """A process pool (`ProcessPoolExecutor`'s options) whose stuck workers `stop_attempts`
    can stop. A worker that dies on its own (os._exit, a signal) breaks the calls running
    beside it as in `ProcessPoolExecutor` (BrokenProcessPool); the next `submit` gets a new
    generation, so the pool itself never stays broken."""

    runs_by_value = True  # its calls run in other interpreters (see Executors.choose)

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        max_tasks_per_child: int | None = None,
    ) -> None:
        options: dict[str, Any] = {"max_workers": max_workers}
        if max_tasks_per_child is not None:
            options["max_tasks_per_child"] = max_tasks_per_child
        if mp_context is None:
            import multiprocessing

            mp_context = multiprocessing.get_context()
        self._options = options
        self._context = mp_context
        # Reentrant: cancelling a future runs its done callbacks, which take it, on this thread.
        # Never held while calling into a generation's pool (its own threads take this lock).
        self._lock = threading.RLock()
        self._current: _Generation | None = None
        self._retired: set[_Generation] = set()  # until they are over
        self._numbers = itertools.count(1)
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = PoolFuture(self, (fn, args, kwargs))
        self._place(future)
        return future

    def _place(self, future: PoolFuture) -> None:
        """Put `future`'s call on the current generation (building one if needed)."""
        while True:
            with self._lock:
                if future._given_up:  # while it moved from a retired generation
                    Future.cancel(future)
                    return
                if self._closed:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                generation = self._current
                if generation is None:
                    generation = self._current = _Generation(self._options, self._context)
                number = next(self._numbers)
                generation.live[number] = future
                future._generation, future._number, future._inner = generation, number, None
            fn, args, kwargs = future._call
            try:
                inner = generation.pool.submit(_announced, number, fn, args, kwargs)
            except RuntimeError as refused:  # BrokenProcessPool is one too
                with self._lock:
                    generation.live.pop(number, None)
                    broken = isinstance(refused, BrokenProcessPool)
                    retry = not self._closed and (broken or generation.retired)
                    if retry and self._current is generation:
                        self._current = None
                if retry:  # broken (a worker died) or retired meanwhile: a new generation
                    continue
                raise
            with self._lock:
                future._inner = inner
            inner.add_done_callback(functools.partial(self._settled, generation, number, future))
            return

    def _settled(
        self, generation: _Generation, number: int, future: PoolFuture, inner: Future[Any]
    ) -> None:
        """A call on `generation` ended (on that generation's thread, or where it was
        cancelled): move it on if it never ran there, stop stuck workers once they are alone."""
        try:
            self._follow(generation, number, future, inner)
        except BaseException as error:  # a callback's error would be logged and lost
            with contextlib.suppress(Exception):  # whoever waits gets it instead of hanging
                if not future.running():
                    future.set_running_or_notify_cancel()
                if not future.done():
                    future.set_exception(error)
            raise

    def _follow(
        self, generation: _Generation, number: int, future: PoolFuture, inner: Future[Any]
    ) -> None:
        with self._lock:
            generation.read_starts()
            started = generation.started.pop(number, None) is not None
            generation.live.pop(number, None)
            generation.abandoned.discard(number)
            kills: set[int] = set()
            if generation.retired:
                kills = generation.stuck_workers()
            move = (
                generation.retired
                and not future._given_up
                and not started
                and not self._closed
                and _never_ran(inner, generation.sealed)
            )
        _kill(kills)
        if move:
            try:
                self._place(future)
            except BaseException as error:  # shut down meanwhile: nobody will start it
                if future.set_running_or_notify_cancel():
                    future.set_exception(error)
            return
        future._take(inner)

    def _stop(self, futures: list[PoolFuture]) -> list[tuple[int, str] | None]:
        sealing = []
        with self._lock:
            for future in futures:
                future._given_up = True
                generation = future._generation
                if generation is None or future._number not in generation.live:
                    continue  # settled, or moving to another generation that will not start it
                generation.abandoned.add(future._number)
                if not generation.retired:
                    generation.retired = True
                    # The stdlib forgets its thread at shutdown: kept, for shutdown(wait=True).
                    generation.manager = getattr(generation.pool, "_executor_manager_thread", None)
                    self._retired = {old for old in self._retired if not old.over()}
                    self._retired.add(generation)
                    if self._current is generation:
                        self._current = None
                    sealing.append(generation)
        for generation in sealing:
            generation.seal()
            with self._lock:
                generation.read_starts()
                generation.sealed = True
            # Calls not yet given to a worker are cancelled, and so move to the new generation.
            generation.pool.shutdown(wait=False, cancel_futures=True)
        notes: list[tuple[int, str] | None] = []
        kills: set[int] = set()
        with self._lock:
            for future in futures:
                generation = future._generation
                if generation is not None and generation.retired:
                    generation.read_starts()
                    kills |= generation.stuck_workers()
            for future in futures:
                generation = future._generation
                pid = None if generation is None else generation.started.get(future._number)
                if pid is None:
                    notes.append(None)  # it never started, and now never will
                elif pid in generation.killed:
                    notes.append((pid, f"its worker process {pid} was stopped"))
                else:
                    notes.append(
                        (
                            pid,
                            f"its worker process {pid} is stopped once the other calls running "
                            "on its pool end",
                        )
                    )
        _kill(kills)
        return notes

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            generations = [*self._retired]
            if self._current is not None:
                generations.append(self._current)
            self._current = None
        for generation in generations:
            generation.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
            manager = generation.manager
            if wait and manager is not None and manager is not threading.current_thread():
                manager.join()  # a retired generation ends once its last call settled


def stop_attempts(futures: Iterable[Any]) -> list[tuple[int, str] | None]:
    """Give up on `futures` of `ProcessPool`s: each call that has not started never will; the
    worker of each running one is killed, at once or once the calls running beside it on its
    pool end. For each future, (worker pid, what became of it), or None if it had not started."""
    futures = list(futures)
    by_pool: dict[int, list[PoolFuture]] = {}
    for future in futures:
        by_pool.setdefault(id(future._pool), []).append(future)
    notes: dict[int, tuple[int, str] | None] = {}
    for group in by_pool.values():
        for future, note in zip(group, group[0]._pool._stop(group), strict=True):
            notes[id(future)] = note
    return [notes[id(future)] for future in futures]
