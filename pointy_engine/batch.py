"""`BatchPipeline`: one template pipeline run per batch of the input, the batches in parallel.

A batch run is a run of runs: each batch is an ordinary `Run` of the template (announced to the
run observers with `name=` the template's class name and `tags={"batch": ..., "index": ...}`), so
telemetry, history and widgets see batches as runs. Batches run side by side; their events run on
one executor shared by the batch run: a process pool by default (`max_workers`,
`max_tasks_per_child`), threads, or Dask (`"dask"`, an address, a `distributed.Client`).
Process pools and threads outlive the batch run (`process_pools.shared_processes`,
`threads.shared_threads`): the next batch run with the same settings starts on warm workers.
Events sent to processes or Dask are pickled once per batch run, not once per batch (`shipping`).
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import signals
from .errors import PointyError
from .executors import (
    ExecutorInitializerConfig,
    Executors,
    _names_dask_cluster,
    _thread_pool_shape,
)
from .fields import validate_inputs
from .pipeline import Pipeline
from .process_pools import shared_processes
from .records import Listener
from .run import Run
from .shipping import shipping_once
from .threads import shared_threads


class BatchPipeline:
    """Subclass with `pipeline_template = MyPipeline`; `MyBatch(field=...).execute()`.

    Fields of the template with `batch_size` (lists) or `chunk_size` (files) are split; batch i
    gets piece i of each, and every other field as given. `listen_to_signals` lists signals
    whose emissions during the batch run are kept in `batch_run.signals`, in order.
    """

    pipeline_template: type[Pipeline] | None = None
    listen_to_signals: Sequence[signals.SoftSignal] = ()

    def __init__(self, **inputs: Any) -> None:
        template = self._template()
        values = validate_inputs(template.__name__, template._fields, inputs)
        self._batches = _split(type(self).__name__, template, values)

    @classmethod
    def _template(cls) -> type[Pipeline]:
        template = cls.pipeline_template
        if template is None:
            raise PointyError(f"{cls.__name__}: set pipeline_template to a Pipeline subclass")
        if not (isinstance(template, type) and issubclass(template, Pipeline)):
            raise PointyError(
                f"{cls.__name__}.pipeline_template must be a Pipeline subclass, not {template!r}"
            )
        for signal in cls.listen_to_signals:
            if not isinstance(signal, signals.SoftSignal):
                raise PointyError(
                    f"{cls.__name__}.listen_to_signals holds SoftSignals, not {signal!r}"
                )
        return template

    @property
    def batches(self) -> list[dict[str, Any]]:
        """Each batch's inputs, in input order."""
        return [dict(batch) for batch in self._batches]

    def execute(self, **options: Any) -> BatchRun:
        """The seed's name for `start()`."""
        return self.start(**options)

    def start(
        self,
        *,
        executor: Any = "process",
        max_workers: int | None = None,
        max_tasks_per_child: int | None = None,
        background: bool = False,
        events: Mapping[str, Any] | None = None,
        listeners: Iterable[Listener] = (),
        executors: Executors | None = None,
    ) -> BatchRun:
        """Run every batch; blocks until all end unless `background=True`.

        `executor` runs every event of every batch: "process" (default), "thread", "dask", a
        Dask address or `distributed.Client`, or an `Executor` instance (never shut down here).
        A "process" pool is kept for the next batch run with the same `max_workers` and
        `max_tasks_per_child` (starting one costs about 0.1 s, a tenth of a small batch run)
        and shut down after `process_pools.IDLE_TIMEOUT` seconds unused; "thread" pools are
        the process's shared ones. With `executors` (an `Executors` the caller keeps and shuts
        down), the "process" or "thread" pool comes from there instead, with no idle timeout.
        """
        config = ExecutorInitializerConfig(
            max_workers=max_workers, max_tasks_per_child=max_tasks_per_child
        )
        template = self._template()
        choice = (executors or Executors()).choose(
            executor, config, f"{type(self).__name__} executor"
        )  # a bad executor fails now, before anything runs
        if executors is not None and executor in ("process", "thread"):
            executor = executors.get(choice)  # the caller's pool: reused, never shut down here
        batch_run = BatchRun(self, template, executor, config, events, tuple(listeners))
        return batch_run.start(range(len(self._batches)), background)


