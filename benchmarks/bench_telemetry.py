"""What telemetry costs a run, and that its memory stays flat in a long-lived process.

Run: `.venv/bin/python benchmarks/bench_telemetry.py [--quick]`. Prints medians and ratios, with
the load average beside them (the development machine is shared):

- `P().start()` of a 10,000-event chain, modes interleaved round by round in one process (the
  order rotates each round): collection off; collection on (the store alone, as in a kernel after
  `%load_ext`); `monitor_events([PrometheusPublisher(port=0)])`; and the same with publishing
  passes every 5 ms, so that they fall inside the run (the worst case: what a run much longer
  than the 1 s default interval sees). Target: Prometheus on <= 1.05x off. Each ratio is the
  median of the per-round ratios (robust to load drifting between rounds) with the ratio of
  medians beside it. Wall time is what the caller waits for; process CPU time of start() is
  the run's own cost and moves less than wall time when the machine is shared; CPU time until
  the publisher has flushed adds the publishing thread's work, done after the run returned;
- a `%%pointy --no-widget` cell of 10 events in a real kernel (execute_request -> idle), with
  collection off / on / on with a Prometheus publisher, interleaved the same way;
- memory (tracemalloc) after 10,000 runs of a 10-event pipeline with collection on and the store
  keeping its default last N runs: the figure after N runs and after 10,000 must be flat.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable

from pointy_engine import Pipeline
from pointy_engine.observers import run_observers
from pointy_engine.telemetry import PrometheusPublisher
from pointy_engine.telemetry import telemetry_store as store
from pointy_engine.telemetry.store import DEFAULT_LIMIT, TelemetryStore

CHAIN = 10_000


EVENTS = {f"E{index}": (lambda: None) for index in range(CHAIN)}  # distinct functions


class Long(Pipeline):
    meta = {"pointy": " -> ".join(EVENTS)}


class Short(Pipeline):
    meta = {"pointy": " -> ".join(f"E{index}" for index in range(10))}


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _timed(pipeline: type[Pipeline]) -> tuple[float, float]:
    """Wall and process CPU seconds of one start to finish."""
    wall, cpu = time.perf_counter(), time.process_time()
    run = pipeline().start(events=EVENTS)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert run.status == "succeeded", run
    return wall, cpu


def _interleaved(
    modes: dict[str, Callable[[], float | tuple[float, float]]], rounds: int
) -> dict[str, list[tuple[float, ...]]]:
    """`rounds` samples of each mode; the order rotates every round so none is always first."""
    names = list(modes)
    samples: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            taken = modes[name]()
            samples[name].append(taken if isinstance(taken, tuple) else (taken,))
    return samples


def _report(samples: dict[str, list[tuple[float, ...]]], baseline: str, field: int) -> None:
    base = samples[baseline]
    base_median = statistics.median(s[field] for s in base)
    for name, taken in samples.items():
        values = [s[field] for s in taken]
        median = statistics.median(values)
        paired = statistics.median(s[field] / b[field] for s, b in zip(taken, base))
        print(
            f"  {name:44} {median * 1e3:8.2f} ms   {paired:5.3f}x per round"
            f"  ({median / base_median:5.3f}x of medians)"
        )


def bench_start(rounds: int) -> None:
    def observing(target: TelemetryStore | None) -> Callable[[], tuple[float, float, float]]:
        def sample() -> tuple[float, float, float]:
            if target is not None:
                run_observers.add(target.observe)
            gc.collect()
            cpu = time.process_time()
            wall, run_cpu = _timed(Long)
            if target is not None:
                run_observers.remove(target.observe)
                assert target.flush(60)  # publishing done before the next sample
            cpu = time.process_time() - cpu
            if target is not None:
                target.clear()
            return wall, run_cpu, cpu

        return sample

    bare = TelemetryStore()
    published = TelemetryStore()
    published.start([PrometheusPublisher(port=0)])
    eager = TelemetryStore()
    eager.start([PrometheusPublisher(port=0)], interval=0.005)
    for each in (bare, published, eager):
        run_observers.remove(each.observe)  # each sample attaches the one it measures
    modes = {
        "collection off": observing(None),
        "collection on (store only, as in a kernel)": observing(bare),
        "monitor_events([PrometheusPublisher])": observing(published),
        "  same, publishing every 5 ms (worst case)": observing(eager),
    }
    for sample in modes.values():  # warm: binding cached, pools up, label sets created
        sample()
    print(f"P().start() of a {CHAIN:,}-event chain, {rounds} interleaved rounds ({load()})")
    samples = _interleaved(modes, rounds)
    print(" wall time, start() to return (median):")
    _report(samples, "collection off", 0)
    print(" process CPU time of start() alone, all threads (median; steadier under load):")
    _report(samples, "collection off", 1)
    print(" process CPU time, all threads, of start() and the publishing until flushed (median):")
    _report(samples, "collection off", 2)
    print(f" ({load()}); target: Prometheus on <= 1.05x off")
    for each in (published, eager):
        each.stop()


NOTEBOOK_EVENTS = "\n".join(f"def c{index}(): return {index}" for index in range(10))
# Bound with -o and let go in the untimed cell after it, in every mode: freeing a run inside the
# timed cell only when collection is off (the store keeps the records otherwise) would bias it.
CELL = "%%pointy --no-widget -o _last\n" + " -> ".join(f"c{index}" for index in range(10))
TOGGLE = """
from pointy_engine.observers import run_observers as _observers
from pointy_engine.telemetry import telemetry_store as _store
_observers.remove(_store.observe)
_observers.remove(_published.observe)
{on}
"""


IN_KERNEL = """
import contextlib, io, json, time
from pointy_engine.observers import run_observers as _observers
from pointy_engine.telemetry import telemetry_store as _store
_modes = {"off": None, "on": _store, "prometheus": _published}
_samples = {name: [] for name in _modes}
_names = list(_modes)
for _round in range(ROUNDS):
    _shift = _round % 3
    for _name in _names[_shift:] + _names[:_shift]:
        for _each in (_store, _published):
            _observers.remove(_each.observe)
        if _modes[_name] is not None:
            _observers.add(_modes[_name].observe)
        _wall, _cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            _run = get_ipython().run_cell_magic("pointy", "--no-widget", FLOW)
        _samples[_name].append((time.perf_counter() - _wall, time.process_time() - _cpu))
        _run = None
        _published.flush(60)
        _published.clear()
        _store.clear()
