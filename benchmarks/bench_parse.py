"""Parse + lower time per event for chains and fan-outs, against event_pipeline 2.0.0.

Run: `.venv/bin/python benchmarks/bench_parse.py [--quick]`. Prints, per shape and size, the
median µs per event for Pointy and for the original library measured in the same run, their
ratio, and whether Pointy's time per event stays flat (linear) as the input grows.
Target: <= 5 µs per event for parse + lower, linear up to 100,000 events.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline_event_pipeline import measure_parse

from pointy_engine.graph import lower
from pointy_engine.language import check, parse

SEPARATORS = {"chain": " -> ", "fan": " || "}
TARGET_US = 5.0


def pointy_seconds_per_event(shape: str, size: int, repeats: int) -> tuple[float, float]:
    """Median seconds per event for parse + lower (the target), and for the check pass."""
    source = SEPARATORS[shape].join(f"E{i}" for i in range(size))
    samples, checks = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        tree = parse(source)
        graph = lower(tree, source)
        middle = time.perf_counter()
        check(tree, source)
        checks.append(time.perf_counter() - middle)
        samples.append(middle - start)
        assert len(graph.nodes) == size
        del tree, graph
    return statistics.median(samples) / size, statistics.median(checks) / size


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer repeats, skip the baseline")
    args = options.parse_args()
    sizes = (100, 1_000, 10_000, 100_000)
    repeats = 3 if args.quick else 7
    parse("A")  # build the parse tables outside the timings, as the baseline does at import
    baseline = {} if args.quick else measure_parse(sizes=sizes, repeats=5)
    print(
        f"{'shape':6} {'events':>8} {'pointy µs/ev':>13} {'+check':>7} {'original µs/ev':>15}"
        f" {'ratio':>8}"
    )
    verdicts = []
    for shape in SEPARATORS:
        per_size = {}
        for size in sizes:
            ours, checking = pointy_seconds_per_event(shape, size, repeats if size < 100_000 else 5)
            ours, checking = ours * 1e6, checking * 1e6
            per_size[size] = ours
            theirs = baseline.get((shape, size), {})
            if theirs.get("ok"):
                original = f"{theirs['median_s_per_event'] * 1e6:.2f}"
                ratio = f"{theirs['median_s_per_event'] * 1e6 / ours:.1f}x"
            elif theirs:
                original, ratio = theirs["error"]["type"], "-"
            else:
                original, ratio = "skipped", "-"
            print(f"{shape:6} {size:>8} {ours:>13.2f} {checking:>7.2f} {original:>15} {ratio:>8}")
        growth = per_size[100_000] / per_size[1_000]
        worst = max(per_size.values())
        verdicts.append(
            f"{shape}: worst {worst:.2f} µs/event (target {TARGET_US}), "
            f"100k/1k per-event ratio {growth:.2f} (1.0 = linear)"
        )
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
