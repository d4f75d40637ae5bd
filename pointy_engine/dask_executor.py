"""The "dask" executor: events run on a Dask `distributed` cluster.

`executor="dask"` uses a local cluster (worker processes, every socket on 127.0.0.1) started on
first use and kept for the process's life; `"dask://HOST:PORT"` or `"tls://HOST:PORT"` connects
to an existing scheduler (give Dask's own `distributed.security.Security` for TLS with
`DaskExecutor.connect(address, security=...)`), and a `distributed.Client` is used as given.
Events travel by value (cloudpickle), so events defined in a notebook or an unguarded script run
on workers without their module's top level ever running there.

Every remote call is recorded as a `NetworkOp` on its run (`run.network_ops`).
"""

from __future__ import annotations

import atexit
import threading
import time
from concurrent.futures import Executor, Future
from typing import Any

import cloudpickle

from .cluster_values import ClusterValue, Kept, head_of, resolving
from .errors import PointyError
from .invoke import invoke_by_value, unpack
from .network import NetworkOp
from .observers import run_observers
from .records import Record

DASK_SCHEMES = ("dask://", "tls://")
CONNECT_TIMEOUT = "10s"  # how long connecting to an existing scheduler may take


class WorkerDiedError(RuntimeError):
    """The Dask worker running an event died (the process exited or was killed)."""


def names_dask_cluster(executor: Any) -> bool:
    """Whether an executor setting is a Dask address or a `distributed.Client`."""
    if isinstance(executor, str):
        return executor.startswith(DASK_SCHEMES)
    return type(executor).__name__ == "Client" and type(executor).__module__.startswith(
        "distributed"
    )


DEFAULT_KEEP_OVER = 1_000_000  # bytes: an event's value larger than this stays on the cluster


def _on_worker(
    fn: Any, keep_over: int | None, ref_keys: tuple[str, ...], refs: list[Kept], *args: Any
) -> tuple[str, Any] | Kept:
    """Runs on a Dask worker: the call's result with the worker's address, or, for an event
    whose pickled attempt is larger than `keep_over`, a `Kept` that leaves its value here.
    `refs` are the kept results of earlier events this payload refers to (Dask fetched them
    worker to worker); the payload's `ClusterRef`s resolve to their values."""
    from distributed import get_worker

    address = get_worker().address
    resolving({key: kept.value for key, kept in zip(ref_keys, refs)} if refs else None)
    try:
        result = fn(*args)
    finally:
        resolving(None)
    if keep_over is not None and isinstance(result, bytes) and len(result) > keep_over:
        attempt = unpack(result)
        if attempt.ok:  # a failure's value comes back with its error
            small = cloudpickle.dumps(attempt._replace(value=None))
            return Kept(address, small, attempt.value, len(result) - len(small))
    return address, result


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0


class _Call:
    """One submitted call, bound to its run's node once the run records it as running."""

    __slots__ = ("attempt", "event", "node", "run", "sent", "started")

    def __init__(self, sent: int) -> None:
        self.run: Any = None
        self.node = self.event = ""
        self.attempt = 0
        self.started = time.time()
        self.sent = sent


class _CallBinder:
    """Ties each Dask call to the run, node and attempt that made it.

    A run submits an event and records it as running right after, in the same thread: the
    record claims the call this thread submitted last. A run observer attaches one per run.
    """

    def __init__(self, run: Any) -> None:
        self._run = run

    def __call__(self, record: Record) -> None:
        if record.state != "running" or record.worker:
            return
        call = getattr(_last_submitted, "call", None)
        if call is None:
            return
        _last_submitted.call = None
        call.run, call.node, call.event, call.attempt = (
            self._run,
            record.node,
            record.event,
            record.attempt,
        )


_last_submitted = threading.local()


def watch_runs() -> None:
    """From now on, every run keeps the network records of its Dask calls."""
    run_observers.add(_observe)


def _observe(run: Any) -> None:
    if not hasattr(run, "network_ops"):
        run.network_ops = []
    run.add_listener(_CallBinder(run), on_loop=True)  # reads the loop thread's last submit


