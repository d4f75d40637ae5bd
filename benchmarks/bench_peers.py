"""What a start costs, through each engine's public API: Pointy beside its peers, in one run.

Run: `.venv/bin/python benchmarks/bench_peers.py [--quick] [--no-event-pipeline]`.
Needs the `bench` dependency group (`.venv/bin/pip install --group bench -e .`) for Hamilton;
event_pipeline 2.0.0 gets its own venv on first use, as `bench_parse.py` does.

Chains (`E0 -> E1 -> ...`) of 20 and 200 and fans (`E0 || E1 || ...`) of 10 and 100 trivial
events, each engine in its own process, interleaved round by round so that a busy machine hurts
every engine alike. A sample is one start to finish through the public API, every time:
`P().start()` for Pointy (nothing built beforehand but the class), `driver.execute()` for
Hamilton, `dask.compute()` of freshly built `dask.delayed` calls, `P().start()` for
event_pipeline. Pools are built once per process (Pointy's are its own, shared by starts).
Prints the median µs per task of each engine and shape, then the issue's targets with ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = (("chain", 20), ("chain", 200), ("fan", 10), ("fan", 100))

# name: (label, interpreter: "pointy" or "event_pipeline")
ENGINES: dict[str, tuple[str, str]] = {
    "plain": ("plain calls (fan: one after another)", "pointy"),
    "threadpool": ("ThreadPoolExecutor submit/result", "pointy"),
    "hamilton": ("Hamilton driver.execute", "pointy"),
    "hamilton-threads": ("Hamilton, its thread adapter", "pointy"),
    "dask-sync": ("dask.delayed, sync scheduler", "pointy"),
    "dask-threads": ("dask.delayed, threads scheduler", "pointy"),
    "pointy-class": ("Pointy P().start(), class events", "pointy"),
    "pointy-function": ("Pointy P().start(), @event functions", "pointy"),
    "pointy-class-threads": ("Pointy, class events on threads", "pointy"),
    "pointy-function-threads": ("Pointy, @event functions on threads", "pointy"),
    "pointy-plan-reused": ("Pointy Run(plan).start(), plan built once", "pointy"),
    "pointy-class-listener": ("Pointy, class events, one record listener", "pointy"),
    "event_pipeline": ("event_pipeline 2.0.0 P().start()", "event_pipeline"),
    "event_pipeline-threads": ("event_pipeline 2.0.0, events on threads", "event_pipeline"),
}


def names(shape: str, size: int) -> list[str]:
    # Distinct per case: one process defines every case, and a name's latest definition wins.
    return [f"{shape.capitalize()}{size}E{i}" for i in range(size)]


def flow(shape: str, size: int) -> str:
    return (" -> " if shape == "chain" else " || ").join(names(shape, size))


# ----- one builder per engine: returns a function that runs one start to finish -------------


def build_plain(shape: str, size: int) -> Callable[[], object]:
    functions = [(lambda: None) for _ in range(size)]

    def start() -> None:
        for function in functions:
            function()

    return start


def build_threadpool(shape: str, size: int) -> Callable[[], object]:
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor()
    functions = [(lambda: None) for _ in range(size)]

    def chain() -> None:
        for function in functions:
            pool.submit(function).result()

    def fan() -> None:
        for future in [pool.submit(function) for function in functions]:
            future.result()

    return chain if shape == "chain" else fan


def _hamilton_module(shape: str, size: int) -> Any:
    import types

    module = types.ModuleType(f"peers_{shape}{size}")
    lines = []
    for index, name in enumerate(names(shape, size)):
        before = names(shape, size)[index - 1] if shape == "chain" and index else ""
        parameter = f"{before}: int" if before else ""
        lines.append(f"def {name}({parameter}) -> int:\n    return 0\n")
    exec("\n".join(lines), module.__dict__)
    sys.modules[module.__name__] = module  # Hamilton finds functions by their module
    return module


def build_hamilton(shape: str, size: int, threads: bool = False) -> Callable[[], object]:
    from hamilton import driver

    builder = driver.Builder().with_modules(_hamilton_module(shape, size))
    if threads:
        from hamilton.plugins.h_threadpool import FutureAdapter

        builder = builder.with_adapters(FutureAdapter())
    dr = builder.build()
    wanted = names(shape, size)[-1:] if shape == "chain" else names(shape, size)
    return lambda: dr.execute(wanted)


def build_dask(shape: str, size: int, scheduler: str) -> Callable[[], object]:
    import dask

    functions = [(lambda previous=None: 0) for _ in range(size)]

    def chain() -> object:
        value = dask.delayed(functions[0])()
        for function in functions[1:]:
            value = dask.delayed(function)(value)
        return value.compute(scheduler=scheduler)

    def fan() -> object:
        return dask.compute(*[dask.delayed(f)() for f in functions], scheduler=scheduler)

    return chain if shape == "chain" else fan


def build_pointy(
    shape: str,
    size: int,
    style: str,
    executor: str = "inline",
    reuse_plan: bool = False,
    listener: bool = False,
) -> Callable[[], object]:
    from pointy_engine import EventBase, Pipeline, event
    from pointy_engine.run import Run

    for name in names(shape, size):
        if style == "class":
            type(name, (EventBase,), {"process": lambda self: (True, None), "executor": executor})
        else:

            def function() -> tuple[bool, None]:
                return True, None

            function.__name__ = function.__qualname__ = name
            event(function, executor=executor)
    pipeline = type(f"Peers{shape}{size}", (Pipeline,), {"meta": {"pointy": flow(shape, size)}})

    seen: list[int] = [0]

    def count(record: object) -> None:  # the least a listener can do
        seen[0] += 1

    listeners = [count] if listener else []

    def start() -> None:
        run = pipeline().start(listeners=listeners)
        if run.status != "succeeded":
            raise RuntimeError(f"{run!r}")

    if reuse_plan:
        plan = pipeline().plan()
        return lambda: Run(plan).start()
    return start


def build_event_pipeline(shape: str, size: int, threads: bool = False) -> Callable[[], object]:
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from event_pipeline import EventBase, Pipeline

    logging.disable(logging.CRITICAL)  # it logs every event; terminal I/O is not measured

    def process(self: Any, *args: Any, **kwargs: Any) -> tuple[bool, None]:
        return True, None

    attributes: dict[str, Any] = {"process": process}
    if threads:
        attributes["executor"] = ThreadPoolExecutor
    # It finds events through EventBase.__subclasses__(), which holds them weakly: keep them.
    keep = [type(name, (EventBase,), dict(attributes)) for name in names(shape, size)]
    meta = type("Meta", (), {"pointy": flow(shape, size)})
    pipeline = type(f"Peers{shape}{size}", (Pipeline,), {"Meta": meta})

    def start() -> None:
        pipeline().start()
        assert keep

    return start


BUILDERS: dict[str, Callable[[str, int], Callable[[], object]]] = {
    "plain": build_plain,
    "threadpool": build_threadpool,
    "hamilton": build_hamilton,
    "hamilton-threads": lambda shape, size: build_hamilton(shape, size, threads=True),
    "dask-sync": lambda shape, size: build_dask(shape, size, "sync"),
    "dask-threads": lambda shape, size: build_dask(shape, size, "threads"),
    "pointy-class": lambda shape, size: build_pointy(shape, size, "class"),
    "pointy-function": lambda shape, size: build_pointy(shape, size, "function"),
    "pointy-class-threads": lambda shape, size: build_pointy(shape, size, "class", "thread"),
    "pointy-function-threads": lambda shape, size: build_pointy(shape, size, "function", "thread"),
    "pointy-plan-reused": lambda shape, size: build_pointy(shape, size, "class", reuse_plan=True),
    "pointy-class-listener": lambda shape, size: build_pointy(shape, size, "class", listener=True),
    "event_pipeline": build_event_pipeline,
    "event_pipeline-threads": lambda shape, size: build_event_pipeline(shape, size, threads=True),
}


# ----- the worker: one engine, one process, asked for samples on stdin ----------------------


def worker(engine: str) -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # whatever an engine prints must not reach the replies
    starts: dict[tuple[str, int], Callable[[], object]] = {}
    for line in sys.stdin:
        ask = json.loads(line)
        key = (ask["shape"], ask["size"])
        try:
            if key not in starts:
                starts[key] = BUILDERS[engine](*key)
                starts[key]()  # warm up: first-use costs are not what a start costs
            start = starts[key]
            samples = []
            for _ in range(ask["repeats"]):
                began = time.perf_counter()
                start()
                samples.append(time.perf_counter() - began)
            reply: dict[str, Any] = {"samples": samples}
        except Exception as error:  # recorded, shown in the table
            reply = {"error": f"{type(error).__name__}: {str(error)[:120]}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


BASELINE = "@baseline"  # an engine name ending so runs with --baseline's tree first on the path


class Worker:
    def __init__(self, engine: str, python: str, baseline: str | None = None) -> None:
        env = {**os.environ, "HAMILTON_TELEMETRY_ENABLED": "false"}  # no network
        if engine.endswith(BASELINE):
            engine = engine[: -len(BASELINE)]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [python, __file__, "--worker", engine],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def ask(self, shape: str, size: int, repeats: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"shape": shape, "size": size, "repeats": repeats}))
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            return {"error": f"worker exited ({self.process.poll()})"}
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


def measure(
    engines: list[str],
    rounds: int,
    repeats: Callable[[str, int], int],
    baseline: str | None = None,
) -> dict[tuple[str, str, int], float | str]:
    """Median seconds per task by (engine, shape, size), or the error a case ended with."""
    pythons = {"pointy": sys.executable}
    if any(_kind(e) == "event_pipeline" for e in engines):
        sys.path.insert(0, str(HERE))
        from baseline_event_pipeline import ensure_env

        pythons["event_pipeline"] = str(ensure_env())
    workers = {engine: Worker(engine, pythons[_kind(engine)], baseline) for engine in engines}
    samples: dict[tuple[str, str, int], list[float]] = {}
    errors: dict[tuple[str, str, int], str] = {}
    try:
        for _ in range(rounds):
            for shape, size in CASES:
                for engine in engines:  # interleaved: every engine, then the next case
                    key = (engine, shape, size)
                    if key in errors:
                        continue
                    reply = workers[engine].ask(shape, size, repeats(engine, size))
                    if "error" in reply:
                        errors[key] = reply["error"]
                    else:
                        samples.setdefault(key, []).extend(reply["samples"])
    finally:
        for running in workers.values():
            running.close()
    results: dict[tuple[str, str, int], float | str] = dict(errors)
    for (engine, shape, size), taken in samples.items():
        results.setdefault((engine, shape, size), statistics.median(taken) / size)
    return results


def _kind(engine: str) -> str:
    return ENGINES[engine.removesuffix(BASELINE)][1]


def _label(engine: str) -> str:
    label = ENGINES[engine.removesuffix(BASELINE)][0]
    return label + " [baseline]" if engine.endswith(BASELINE) else label


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer rounds")
    options.add_argument("--no-event-pipeline", action="store_true", help="skip event_pipeline")
    options.add_argument(
        "--baseline",
        metavar="TREE",
        help="also run Pointy from TREE (a folder holding an older pointy_engine), interleaved",
    )
    options.add_argument("--worker", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.worker:
        worker(args.worker)
        return
    engines = [
        name
        for name, (_, python) in ENGINES.items()
        if not (args.no_event_pipeline and python == "event_pipeline")
    ]
    if args.baseline:
        engines += [
            f"{name}{BASELINE}"
            for name in ("pointy-class", "pointy-function", "pointy-class-threads")
        ]
    rounds = 3 if args.quick else 9

    def repeats(engine: str, size: int) -> int:
        if engine.startswith("event_pipeline"):
            return 2 if size > 20 else 4  # ~0.5 ms a task: a few samples say enough
        return 5 if size > 20 else 15

    results = measure(engines, rounds, repeats, args.baseline)

    def us(engine: str, shape: str, size: int) -> float | None:
        value = results.get((engine, shape, size))
        return value * 1e6 if isinstance(value, float) else None

    header = "".join(f"{f'{shape} {size}':>11}" for shape, size in CASES)
    print(f"µs per task, median of one start to finish ({rounds} interleaved rounds)")
    print(f"{'engine':56}{header}")
    for engine in engines:
        cells = []
        for shape, size in CASES:
            value = results.get((engine, shape, size))
            cells.append(f"{value * 1e6:>11.1f}" if isinstance(value, float) else f"{'error':>11}")
        print(f"{_label(engine):56}{''.join(cells)}")
    for key, value in results.items():
        if isinstance(value, str):
            print(f"  {key[0]} {key[1]} {key[2]}: {value}")

    print("\ntargets (through P().start())")

    def verdict(text: str, ours: str, theirs: str, shape: str, size: int, limit: float) -> None:
        a, b = us(ours, shape, size), us(theirs, shape, size)
        if a is None or b is None:
            print(f"  {text}: not measured")
            return
        ratio = a / b
        mark = "met" if ratio <= limit else "NOT met"
        print(f"  {text}: {a:.1f} vs {b:.1f} µs = {ratio:.2f}x (target <= {limit}x) {mark}")

    for style in ("class", "function"):
        value = us(f"pointy-{style}", "chain", 200)
        if value is not None:
            mark = "met" if value <= 5.0 else "NOT met"
            print(f"  chain 200, {style} events: {value:.2f} µs/task (target <= 5) {mark}")
        verdict(f"chain 200, {style} events vs Hamilton", f"pointy-{style}", "hamilton",
                "chain", 200, 0.6)  # fmt: skip
    verdict("fan 100 vs the raw thread pool", "pointy-class", "threadpool", "fan", 100, 1.5)
    for style in ("class", "function"):
        verdict(f"chain 200, {style} events on threads vs a submit().result() chain",
                f"pointy-{style}-threads", "threadpool", "chain", 200, 1.0)  # fmt: skip
    verdict("one record listener attached vs none, chain 200", "pointy-class-listener",
            "pointy-class", "chain", 200, 1.2)  # fmt: skip
    for name in ("pointy-class", "pointy-function", "pointy-class-threads"):
        for shape, size in (("chain", 200), ("fan", 100)):
            a, b = us(name, shape, size), us(name + BASELINE, shape, size)
            if a is not None and b is not None:
                print(f"  {name} {shape} {size} vs the baseline tree: {a:.1f} vs {b:.1f} µs "
                      f"= {a / b:.2f}x")  # fmt: skip
    worst = None
    for ours, theirs in (
        ("pointy-class", "event_pipeline"),
        ("pointy-class-threads", "event_pipeline-threads"),
    ):
        for shape, size in CASES:
            a, b = us(ours, shape, size), us(theirs, shape, size)
            if a is not None and b is not None and (worst is None or b / a < worst[0]):
                worst = (b / a, f"{theirs} {shape} {size}")
    if worst is None:
        print("  below event_pipeline: not measured")
    else:
        mark = "met" if worst[0] >= 100 else "NOT met"
        print(f"  below event_pipeline everywhere: least {worst[0]:.0f}x ({worst[1]}) "
              f"(target >= 100x) {mark}")  # fmt: skip


if __name__ == "__main__":
    main()