class BatchRun:
    """The runs of one `BatchPipeline` start: `runs`, `results`, `statuses`, in input order."""

    def __init__(
        self,
        batch: BatchPipeline,
        template: type[Pipeline],
        executor: Any,
        config: ExecutorInitializerConfig,
        events: Mapping[str, Any] | None,
        listeners: tuple[Listener, ...],
        previous: BatchRun | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.name = type(batch).__name__
        self.batch = batch
        self._template = template
        self._executor = executor
        self._config = config
        self._events = events
        self._listeners = listeners
        self.runs: list[Run | None] = list(previous.runs) if previous else []
        if not self.runs:
            self.runs = [None] * len(batch._batches)
        self.signals: list[tuple[str, dict[str, Any]]] = []
        self._rerun_of: dict[int, Run | None] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._running_on: Any = None  # the executor instance the batches' events use

    def __repr__(self) -> str:
        return f"<BatchRun {self.id} {self.name} {self.status} batches={len(self.runs)}>"

    # ----- reading ------------------------------------------------------------------------

    @property
    def statuses(self) -> list[str]:
        """Each batch's run status, in input order."""
        return [run.status if run is not None else "pending" for run in self.runs]

    @property
    def status(self) -> str:
        states = self.statuses
        if not self._done.is_set():
            return "running" if any(state != "pending" for state in states) else "pending"
        for state in ("failed", "cancelled"):
            if state in states:
                return state
        return "succeeded"

    @property
    def results(self) -> list[Any]:
        """Each batch's final value (its flow's last node); None where a batch did not succeed."""
        return [
            run.value if run is not None and run.status == "succeeded" else None
            for run in self.runs
        ]

    @property
    def failed(self) -> list[int]:
        """Indexes of the batches that failed or were cancelled."""
        return [i for i, state in enumerate(self.statuses) if state in ("failed", "cancelled")]

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> BatchRun:
        if not self._done.wait(timeout):
            raise TimeoutError(f"batch run {self.id} still running after {timeout} s")
        return self

    def cancel(self) -> None:
        for run in self.runs:
            if run is not None:
                run.cancel()

    # ----- running ------------------------------------------------------------------------

    def start(self, indexes: Iterable[int], background: bool = False) -> BatchRun:
        for signal in self.batch.listen_to_signals:
            signal.connect(self._heard)
        pool, release = self._pool()
        executors = Executors(threads=shared_threads)  # parallel groups' threads: shared ones
        try:
            chosen = [(i, self._build(i, pool, executors)) for i in indexes]
        except BaseException:
            self._finish([], release, executors)
            raise
        with shipping_once(self.id):  # each run's thread keeps a copy of this context
            for _, run in chosen:
                run.start(background=True)
        waiter = threading.Thread(
            target=self._finish,
            args=([run for _, run in chosen], release, executors),
            name=f"pointy-batch-{self.id}",
            daemon=True,
        )
        waiter.start()
        if not background:
            try:
                self.wait()
            except KeyboardInterrupt:
                self.cancel()
                raise
        return self

    def rerun(self, mode: str = "failed", background: bool = False) -> BatchRun:
        """A new batch run that runs again only the batches that failed, keeping the others."""
        if mode != "failed":
            raise PointyError(f"a batch run re-runs 'failed' batches, not {mode!r}")
        if not self.done():
            raise PointyError(f"batch run {self.id} is still running; wait() for it first")
        again = BatchRun(
            self.batch,
            self._template,
            self._executor,
            self._config,
            self._events,
            self._listeners,
            previous=self,
        )
        again._rerun_of = {i: self.runs[i] for i in self.failed}
        return again.start(list(again._rerun_of), background)

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's address when the batches run on a Dask cluster."""
        return getattr(self._running_on, "dashboard_link", None)

    def _pool(self) -> tuple[Any, Callable[[], None] | None]:
        """The executor every event of this batch run uses, and what gives it back at the end
        (None: the caller's, left as it is)."""
        executor = self._executor
        release: Callable[[], None] | None = None
        if executor == "process":
            pool = shared_processes.acquire(self._config)
            release = functools.partial(shared_processes.release, pool)
        elif executor == "thread":
            pool = shared_threads.get(*_thread_pool_shape(self._config))
        elif executor == "dask" or _names_dask_cluster(executor):
            from .dask_executor import dask_executor_for, local_dask_executor

            # One executor for all batches; shutting it down closes only a client it opened.
            pool = local_dask_executor() if executor == "dask" else dask_executor_for(executor)
            release = functools.partial(pool.shutdown, wait=True)
        else:
            pool = executor
        self._running_on = pool
        return pool, release

    def _build(self, index: int, pool: Any, executors: Executors) -> Run:
        pipeline = _instance(self._template, self.batch._batches[index])
        plan = pipeline.plan(self._events, executors, pool)
        tags = {"batch": self.id, "index": str(index)}
        previous = self._rerun_of.get(index)
        if previous is not None:
            run = previous.rerun("failed", plan=plan, tags={**tags, "rerun_of": previous.id})
        else:
            run = Run(
                plan,
                listeners=self._listeners,
                own_executors=False,
                name=self._template.__name__,
                tags=tags,
            )
            if signals.any_listeners():
                run.add_listener(signals.SignalBridge(pipeline, run))
        self.runs[index] = run
        return run

    def _heard(self, sender: Any = None, signal: Any = None, **arguments: Any) -> None:
        name = getattr(signal, "name", "")
        with self._lock:
            self.signals.append((name, arguments))

    def _finish(
        self, runs: list[Run], release: Callable[[], None] | None, executors: Executors
    ) -> None:
        try:
            for run in runs:
                run.wait()
        finally:
            for signal in self.batch.listen_to_signals:
                signal.disconnect(self._heard)
            if release is not None:
                release()
            executors.shutdown()
            self._done.set()


def _instance(template: type[Pipeline], inputs: dict[str, Any]) -> Pipeline:
    # The inputs were validated as a whole; a file field's batch holds its chunk, not a path.
    pipeline = template.__new__(template)
    pipeline._inputs = dict(inputs)
    return pipeline


def _split(owner: str, template: type[Pipeline], values: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-batch inputs: piece i of every split field, the other fields as given."""
    splitting = {name: field for name, field in template._fields.items() if field.splits}
    if not splitting:
        raise PointyError(
            f"{owner}: {template.__name__} has no field with batch_size or chunk_size to split"
        )
    pieces: dict[str, list[Any]] = {}
    for name, field in splitting.items():
        value = values.get(name)
        if value is None:
            raise PointyError(f"{owner}: input field {name!r} is empty: there is nothing to batch")
        parts = field.split(value)
        if not parts:
            raise PointyError(f"{owner}: input field {name!r} is empty: there is nothing to batch")
        pieces[name] = parts
    counts = {len(parts) for parts in pieces.values()}
    if len(counts) > 1:
        sizes = ", ".join(f"{name!r} into {len(parts)}" for name, parts in pieces.items())
        raise PointyError(f"{owner}: split fields give different numbers of batches: {sizes}")
    return [
        {**values, **{name: parts[i] for name, parts in pieces.items()}}
        for i in range(counts.pop())
    ]
