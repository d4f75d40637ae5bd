"""The "dask" executor on a real local cluster: by-value events, dead workers, network records."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pointy_engine import InputDataField, Pipeline, RetryPolicy, dask_executor
from pointy_engine.dask_executor import DaskExecutor, LocalDaskCluster
from pointy_engine.events import event
from pointy_engine.network import NetworkOp

HARD_TIMEOUT = 60.0  # seconds: a run on the cluster that takes longer has hung

ROOT = Path(__file__).resolve().parents[1]


class Doubled(Pipeline):
    x = InputDataField(data_type=int, default=2)

    class Meta:
        pointy = "Double |-> Inc"


def _notebook_events() -> dict[str, Any]:
    """Events defined the way a notebook cell defines them: in `__main__`, not importable."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(
        textwrap.dedent(
            """
            def Double(x):
                return x * 2

            def Inc(previous_result):
                return previous_result + 1
            """
        ),
        namespace,
    )
    return {"Double": namespace["Double"], "Inc": namespace["Inc"]}


def test_notebook_defined_events_run_on_dask_workers(dask_client: Any) -> None:
    run = Doubled(x=20).start(events=_notebook_events(), executor="dask", background=True)
    run.wait(HARD_TIMEOUT)
    assert run.status == "succeeded"
    assert run.value == 41
    assert [op.node for op in run.network_ops] == ["Double", "Inc"]
    for op in run.network_ops:
        assert isinstance(op, NetworkOp)
        assert op.run_id == run.id
        assert op.attempt == 1
        assert op.error is None
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", op.address)
        assert op.bytes_sent > 0
        assert op.bytes_received > 0
        assert op.latency > 0


def test_a_client_or_its_address_is_used_as_given(dask_client: Any) -> None:
    for executor in (dask_client, "dask://" + dask_client.scheduler.address[len("tcp://") :]):
        run = Doubled(x=1).start(events=_notebook_events(), executor=executor, background=True)
        run.wait(HARD_TIMEOUT)
        assert (run.status, run.value) == ("succeeded", 3)
    assert dask_client.status == "running"  # a Client given by the user is never closed


def test_a_dead_worker_is_a_failed_attempt_naming_it_and_the_retry_succeeds(
    dask_client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "died-once"

    @event(retry_policy=RetryPolicy(max_attempts=2, backoff_factor=0.01))
    def Fragile(x):
        import os

        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return True, x * 10

    class Once(Pipeline):
        x = InputDataField(data_type=int, default=4)

        class Meta:
            pointy = "Fragile"

    run = Once().start(events={"Fragile": Fragile}, executor="dask", background=True)
    run.wait(HARD_TIMEOUT)
    assert run.status == "succeeded"
    assert run.value == 40
    assert run.nodes["Fragile"].attempts == 2
    retrying = [r for r in run.records() if r.node == "Fragile" and r.state == "retrying"]
    assert len(retrying) == 1
    assert retrying[0].error.type == "WorkerDiedError"
    assert re.fullmatch(
        r"the Dask worker tcp://127\.0\.0\.1:\d+ died while running this event",
        retrying[0].error.message,
    )
    failed_op, ok_op = run.network_ops
    assert failed_op.attempt == 1
    assert failed_op.error.startswith("WorkerDiedError: the Dask worker")
    assert ok_op.attempt == 2
    assert ok_op.error is None


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch: Any) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", "1s")

    class Alone(Pipeline):
        class Meta:
            pointy = "Lonely"

    events = {"Lonely": lambda: 1}
    run = Alone().start(events=events, executor="dask://127.0.0.1:9", background=True)
    run.wait(HARD_TIMEOUT)
    assert run.status == "failed"
    error = run.errors["Lonely"]
    assert error.type == "PointyError"
    assert error.message.startswith("cannot reach the Dask scheduler at 'dask://127.0.0.1:9': ")


def test_an_unguarded_script_runs_on_a_fresh_local_cluster(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            from pointy_engine import InputDataField, Pipeline

            print("top level ran")

            class Job(Pipeline):
                x = InputDataField(data_type=int, default=5)

                class Meta:
                    pointy = "Square"

            def Square(x):
                return x * x

            run = Job().start(events={"Square": Square}, executor="dask")
            print(run.status, run.value, run.network_ops[0].address.startswith("tcp://127.0.0.1:"))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=HARD_TIMEOUT,
        cwd=ROOT,
    )
    assert done.stdout == "top level ran\nsucceeded 25 True\n", done.stderr


def test_closing_the_local_cluster_and_using_it_again_starts_a_new_one() -> None:
    cluster = LocalDaskCluster(n_workers=1)
    assert not cluster.running
    first = cluster.client()
    assert cluster.client() is first
    assert cluster.running
    address = first.scheduler.address
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", address)
    executor = DaskExecutor(first)
    assert executor.submit(pow, 2, 5).result(HARD_TIMEOUT) == 32
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/status", executor.dashboard_link)
    cluster.close()
    assert not cluster.running
    assert first.status == "closed"


FIFTY_MB = 50_000_000


