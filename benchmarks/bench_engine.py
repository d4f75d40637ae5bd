"""Engine overhead against plain calls, a raw thread pool, and event_pipeline 2.0.0, in one run.

Run: `.venv/bin/python benchmarks/bench_engine.py [--quick]`. This times the loop alone, on a
plan built beforehand; `bench_peers.py` times what users call (`P().start()`) beside other
engines. Prints medians and ratios:

- chains of 20 and 200 trivial events on the inline path (record stream on, one listener):
  overhead per event = (run time - plain calls of the same functions) / events; target <= 5 µs;
- fan-outs of 10 and 100 trivial events on threads against `ThreadPoolExecutor` submit + result
  of the same functions; target <= 1.5x;
- memory retained per finished event of a 10,000-event run (tracemalloc); target <= 2 KiB;
- `import pointy_engine` in a fresh interpreter; target <= 100 ms;
- the original library's time per event for the same chains and fan-outs (`--quick` skips it).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline_event_pipeline import measure_engine

from pointy_engine.executors import Executors
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.run import Run


def trivial() -> None:
    return None


def _events(count: int) -> dict[str, object]:
    # Distinct function objects, as a real pipeline has distinct events.
    return {f"E{i}": (lambda: None) for i in range(count)}


def _median_run(plan: Plan, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        run = Run(plan, listeners=[_count])
        start = time.perf_counter()
        run.start()
        samples.append(time.perf_counter() - start)
        assert run.status == "succeeded", run
    return statistics.median(samples)


_seen = [0]


def _count(record: object) -> None:
    _seen[0] += 1


def chain_overhead(size: int, repeats: int) -> tuple[float, float, float]:
    events = _events(size)
    plan = Plan(build_graph(" -> ".join(events)), events)
    ran = _median_run(plan, repeats)
    functions = list(events.values())
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for function in functions:
            function()
        samples.append(time.perf_counter() - start)
    plain = statistics.median(samples)
    return ran / size, plain / size, (ran - plain) / size


def fan_ratio(size: int, repeats: int) -> tuple[float, float]:
    events = _events(size)
    with Executors() as executors:
        plan = Plan(
            build_graph(" || ".join(events)),
            events,
            executors=executors,
            executor_override="thread",
        )
        ran = _median_run(plan, repeats)
    functions = list(events.values())
    with ThreadPoolExecutor() as pool:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            futures = [pool.submit(function) for function in functions]
            wait(futures)
            for future in futures:
                future.result()
            samples.append(time.perf_counter() - start)
    raw = statistics.median(samples)
    return ran / size, raw / size


def memory_per_event(size: int) -> float:
    events = _events(size)
    plan = Plan(build_graph(" -> ".join(events)), events)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    run = Run(plan).start()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert run.status == "succeeded"
    assert len(run.records()) >= 2 * size
    return (after - before) / size


def import_time(statement: str, repeats: int) -> float:
    """Median seconds `statement` takes in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(samples)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer repeats, skip the baseline")
    args = options.parse_args()
    repeats = 5 if args.quick else 31
    baseline = {} if args.quick else measure_engine()

    def original(shape: str, size: int) -> str:
        result = baseline.get((shape, size))
        if not result:
            return "skipped"
        if not result.get("ok"):
            return result["error"]["type"]
        return f"{result['median_s_per_event'] * 1e6:.1f}"

    print("chain, inline path, record stream on (µs per event, medians)")
    print(
        f"{'events':>7} {'pointy':>8} {'plain':>7} {'overhead':>9} {'original':>9} {'orig/pointy':>11}"
    )
    for size in (20, 200):
        per_event, plain, overhead = chain_overhead(size, repeats)
        theirs = original("chain", size)
        ratio = (
            f"{float(theirs) / (per_event * 1e6):.0f}x"
            if theirs.replace(".", "").isdigit()
            else "-"
        )
        print(
            f"{size:>7} {per_event * 1e6:>8.2f} {plain * 1e6:>7.2f} {overhead * 1e6:>9.2f} {theirs:>9} {ratio:>11}"
        )
    print("\nfan-out on threads (µs per event, medians)")
    print(f"{'events':>7} {'pointy':>8} {'raw pool':>9} {'ratio':>7} {'original':>9}")
    for size in (10, 100):
        ours, raw = fan_ratio(size, repeats * 7)  # thread wake-ups are noisy: more samples
        print(
            f"{size:>7} {ours * 1e6:>8.1f} {raw * 1e6:>9.1f} {ours / raw:>6.2f}x {original('fan', size):>9}"
        )
    print(
        f"\nmemory retained per finished event (10,000-event run): {memory_per_event(10_000):.0f} bytes"
    )
    repeats_import = 5 if args.quick else 11
    for statement in ("import pointy_engine", "from pointy_engine import Pipeline, Run"):
        took = import_time(statement, repeats_import) * 1000
        print(f"{statement}: {took:.1f} ms (median, fresh interpreter)")


if __name__ == "__main__":
    main()