class DaskExecutor(Executor):
    """A `concurrent.futures.Executor` over a `distributed.Client`."""

    runs_by_value = True  # events reach the workers pickled by value (see Executors.choose)

    def __init__(
        self, client: Any, owns_client: bool = False, keep_over: int | None = DEFAULT_KEEP_OVER
    ) -> None:
        """`keep_over`: events whose value pickles to more bytes than this leave it on the
        cluster (a `ClusterValue` on the run); None brings every value back at once."""
        self.client = client
        self.keep_over = keep_over
        self._owns_client = owns_client
        self._closed = False
        self._expected = threading.local()
        watch_runs()

    def same_cluster(self, other: Any) -> bool:
        """Whether `other` is an executor on this executor's cluster."""
        if not isinstance(other, DaskExecutor):
            return False
        if other.client is self.client:
            return True
        mine, theirs = self.client.scheduler, other.client.scheduler
        return mine is not None and theirs is not None and mine.address == theirs.address

    def expect(self, value: ClusterValue) -> None:
        """The next call submitted from this thread refers to `value` (a `ClusterRef`)."""
        pending = getattr(self._expected, "values", None)
        if pending is None:
            pending = self._expected.values = []
        pending.append(value)

    @classmethod
    def connect(cls, address: str, security: Any = None) -> DaskExecutor:
        """An executor on the scheduler at `address` (`dask://` is Dask's `tcp://`)."""
        from distributed import Client

        target = "tcp://" + address[len("dask://") :] if address.startswith("dask://") else address
        try:
            client = Client(target, security=security, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise PointyError(f"cannot reach the Dask scheduler at {address!r}: {error}") from None
        return cls(client, owns_client=True)

    @property
    def dashboard_link(self) -> str | None:
        return getattr(self.client, "dashboard_link", None)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        if self._closed:
            raise RuntimeError("cannot schedule new work after shutdown")
        if kwargs:
            raise TypeError("DaskExecutor.submit takes positional arguments only")
        refs = getattr(self._expected, "values", None) or []
        self._expected.values = None
        call = _Call(sum(_size(arg) for arg in args))
        _last_submitted.call = call
        result: Future = Future()
        keep_over = self.keep_over if fn is invoke_by_value else None
        keys = tuple(ref.key for ref in refs)
        futures = [ref.future for ref in refs]
        remote = self.client.submit(_on_worker, fn, keep_over, keys, futures, *args, pure=False)
        remote.add_done_callback(lambda done: self._settle(done, result, call))
        return result

    def _settle(self, remote: Any, result: Future, call: _Call) -> None:
        if remote.status == "finished" and remote.type is Kept:
            # Only the attempt comes here; the value stays with the future, on the worker.
            head = self.client.submit(head_of, remote, pure=False)
            head.add_done_callback(lambda done: self._settle_kept(done, remote, result, call))
            return
        address, received, problem = "", 0, None
        try:
            address, value = remote.result()
            received = _size(value)
            result.set_result(value)
        except BaseException as error:
            address, problem = self._fail(error, result)
        self._record(call, address, received, problem)

    def _settle_kept(self, head: Any, remote: Any, result: Future, call: _Call) -> None:
        address, received, problem = "", 0, None
        try:
            address, small, nbytes = head.result()
            received = len(small)
            attempt = unpack(small)
            kept = ClusterValue(remote, self, nbytes, address, call)
            result.set_result(attempt._replace(value=kept))
        except BaseException as error:
            address, problem = self._fail(error, result)
        self._record(call, address, received, problem)

    @staticmethod
    def _fail(error: BaseException, result: Future) -> tuple[str, str]:
        failure = _explain(error)
        result.set_exception(failure)
        return _worker_of(error), f"{type(failure).__name__}: {failure}"

    def _record(self, call: _Call, address: str, received: int, problem: str | None) -> None:
        latency = time.time() - call.started
        run = call.run
        if run is not None:
            run.network_ops.append(
                NetworkOp(
                    run.id,
                    call.node,
                    call.event,
                    call.attempt,
                    "submit",
                    address,
                    call.sent,
                    received,
                    latency,
                    call.started,
                    problem,
                )
            )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if self._owns_client:
            self.client.close()


def _worker_of(error: BaseException) -> str:
    last = getattr(error, "last_worker", None)
    return getattr(last, "address", "") or ""


def _explain(error: BaseException) -> BaseException:
    if type(error).__name__ == "KilledWorker":
        where = _worker_of(error) or "a worker"
        return WorkerDiedError(f"the Dask worker {where} died while running this event")
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


class LocalDaskCluster:
    """The process's local cluster: started on first use, closed at exit or by `close()`."""

    def __init__(self, n_workers: int = 2) -> None:
        self._n_workers = n_workers
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._client: Any = None

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from distributed import Client
                from distributed.deploy.subprocess import SubprocessCluster

                # Scheduler and workers are fresh `dask spec` interpreters: unlike
                # multiprocessing's spawn, they never re-run the caller's unguarded script.
                # A worker that dies fails the attempt at once; the event's retry policy decides.
                self._cluster = SubprocessCluster(
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    n_workers=self._n_workers,
                    threads_per_worker=1,
                    scheduler_kwargs={"allowed_failures": 0},
                    worker_kwargs={"memory_limit": 0},
                )
                self._client = Client(self._cluster)
                # The first event should not pay for worker start-up inside its latency.
                self._client.wait_for_workers(self._n_workers, timeout=60)
                atexit.register(self.close)
            return self._client

    @property
    def running(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        with self._lock:
            client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
            cluster.close()


local_cluster = LocalDaskCluster()


def local_dask_executor(config: Any = None) -> DaskExecutor:
    """The factory behind `executor="dask"`: the shared local cluster, which it never closes."""
    return DaskExecutor(local_cluster.client())


def dask_executor_for(kind: Any) -> DaskExecutor:
    """An executor for a Dask address or a `distributed.Client` (never closed by Pointy)."""
    if isinstance(kind, str):
        return DaskExecutor.connect(kind)
    return DaskExecutor(kind)
