"""The engine's own thread pool: the Executor contract, dispatch, context, naming, shutdown."""

from __future__ import annotations

import contextvars
import logging
import threading

import pytest

from pointy_engine.threads import WorkerThreads

WAIT = 10

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="nowhere")


def test_submit_gives_futures_with_results_and_errors() -> None:
    pool = WorkerThreads(max_workers=2, thread_name_prefix="t")
    try:
        assert pool.submit(pow, 2, 10).result(WAIT) == 1024
        failing = pool.submit(int, "x")
        with pytest.raises(ValueError, match="invalid literal"):
            failing.result(WAIT)
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
    finally:
        pool.shutdown()


def test_tasks_run_in_a_copy_of_the_submitters_context_on_named_threads() -> None:
    pool = WorkerThreads(max_workers=1, thread_name_prefix="ctx")
    token = where.set("the cell")
    try:
        seen = pool.submit(lambda: (where.get(), threading.current_thread().name)).result(WAIT)
    finally:
        where.reset(token)
        pool.shutdown()
    assert seen == ("the cell", "ctx_0")


def test_no_more_threads_than_max_workers_and_they_overlap() -> None:
    pool = WorkerThreads(max_workers=3)
    barrier = threading.Barrier(3, timeout=WAIT)
    names: set[str] = set()
    lock = threading.Lock()

    def meet() -> None:
        barrier.wait()  # only passes when three tasks run at once
        with lock:
            names.add(threading.current_thread().name)

    try:
        futures = [pool.submit(meet) for _ in range(9)]
        for future in futures:
            future.result(WAIT)
    finally:
        pool.shutdown()
    assert names == {"pointy_0", "pointy_1", "pointy_2"}


def test_dispatch_failures_are_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = WorkerThreads(max_workers=1, thread_name_prefix="d")
    done = threading.Event()

    def broken() -> None:
        raise RuntimeError("bug in the reporter")

    with caplog.at_level(logging.ERROR, logger="pointy_engine"):
        pool.dispatch(broken)
        pool.dispatch(done.set)
        assert done.wait(WAIT)
    pool.shutdown()
    assert [r.getMessage() for r in caplog.records] == [
        "work dispatched to d raised; the worker goes on"
    ]


def test_shutdown_cancels_queued_futures_and_refuses_more_work() -> None:
    pool = WorkerThreads(max_workers=1)
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(WAIT)

    first = pool.submit(hold)
    assert started.wait(WAIT)
    queued = pool.submit(int, "1")
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert queued.cancelled()
    first.result(WAIT)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(int, "2")