_observers.add(_store.observe)
print(json.dumps(_samples))
"""


def bench_cell(rounds: int) -> None:
    import json

    from bench_cell import Kernel

    kernel = Kernel()
    try:
        kernel.run("%load_ext pointy_jupyter")
        kernel.run(NOTEBOOK_EVENTS)
        kernel.run(
            "from pointy_engine.telemetry import PrometheusPublisher\n"
            "from pointy_engine.telemetry.store import TelemetryStore\n"
            "_published = TelemetryStore()\n"
            "_published.start([PrometheusPublisher(port=0)])\n"
        )

        def mode(on: str) -> Callable[[], float]:
            def sample() -> float:
                kernel.run(TOGGLE.format(on=on))
                took, _ = kernel.execute(CELL)
                kernel.run("_last = None; _published.flush(60); _published.clear(); _store.clear()")
                return took

            return sample

        modes = {
            "collection off": mode(""),
            "collection on (the default after %load_ext)": mode("_observers.add(_store.observe)"),
            "on, with a Prometheus publisher": mode("_observers.add(_published.observe)"),
        }
        for sample in modes.values():
            for _ in range(3):
                sample()
        print(f"\na %%pointy --no-widget cell of 10 events in a kernel, execute_request -> idle, "
              f"{rounds} interleaved rounds ({load()})")  # fmt: skip
        _report(_interleaved(modes, rounds), "collection off", 0)
        flow = CELL.split("\n", 1)[1]
        code = IN_KERNEL.replace("ROUNDS", str(rounds * 4)).replace("FLOW", repr(flow))
        sent = kernel.run(code)
        text = "".join(m["content"]["text"] for m in sent if m["msg_type"] == "stream")
        raw = json.loads(text.strip().splitlines()[-1])
        labels = {
            "off": "collection off",
            "on": "collection on (the default after %load_ext)",
            "prometheus": "on, with a Prometheus publisher",
        }
        samples = {labels[name]: [tuple(s) for s in taken] for name, taken in raw.items()}
        print(f" the same cell's magic timed inside the kernel, {rounds * 4} interleaved rounds:")
        print("  wall time:")
        _report(samples, "collection off", 0)
        print("  process CPU time:")
        _report(samples, "collection off", 1)
        print(f" ({load()})")
    finally:
        kernel.close()


def bench_memory(runs: int) -> None:
    store.start()
    store.clear()
    gc.collect()
    tracemalloc.start()
    marks = {DEFAULT_LIMIT, runs // 2, runs}
    base = tracemalloc.get_traced_memory()[0]
    print(f"\nmemory, collection on, the store keeping the last {DEFAULT_LIMIT} runs ({load()})")
    for index in range(1, runs + 1):
        Short().start(events=EVENTS)
        if index in marks:
            gc.collect()
            current = tracemalloc.get_traced_memory()[0] - base
            print(
                f"  after {index:6d} runs of a 10-event pipeline: {current / 2**20:6.2f} MiB "
                f"({len(store)} runs kept)"
            )
    tracemalloc.stop()
    store.stop()
    store.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and runs")
    parser.add_argument("--no-kernel", action="store_true", help="skip the kernel cell figure")
    args = parser.parse_args()
    bench_start(7 if args.quick else 31)
    if not args.no_kernel:
        bench_cell(15 if args.quick else 61)
    bench_memory(3_000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
