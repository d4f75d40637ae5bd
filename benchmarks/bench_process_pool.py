"""What stopping stuck workers costs a process call: Pointy's `ProcessPool` beside the stdlib's
`ProcessPoolExecutor`, in one run, interleaved round by round (medians, ratios).

Run: `.venv/bin/python benchmarks/bench_process_pool.py [--rounds 7]`.

- one call at a time, submit + result of a trivial function, on a warm 1-worker pool: the
  round trip each pool adds (the start record and its lock in the worker, the moved-call
  bookkeeping in the parent);
- a chain of 30 trivial `executor="process"` events through the engine on kept pools: what a
  run sees (the same chain on a `ProcessPoolExecutor` subclass, which Pointy uses as it is).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from pointy_engine import event
from pointy_engine.executors import Executors, _process_context
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.process_pool import ProcessPool
from pointy_engine.run import Run

CALLS = 200
CHAIN = 30


class StdlibPool(ProcessPoolExecutor):
    """The stdlib pool: a subclass is used as it is (only the class itself means Pointy's)."""


def round_trips(pool, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        pool.submit(os.getpid).result()
    return (time.perf_counter() - started) / calls


def trivial() -> bool:
    return True


def chain_plan(executor, executors: Executors) -> Plan:
    step = event(executor=executor, executor_config={"max_workers": 1})(trivial)
    names = [f"E{i}" for i in range(CHAIN)]
    return Plan(build_graph(" -> ".join(names)), dict.fromkeys(names, step), None, executors)


def chain_time(plan: Plan) -> float:
    started = time.perf_counter()
    run = Run(plan).start()
    elapsed = time.perf_counter() - started
    if run.status != "succeeded":
        raise AssertionError(f"the chain ended {run.status}: {run.errors}")
    return elapsed / CHAIN


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    args = parser.parse_args()
    context = _process_context()
    stdlib, ours = ProcessPoolExecutor(1, mp_context=context), ProcessPool(1, context)
    executors = Executors()
    plans = {"stdlib": chain_plan(StdlibPool, executors), "ours": chain_plan("process", executors)}
    samples: dict[str, list[float]] = {
        "call stdlib": [],
        "call ours": [],
        "chain stdlib": [],
        "chain ours": [],
    }
    try:
        for pool in (stdlib, ours):  # warm: workers started, code imported
            round_trips(pool, 20)
        for plan in plans.values():
            chain_time(plan)
        for index in range(args.rounds):
            order = ("stdlib", "ours") if index % 2 == 0 else ("ours", "stdlib")
            for name in order:
                samples[f"call {name}"].append(
                    round_trips(stdlib if name == "stdlib" else ours, CALLS)
                )
            for name in order:
                samples[f"chain {name}"].append(chain_time(plans[name]))
    finally:
        stdlib.shutdown()
        ours.shutdown()
        executors.shutdown()
    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    load = os.getloadavg()[0]
    print(f"load average (1 min) {load:.2f}; medians of {args.rounds} interleaved rounds")
    for what, label in (("call", f"{CALLS} round trips"), ("chain", f"{CHAIN}-event chain")):
        base, mine = medians[f"{what} stdlib"], medians[f"{what} ours"]
        print(
            f"{label}: ProcessPoolExecutor {base:.0f} µs/call, ProcessPool {mine:.0f} µs/call, "
            f"ratio {mine / base:.2f}x ({mine - base:+.0f} µs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
