"""Batches on a process pool against one-after-another, one event on Dask against raw Dask, and a
50 MB value between two Dask events kept on the cluster against brought back.

Run: `.venv/bin/python benchmarks/bench_batch.py [--repeat N] [--batch-only] [--no-preload]`.
Prints medians, ratios and the load average (the machine is shared: a figure means little
without it); `--no-preload` starts the fork server as before Pointy preloaded its worker modules:

- a CPU-bound batch of 8 (`BatchPipeline.execute(max_workers=2)`) against the same 8 template
  runs started one after another inline (`Pipeline().start()`), against a bare
  `ProcessPoolExecutor(2).map` of the same function (what the machine gives at best, pool start
  included), and on a pool kept across batch runs (`execute(executors=...)`, what a notebook
  does); target speedup >= 1.7x on 2 idle cores; interleaved;
- one event per run on the local Dask cluster (`Pipeline().start(executor=client)`) against
  `client.submit(f, x).result()` of the same function on the same cluster; target <= 1.3x;
- `Make |-> Measure` on Dask where Make returns 50 MB: the value kept on the cluster (default)
  against `keep_over=None` (every value comes back to the kernel and goes out again): wall time,
  bytes through the kernel, and the kernel's peak traced memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor

from pointy_engine import BatchPipeline, InputDataField, Pipeline
from pointy_engine.executors import Executors


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


class Big(Pipeline):
    size = InputDataField(data_type=int, default=50_000_000)

    class Meta:
        pointy = "Make |-> Measure"


def Make(size):
    return b"x" * size


def Measure(previous_result):
    return len(previous_result)


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


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


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

    pools = Executors()  # kept across batch runs, as a notebook's session keeps its pools

    def warm_batch() -> None:
        done = CrunchBatch(numbers=work).execute(max_workers=2, events=events, executors=pools)
        assert done.status == "succeeded"

    def bare_pool() -> None:
        # The stdlib's own context: Pointy's hides `__main__` from workers, where Spin lives.
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as pool:
            list(pool.map(Spin, [[size] for size in work]))

    batch()  # the first pool start pays for the forkserver
    warm_batch()
    timings: dict[str, list[float]] = {"sequential": [], "batch": [], "bare": [], "warm": []}
    print(_load())
    for _ in range(repeat):  # interleaved, so all three see the same load
        timings["sequential"].append(_median(1, one_after_another))
        timings["batch"].append(_median(1, batch))
        timings["bare"].append(_median(1, bare_pool))
        timings["warm"].append(_median(1, warm_batch))
    pools.shutdown()
    sequential, parallel, bare, warm = (statistics.median(timings[k]) for k in timings)
    print(
        f"batch of 8 CPU-bound runs: one after another {sequential:.2f} s, "
        f"BatchPipeline on 2 processes {parallel:.2f} s, speedup {sequential / parallel:.2f}x "
        f"(target >= 1.7x); bare ProcessPoolExecutor(2).map {bare:.2f} s, speedup "
        f"{sequential / bare:.2f}x; BatchPipeline / bare pool {parallel / bare:.2f}x; "
        f"BatchPipeline on a kept pool (executors=) {warm:.2f} s, speedup "
        f"{sequential / warm:.2f}x"
    )
    print(_load())


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


def bench_kept_value(repeat: int) -> None:
    from pointy_engine.dask_executor import DaskExecutor, local_cluster

    client = local_cluster.client()
    events = {"Make": Make, "Measure": Measure}
    kept, returned = DaskExecutor(client), DaskExecutor(client, keep_over=None)
    figures: dict[str, list[tuple[float, int, int]]] = {"kept": [], "returned": []}

    def once(executor: DaskExecutor) -> tuple[float, int, int]:
        tracemalloc.start()
        started = time.perf_counter()
        run = Big().start(events=events, executor=executor)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert run.value == 50_000_000
        through = sum(op.bytes_sent + op.bytes_received for op in run.network_ops)
        return elapsed, through, peak

    once(kept)
    once(returned)
    print(_load())
    for _ in range(repeat):
        figures["kept"].append(once(kept))
        figures["returned"].append(once(returned))
    summary = {}
    for name, rows in figures.items():
        summary[name] = tuple(statistics.median(row[i] for row in rows) for i in range(3))
    (kt, kb, kp), (rt, rb, rp) = summary["kept"], summary["returned"]
    print(
        f"50 MB between two Dask events: kept on the cluster {kt:.2f} s, {kb:,.0f} bytes through "
        f"the kernel, peak {kp / 1e6:.1f} MB traced; brought back {rt:.2f} s, {rb:,.0f} bytes, "
        f"peak {rp / 1e6:.1f} MB; time ratio kept / back {kt / rt:.2f}x"
    )
    print(_load())
    local_cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    parser.add_argument("--batch-only", action="store_true", help="only the process-pool batch")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="start the fork server with nothing preloaded (Pointy preloads its worker modules)",
    )
    args = parser.parse_args()
    if args.no_preload:  # a preload chosen before Pointy's is left as it is
        import multiprocessing.forkserver

        multiprocessing.forkserver.set_forkserver_preload([])
    print("fork server preload:", "none" if args.no_preload else "Pointy's worker modules")
    bench_batch(args.repeat)
    if args.batch_only:
        return
    bench_dask(args.repeat)
    bench_kept_value(args.repeat)


if __name__ == "__main__":
    main()