class BigThenSmall(Pipeline):
    n = InputDataField(data_type=int, default=FIFTY_MB)

    class Meta:
        pointy = "Make |-> Measure"


def _big_events(decorated: bool = False) -> tuple[Any, Any]:
    """Make (a value of n bytes) and Measure (its length), defined as a notebook cell would;
    `decorated` ones follow the `@event` convention of returning `(ok, value)`."""
    ok = "True, " if decorated else ""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(
        f"def Make(n):\n    return {ok}b'x' * n\n\n"
        f"def Measure(previous_result):\n    return {ok}len(previous_result)\n",
        namespace,
    )
    return namespace["Make"], namespace["Measure"]


def test_a_large_value_stays_on_the_cluster_between_two_dask_events(dask_client: Any) -> None:
    import tracemalloc

    from pointy_engine.cluster_values import ClusterValue

    make, measure = _big_events()
    events = {"Make": make, "Measure": measure}
    tracemalloc.start()
    try:
        run = BigThenSmall().start(events=events, executor=dask_client, background=True)
        run.wait(HARD_TIMEOUT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (run.status, run.value) == ("succeeded", FIFTY_MB)
    kept = run.nodes["Make"].value
    assert isinstance(kept, ClusterValue)
    assert re.fullmatch(r"<ClusterValue 50\.0 MB on tcp://127\.0\.0\.1:\d+>", repr(kept))
    make_op, measure_op = run.network_ops
    # Neither the value nor a copy of it crossed the kernel: a few hundred bytes each way.
    assert make_op.bytes_received < 10_000
    assert measure_op.bytes_sent < 10_000
    assert peak < FIFTY_MB // 5
    assert kept.fetch() == b"x" * FIFTY_MB  # and it can still be brought here on demand
    assert run.network_ops[-1].operation == "fetch"
    assert run.network_ops[-1].bytes_received >= FIFTY_MB


def test_a_kept_value_comes_back_for_an_event_that_is_not_on_the_cluster(
    dask_client: Any,
) -> None:
    class Mixed(Pipeline):
        n = InputDataField(data_type=int, default=2_000_000)

        class Meta:
            pointy = "Make |-> Measure"

    make, measure = _big_events(decorated=True)
    run = Mixed().start(
        events={
            "Make": event(executor=dask_client)(make),
            "Measure": event(executor="inline")(measure),
        },
        background=True,
    )
    run.wait(HARD_TIMEOUT)
    assert (run.status, run.value) == ("succeeded", 2_000_000)
    assert [op.operation for op in run.network_ops] == ["submit", "fetch"]


def test_a_kept_value_that_is_gone_fails_the_next_attempt_with_a_clear_error(
    dask_client: Any,
) -> None:
    class Mixed(Pipeline):
        n = InputDataField(data_type=int, default=2_000_000)

        class Meta:
            pointy = "Make |-> Measure"

    make, measure = _big_events()
    first = Mixed().start(events={"Make": make, "Measure": measure}, executor=dask_client)
    assert (first.status, first.value) == ("succeeded", 2_000_000)
    kept = first.nodes["Make"].value
    dask_client.cancel([kept.future])  # the cluster forgets the value, never fetched here
    reasons = {
        "cluster": r"its Dask future is cancelled",  # checked before the task is sent
        "inline": r"FutureCancelledError: _on_worker-\S+ cancelled for reason: unknown\.",
    }
    for label, where in (("cluster", dask_client), ("inline", "inline")):
        measure_on = event(executor=where)(_big_events(decorated=True)[1])
        plan = Mixed().plan({"Make": make, "Measure": measure_on})
        again = first.rerun("from", "Measure", plan=plan).start(background=True)
        again.wait(HARD_TIMEOUT)
        assert again.status == "failed"
        error = again.nodes["Measure"].error
        assert error.type == "PointyError"
        assert re.fullmatch(
            r"the value of 'Make' kept on the Dask worker tcp://127\.0\.0\.1:\d+ cannot be "
            r"fetched: " + reasons[label],
            error.message,
        ), (where, error.message)


class _Counted:
    """A global an event reads: counts how often the kernel pickles it."""

    pickled = 0

    def __reduce__(self) -> tuple[Any, ...]:
        _Counted.pickled += 1
        return _Counted, ()


COUNTED = _Counted()


def _times_ten(numbers):
    assert isinstance(COUNTED, _Counted)
    return numbers[0] * 10


def test_batches_on_dask_pickle_their_event_once_per_batch_run(dask_client: Any) -> None:
    from pointy_engine import BatchPipeline

    class Tens(Pipeline):
        numbers = InputDataField(data_type=list, batch_size=1)

        class Meta:
            pointy = "Times"

    class TensBatch(BatchPipeline):
        pipeline_template = Tens

    _Counted.pickled = 0
    done = TensBatch(numbers=list(range(6))).start(
        executor=dask_client, events={"Times": _times_ten}, background=True
    )
    done.wait(HARD_TIMEOUT)
    assert done.status == "succeeded"
    assert done.results == [10 * i for i in range(6)]
    assert _Counted.pickled == 1  # one pickle for the six batches (see pointy_engine.shipping)
