"""What the live widget costs a run: the same pipelines with and without a widget following them.

Run: `.venv/bin/python benchmarks/bench_widget.py`. The widget runs headless (ipywidgets' comm
with no kernel behind it); each message it sends is serialised with `json.dumps`, as the kernel's
session would, so what is measured is the kernel-side cost: the follower's looks, the node tables
and the JSON of every message. Three pipelines:

- the issue's 10,000-event inline chain (~35 ms): the run alone (`run.start()`, what the engine
  pays; target <= 1.10x) and the run plus `widget.finish()`, the final full sync the blocking
  magic waits for before it updates the cell;
- a 100,000-event inline chain (~0.4 s): the follower looks several times while the engine is
  busiest, with thousands of changed nodes per look;
- a 2,000-node chain of events that sleep 0.5 ms (~1.2 s): the message rate a front end sees
  (target: no more than about 20 a second).

Runs with and without the widget alternate; medians are printed. The machine may be busy with
other work: repeat and compare medians.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.run import Run
from pointy_jupyter.widget import RunWidget


def _plan(size: int, body: Callable[[], object]) -> Plan:
    events = {f"E{i}": body for i in range(size)}
    return Plan(build_graph(" -> ".join(events)), events)


def _nap() -> None:
    time.sleep(0.0005)


class CountingWidget:
    """A RunWidget whose messages are serialised like the kernel would, and timed."""

    def __init__(self) -> None:
        self.widget = RunWidget()
        self.sent: list[float] = []
        original = self.widget._send

        def send(msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
            json.dumps(msg)  # the kernel's session serialises every message
            self.sent.append(time.perf_counter())
            original(msg, buffers)

        self.widget._send = send  # type: ignore[method-assign]


def _bare(plan: Plan) -> float:
    run = Run(plan)
    start = time.perf_counter()
    run.start()
    elapsed = time.perf_counter() - start
    assert run.status == "succeeded"
    return elapsed


def _watched(plan: Plan, counting: CountingWidget) -> tuple[float, float, int]:
    """Seconds for the run, seconds for the run plus the final sync, messages sent meanwhile."""
    run = Run(plan)
    counting.widget.attach(run)  # not timed: happens before the cell's run starts
    counting.sent.clear()
    start = time.perf_counter()
    run.start()
    ran = time.perf_counter() - start
    counting.widget.finish()
    finished = time.perf_counter() - start
    assert run.status == "succeeded"
    assert counting.widget.status == "succeeded"
    assert not counting.widget.following
    return ran, finished, len(counting.sent)


def measure(label: str, plan: Plan, repeats: int) -> None:
    counting = CountingWidget()
    bare, ran, finished, rates, messages = [], [], [], [], []
    for _ in range(repeats):
        bare.append(_bare(plan))
        run_time, total, count = _watched(plan, counting)
        ran.append(run_time)
        finished.append(total)
        messages.append(count)
        rates.append(count / total)
    counting.widget.close()
    base = statistics.median(bare)
    watched, cell = statistics.median(ran), statistics.median(finished)
    print(f"{label}, median of {repeats}")
    print(f"  without widget:          {base * 1000:8.1f} ms")
    print(f"  with widget, run:        {watched * 1000:8.1f} ms   ratio {watched / base:6.3f}x")
    print(f"  with widget, run+finish: {cell * 1000:8.1f} ms   ratio {cell / base:6.3f}x")
    print(
        f"  front-end messages: {statistics.median(messages):.0f} per run, "
        f"{statistics.median(rates):.1f} per second"
    )


def main() -> None:
    measure("10,000-event inline chain", _plan(10_000, lambda: None), repeats=9)
    measure("100,000-event inline chain", _plan(100_000, lambda: None), repeats=3)
    measure("2,000-node chain, 0.5 ms events", _plan(2_000, _nap), repeats=3)


if __name__ == "__main__":
    main()
