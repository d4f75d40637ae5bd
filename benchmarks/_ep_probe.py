"""Timing probe that runs INSIDE the event_pipeline 2.0.0 baseline venv.

Driven by ``baseline_event_pipeline.py``; never import Pointy here.

Usage: ``python _ep_probe.py '<json task>'`` where the task is one case::

    {"kind": "parse" | "engine", "shape": "chain" | "fan", "size": N, "repeats": R}

Prints exactly one line ``MARKER <json>`` on stdout; anything the library prints while
working is redirected to stderr so that line stays parseable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import sys
import time
from typing import Any

MARKER = "@@EP_PROBE_RESULT@@"
OPERATORS = {"chain": " -> ", "fan": " || "}


def pointy_text(shape: str, size: int) -> str:
    return OPERATORS[shape].join(f"E{i}" for i in range(size))


def count_nodes(root: Any) -> int:
    # Iterative on purpose: the library's own get_task_count() recurses once per node.
    seen, stack = 0, [root]
    while stack:
        node = stack.pop()
        seen += 1
        stack.extend(node.get_children())
    return seen


def summarize(samples: list[float], size: int) -> dict[str, Any]:
    median = statistics.median(samples)
    return {"median_s": median, "median_s_per_event": median / size, "samples_s": samples}


def probe_parse(shape: str, size: int, repeats: int) -> dict[str, Any]:
    from event_pipeline.task import PipelineTask

    code = pointy_text(shape, size)
    samples: list[float] = []
    root = None
    for _ in range(repeats):
        start = time.perf_counter()
        root = PipelineTask.build_pipeline_from_execution_code(code)
        samples.append(time.perf_counter() - start)
    nodes = count_nodes(root)
    result = {"ok": nodes == size, "nodes": nodes, **summarize(samples, size)}
    if nodes != size:
        result["error"] = {"type": "IncompleteTree", "message": f"{nodes}/{size} task nodes"}
    return result


def probe_engine(shape: str, size: int, repeats: int) -> dict[str, Any]:
    from event_pipeline import EventBase, Pipeline

    calls = 0

    def process(self: Any, *args: Any, **kwargs: Any) -> tuple[bool, None]:
        nonlocal calls
        calls += 1
        return True, None

    # The library resolves task names by scanning EventBase.__subclasses__() for a
    # case-insensitive class-name match. __subclasses__() holds only weak references, so the
    # classes must stay referenced here or the GC drops them and the run aborts with
    # "'E1' was not found". One process per case, so E0..En-1 never collide across cases.
    events = [type(f"E{i}", (EventBase,), {"process": process}) for i in range(size)]
    meta = type("Meta", (), {"pointy": pointy_text(shape, size)})
    pipeline_cls = type("BenchPipeline", (Pipeline,), {"Meta": meta})  # parses here

    samples: list[float] = []
    states: set[str] = set()
    for _ in range(repeats):
        start = time.perf_counter()
        pipeline = pipeline_cls()
        pipeline.start()
        samples.append(time.perf_counter() - start)
        states.add(pipeline.execution_context.get_latest_execution_context().state.value)

    del events  # kept alive until every run finished
    expected = size * repeats
    result = {
        "ok": calls == expected,
        "process_calls": calls,
        "expected_calls": expected,
        "final_states": sorted(states),
        **summarize(samples, size),
    }
    if calls != expected:
        result["error"] = {"type": "IncompleteRun", "message": f"{calls}/{expected} process()"}
    return result


def run(task: dict[str, Any]) -> dict[str, Any]:
    import event_pipeline

    # The package calls logging.basicConfig(level=INFO) on import and logs every event;
    # terminal I/O is not what we benchmark, so mute it (messages are still formatted).
    logging.disable(logging.CRITICAL)
    probe = {"parse": probe_parse, "engine": probe_engine}[task["kind"]]
    try:
        result = probe(task["shape"], task["size"], task["repeats"])
    except Exception as exc:  # RecursionError included: the point is to record it
        result = {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)[:300]}}
    result["library_version"] = event_pipeline.__version__
    result["recursion_limit"] = sys.getrecursionlimit()
    return result


def main() -> None:
    task = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        result = run(task)
    real_stdout.write(f"{MARKER} {json.dumps({**task, **result})}\n")


if __name__ == "__main__":
    main()
