"""The cache's cost: a fully cached 200-node run against the same run uncached, and hashing.

Run: `.venv/bin/python benchmarks/bench_cache.py`. Prints medians and ratios:
- `Pipeline().start()` of a 200-event chain, uncached and fully cached (every node a hit),
  on the same flow in the same process, timed in turns: extra cost per node; target <= 50 µs;
- `value_digest` of a 100 MB numpy array and of a 100 MB DataFrame: GB/s; target >= 1 GB/s,
  timed in turns with a copy of the same value (the memory bandwidth of the moment).
"""

from __future__ import annotations

import statistics
import tempfile
import time

from pointy_engine import Pipeline
from pointy_engine.cache import Cache, value_digest

NODES = 200
REPEATS = 7


def step(previous_result=None):
    return (previous_result or 0) + 1


class Chain(Pipeline):
    class Meta:
        pointy = " |-> ".join(f"S{i}" for i in range(NODES))


EVENTS = {f"S{i}": step for i in range(NODES)}


def median_seconds(call) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved_medians(baseline, measured, rounds: int = 3 * REPEATS) -> tuple[float, float]:
    """Medians of both, timed in turns, so load that comes and goes hits them alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for call, kept in ((baseline, times[0]), (measured, times[1])):
            started = time.perf_counter()
            call()
            kept.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    import numpy as np
    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(folder)
        Chain().start(events=EVENTS, cache=cache)  # fills the cache
        uncached, cached = interleaved_medians(
            lambda: Chain().start(events=EVENTS),
            lambda: Chain().start(events=EVENTS, cache=cache),
        )
        run = Chain().start(events=EVENTS, cache=cache)
        assert {r.state for r in run.nodes.values()} == {"cached"}
    extra = (cached - uncached) / NODES * 1e6
    print(
        f"{NODES}-node chain: uncached {uncached * 1e3:.2f} ms, fully cached {cached * 1e3:.2f} ms"
        f" (x{cached / uncached:.2f}); cache cost {extra:.1f} µs per node (target <= 50)"
    )
    array = np.random.default_rng(0).random(100 * 1024 * 1024 // 8)
    frame = pd.DataFrame({"a": array[: len(array) // 2], "b": array[len(array) // 2 :]})
    for label, value in (("numpy array", array), ("DataFrame", frame)):
        # Beside a copy of the same memory: what the machine's memory bandwidth allows now.
        copying, seconds = interleaved_medians(
            lambda value=value: value.copy(), lambda value=value: value_digest(value), REPEATS
        )
        rate = array.nbytes / seconds / 1e9
        print(
            f"hashing a 100 MB {label}: {seconds * 1e3:.1f} ms, {rate:.2f} GB/s (target >= 1);"
            f" copying it {copying * 1e3:.1f} ms (hash/copy x{seconds / copying:.2f})"
        )


if __name__ == "__main__":
    main()
