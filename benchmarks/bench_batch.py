"""Batches on a process pool against one-after-another, and one event on Dask against raw Dask.

Run: `.venv/bin/python benchmarks/bench_batch.py [--repeat N]`. Prints medians and ratios:

- a CPU-bound batch of 8 (`BatchPipeline.execute(max_workers=2)`) against the same 8 template
  runs started one after another inline (`Pipeline().start()`); target speedup >= 1.7x on 2 cores;
- one event per run on the local Dask cluster (`Pipeline().start(executor=client)`) against
  `client.submit(f, x).result()` of the same function on the same cluster; target <= 1.3x.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pointy_engine import BatchPipeline, InputDataField, Pipeline


class Crunch(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Spin"


class CrunchBatch(BatchPipeline):
    pipeline_template = Crunch


def Spin(numbers):  # about 0.5 s of pure-Python arithmetic per batch, on an idle core
    total = 0
    for i in range(numbers[0]):
        total += i * i % 7
    return total


class Once(Pipeline):
    x = InputDataField(data_type=int, default=3)

    class Meta:
        pointy = "Triple"


def Triple(x):
    return x * 3


def _median(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_batch(repeat: int) -> None:
    work = [4_000_000] * 8
    events = {"Spin": Spin}

    def one_after_another() -> None:
        for size in work:
            run = Crunch(numbers=[size]).start(events=events)
            assert run.status == "succeeded"

    def batch() -> None:
        done = CrunchBatch(numbers=work).execute(max_workers=2, events=events)
        assert done.status == "succeeded"

    batch()  # the first pool start pays for the forkserver
    sequential = _median(repeat, one_after_another)
    parallel = _median(repeat, batch)
    print(
        f"batch of 8 CPU-bound runs: one after another {sequential:.2f} s, "
        f"BatchPipeline on 2 processes {parallel:.2f} s, speedup {sequential / parallel:.2f}x "
        "(target >= 1.7x)"
    )


def bench_dask(repeat: int) -> None:
    from pointy_engine.dask_executor import local_cluster

    client = local_cluster.client()
    events = {"Triple": Triple}

    def pointy() -> None:
        run = Once().start(events=events, executor=client)
        assert run.value == 9

    def raw() -> None:
        assert client.submit(Triple, 3, pure=False).result() == 9

    pointy()
    raw()
    ours, theirs = [], []
    for _ in range(repeat):  # interleaved, so both see the same load on a shared machine
        ours.append(_median(5, pointy))
        theirs.append(_median(5, raw))
    mine, base = statistics.median(ours), statistics.median(theirs)
    print(
        f"one event on Dask: Pipeline().start(executor=client) {mine * 1e3:.2f} ms, "
        f"client.submit(f, x).result() {base * 1e3:.2f} ms, ratio {mine / base:.2f}x "
        "(target <= 1.3x)"
    )
    local_cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    args = parser.parse_args()
    bench_batch(args.repeat)
    bench_dask(args.repeat)


if __name__ == "__main__":
    main()
