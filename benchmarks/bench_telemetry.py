"""What telemetry costs a run, and that its memory stays flat in a long-lived process.

Run: `.venv/bin/python benchmarks/bench_telemetry.py [--quick]`. Prints medians and ratios:

- a 10,000-event `Pipeline().start()` with `monitor_events([PrometheusPublisher(port=0)])` on,
  against the same run with collection off, interleaved; target <= 1.05x. The time until the
  publisher has taken every record (off the run's path) is printed beside it;
- memory (tracemalloc) after 10,000 runs of a 10-event pipeline with collection on and the store
  keeping its default last N runs: the figure after N runs and after 10,000 must be flat.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

from pointy_engine import Pipeline
from pointy_engine.observers import run_observers
from pointy_engine.telemetry import PrometheusPublisher, monitor_events
from pointy_engine.telemetry import telemetry_store as store
from pointy_engine.telemetry.store import DEFAULT_LIMIT

CHAIN = 10_000


EVENTS = {f"E{index}": (lambda: None) for index in range(CHAIN)}  # distinct functions


class Long(Pipeline):
    meta = {"pointy": " -> ".join(EVENTS)}


class Short(Pipeline):
    meta = {"pointy": " -> ".join(f"E{index}" for index in range(10))}


def _timed(pipeline: type[Pipeline]) -> float:
    start = time.perf_counter()
    run = pipeline().start(events=EVENTS)
    elapsed = time.perf_counter() - start
    assert run.status == "succeeded", run
    return elapsed


def bench_overhead(repeats: int) -> None:
    publisher = PrometheusPublisher(port=0)
    monitor_events([publisher])
    off, on, drain = [], [], []
    _timed(Long)  # warm: binding cached, pools up
    for index in range(repeats):
        for collecting in (True, False) if index % 2 else (False, True):  # no order bias
            if collecting:
                run_observers.add(store.observe)
            else:
                run_observers.remove(store.observe)
            gc.collect()
            (on if collecting else off).append(_timed(Long))
            if collecting:
                start = time.perf_counter()
                assert store.flush(60)
                drain.append(time.perf_counter() - start)
    off_median, on_median = statistics.median(off), statistics.median(on)
    print(f"{CHAIN}-event run, collection off:              {off_median * 1e3:8.1f} ms (median)")
    print(f"{CHAIN}-event run, monitor_events + Prometheus: {on_median * 1e3:8.1f} ms (median)")
    print(f"  ratio on/off: {on_median / off_median:.3f}x (target <= 1.05x)")
    print(f"  publisher caught up {statistics.median(drain) * 1e3:.1f} ms after the run returned")
    store.stop()
    store.clear()


def bench_memory(runs: int) -> None:
    monitor_events()
    store.clear()
    gc.collect()
    tracemalloc.start()
    marks = {DEFAULT_LIMIT, runs // 2, runs}
    base = tracemalloc.get_traced_memory()[0]
    for index in range(1, runs + 1):
        Short().start(events=EVENTS)
        if index in marks:
            gc.collect()
            current = tracemalloc.get_traced_memory()[0] - base
            print(
                f"after {index:6d} runs of a 10-event pipeline: {current / 2**20:6.2f} MiB "
                f"({len(store)} runs kept)"
            )
    tracemalloc.stop()
    store.stop()
    store.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and runs")
    args = parser.parse_args()
    bench_overhead(3 if args.quick else 9)
    bench_memory(3_000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
