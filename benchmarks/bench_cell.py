"""What a notebook user waits for: a cell in a real kernel, from execute_request to idle.

Run: `.venv/bin/python benchmarks/bench_cell.py [--quick]`. Starts an IPython kernel with
jupyter_client and times, interleaved round by round, median of the samples after a warm-up:

- a plain cell calling 5 trivial functions (the baseline);
- a `%%pointy --no-widget` cell of the same 5 events (target <= 1.2x the plain cell);
- a `%%pointy` cell with its live widget (target <= 2x the plain cell);
- Hamilton's `%%cell_to_module --execute` of 5 functions (needs the `bench` group);
- `%load_ext pointy_jupyter` in a running kernel, fresh each time (target <= 50 ms), as the
  kernel itself measures it.

`--baseline TREE` also runs every cell in a second kernel that imports Pointy from TREE (an older
checkout, e.g. `git archive main pointy_engine pointy_jupyter | tar -x -C /tmp/base`), round by
round with this tree's. `--messages` then prints what one cell of each kind makes the kernel do:
its iopub messages (type, count, bytes) and the thread hand-offs behind them (`IOPubThread.schedule`
calls, each a wake-up of ipykernel's IO thread, and `OutStream.flush` calls, each a wait for it).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
import time
from typing import Any

SETUP = """
from pointy_engine import event

def f0(): return 0
def f1(): return 1
def f2(): return 2
def f3(): return 3
def f4(): return 4

@event
def e0(): return True, 0
@event
def e1(): return True, 1
@event
def e2(): return True, 2
@event
def e3(): return True, 3
@event
def e4(): return True, 4
"""

CELLS = {
    "plain cell calling 5 functions": "f0(); f1(); f2(); f3(); f4()",
    "%%pointy --no-widget, 5 events": "%%pointy --no-widget\ne0 -> e1 -> e2 -> e3 -> e4",
    "%%pointy with its widget, 5 events": "%%pointy\ne0 -> e1 -> e2 -> e3 -> e4",
    "Hamilton %%cell_to_module --execute": (
        "%%cell_to_module peers_cell --execute\n"
        "def h0() -> int:\n    return 0\n"
        "def h1(h0: int) -> int:\n    return 1\n"
        "def h2(h1: int) -> int:\n    return 2\n"
        "def h3(h2: int) -> int:\n    return 3\n"
        "def h4(h3: int) -> int:\n    return 4\n"
    ),
}

LOAD_EXT = (
    "import time as _t\n_s = _t.perf_counter()\n"
    "get_ipython().run_line_magic('load_ext', 'pointy_jupyter')\n"
    "print(_t.perf_counter() - _s)"
)


class Kernel:
    def __init__(self, tree: str | None = None) -> None:
        from jupyter_client.manager import KernelManager

        self._base = tempfile.TemporaryDirectory()
        self.manager = KernelManager(
            kernel_name="python3", connection_file=os.path.join(self._base.name, "kernel.json")
        )
        env = {
            **os.environ,
            "IPYTHONDIR": os.path.join(self._base.name, "ipython"),
            "HAMILTON_TELEMETRY_ENABLED": "false",  # no network
        }
        if tree is not None:  # that tree's Pointy comes first on the kernel's path
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [tree, env.get("PYTHONPATH")]))
        # In a folder of its own: the kernel's first path entry is its working folder.
        self.manager.start_kernel(env=env, cwd=self._base.name)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str) -> tuple[float, list[dict[str, Any]]]:
        """Seconds from execute_request to the kernel's idle for it, and what it sent."""
        began = time.perf_counter()
        msg_id = self.client.execute(code)
        sent = []
        while True:
            message = self.client.get_iopub_msg(timeout=60)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            sent.append(message)
            if message["content"].get("execution_state") == "idle":
                return time.perf_counter() - began, sent

    def run(self, code: str) -> list[dict[str, Any]]:
        _, sent = self.execute(code)
        errors = [m["content"] for m in sent if m["msg_type"] == "error"]
        if errors:
            raise RuntimeError(f"{code.splitlines()[0]!r} failed: {errors[0]['evalue']}")
        return sent

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        self._base.cleanup()


COUNT_HANDOFFS = """
import collections as _collections
from ipykernel import iostream as _iostream
_pointy_bench_counts = _collections.Counter()
def _pointy_bench_counting(owner, name):
    original = getattr(owner, name)
    def counted(*args, **kwargs):
        _pointy_bench_counts[name] += 1
        return original(*args, **kwargs)
    setattr(owner, name, counted)
_pointy_bench_counting(_iostream.IOPubThread, "schedule")
_pointy_bench_counting(_iostream.OutStream, "flush")
"""


def prepare(kernel: Kernel) -> None:
    kernel.run("%load_ext pointy_jupyter")
    try:
        kernel.run("%load_ext hamilton.plugins.jupyter_magic")
    except RuntimeError:  # sf-hamilton is in the `bench` group; the other cells still run
        CELLS.pop("Hamilton %%cell_to_module --execute", None)
    kernel.run(SETUP)
    for code in CELLS.values():  # warm up: first imports are not what a cell costs
        for _ in range(3):
            kernel.run(code)


# The kernel's own view of each cell: wall and CPU seconds (all its threads) from pre_run_cell to
# post_run_cell. CPU time is the steadier figure on a busy machine: waits do not count in it.
KERNEL_SPANS = """
import time as _time
_pointy_bench_spans = []
def _pointy_bench_pre(info):
    _pointy_bench_spans.append([_time.perf_counter(), _time.process_time(), False])
def _pointy_bench_post(result):
    if _pointy_bench_spans and not _pointy_bench_spans[-1][2]:
        span = _pointy_bench_spans[-1]
        span[:] = [_time.perf_counter() - span[0], _time.process_time() - span[1], True]
get_ipython().events.register("pre_run_cell", _pointy_bench_pre)
get_ipython().events.register("post_run_cell", _pointy_bench_post)
"""


class Samples:
    """Per tree and cell: round-trip seconds, per-round ratios to the plain cell, kernel spans."""

    def __init__(self, trees: list[str]) -> None:
        self.wall = {tree: {name: [] for name in CELLS} for tree in trees}
        self.ratio = {tree: {name: [] for name in CELLS} for tree in trees}
        self.kernel_wall = {tree: {name: [] for name in CELLS} for tree in trees}
        self.kernel_cpu = {tree: {name: [] for name in CELLS} for tree in trees}


def cell_times(kernels: dict[str, Kernel], rounds: int) -> Samples:
    """Every round runs every cell in every kernel, this tree's then the baseline's."""
    for kernel in kernels.values():
        prepare(kernel)
        kernel.run(KERNEL_SPANS)
    samples = Samples(list(kernels))
    for _ in range(rounds):
        for tree, kernel in kernels.items():
            took = {name: kernel.execute(code)[0] for name, code in CELLS.items()}
            plain = took["plain cell calling 5 functions"]
            for name, seconds in took.items():
                samples.wall[tree][name].append(seconds)
                samples.ratio[tree][name].append(seconds / plain)
    for tree, kernel in kernels.items():
        sent = kernel.run("import json as _json\nprint(_json.dumps(_pointy_bench_spans))")
        spans = json.loads("".join(m["content"]["text"] for m in sent if m["msg_type"] == "stream"))
        measured = spans[-1 - rounds * len(CELLS) : -1]  # the rounds' cells, in order
        for index, (wall, cpu, _) in enumerate(measured):
            name = list(CELLS)[index % len(CELLS)]
            samples.kernel_wall[tree][name].append(wall)
            samples.kernel_cpu[tree][name].append(cpu)
    return samples


def messages_of(kernel: Kernel, code: str) -> tuple[collections.Counter, int, dict[str, int]]:
    """The iopub messages one run of `code` sent (by type), their bytes, and the hand-offs."""
    kernel.run("_pointy_bench_counts.clear()")
    _, sent = kernel.execute(code)
    kinds = collections.Counter(m["msg_type"] for m in sent)
    size = sum(len(json.dumps(m["content"])) for m in sent)
    counted = kernel.run("import json as _json\nprint(_json.dumps(_pointy_bench_counts))")
    handoffs = json.loads(
        "".join(m["content"]["text"] for m in counted if m["msg_type"] == "stream")
    )
    handoffs = {key: value - 1 if key == "schedule" else value for key, value in handoffs.items()}
    return kinds, size, handoffs  # (the printing cell's own request is not counted above)


def print_messages(kernels: dict[str, Kernel]) -> None:
    print("\nwhat one cell makes the kernel do (iopub messages; IO-thread wake-ups and waits)")
    for tree, kernel in kernels.items():
        kernel.run(COUNT_HANDOFFS)
        print(f"  {tree}")
        for name, code in CELLS.items():
            kinds, size, handoffs = messages_of(kernel, code)
            listed = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            print(
                f"    {name:38} {sum(kinds.values()):3} messages, {size / 1000:6.1f} kB: {listed}"
            )
            print(
                f"    {'':38} {handoffs.get('schedule', 0):3} IO-thread wake-ups, "
                f"{handoffs.get('flush', 0)} stream flushes (each a wait for that thread)"
            )


def load_ext_time(samples: int) -> float:
    times = []
    for _ in range(samples):
        kernel = Kernel()
        try:
            kernel.run("1")  # the kernel is fully up
            sent = kernel.run(LOAD_EXT)
            text = "".join(m["content"]["text"] for m in sent if m["msg_type"] == "stream")
            times.append(float(text.split()[-1]))
        finally:
            kernel.close()
    return statistics.median(times)


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer samples")
    options.add_argument(
        "--baseline", metavar="TREE", help="also run the cells with Pointy from TREE, interleaved"
    )
    options.add_argument(
        "--messages", action="store_true", help="print each cell's iopub messages and hand-offs"
    )
    args = options.parse_args()
    rounds = 15 if args.quick else 31
    print(f"load average before: {load_average()}")
    kernels = {"this tree": Kernel()}
    if args.baseline:
        kernels[f"baseline {args.baseline}"] = Kernel(args.baseline)
    try:
        times = cell_times(kernels, rounds)
        if args.messages:
            print_messages(kernels)
    finally:
        for kernel in kernels.values():
            kernel.close()
    median = statistics.median
    print(
        f"\na cell, execute_request -> idle, median of {rounds} rounds after warm-up, interleaved;"
    )
    print("x: median of the per-round ratios to the plain cell of the same round; in the kernel:")
    print("wall and CPU time (all threads) from pre_run_cell to post_run_cell, medians")
    for tree in kernels:
        print(f"  {tree}")
        for name in CELLS:
            print(
                f"    {name:38} {median(times.wall[tree][name]) * 1000:6.2f} ms "
                f"{median(times.ratio[tree][name]):5.2f}x   in the kernel "
                f"{median(times.kernel_wall[tree][name]) * 1000:6.2f} ms wall, "
                f"{median(times.kernel_cpu[tree][name]) * 1000:6.2f} ms CPU"
            )
    loaded = load_ext_time(3 if args.quick else 7)
    print(f"\n%load_ext pointy_jupyter in a running kernel: {loaded * 1000:.1f} ms (target <= 50)")
    print("\ntargets (this tree)")
    for name, limit in (
        ("%%pointy --no-widget, 5 events", 1.2),
        ("%%pointy with its widget, 5 events", 2.0),
    ):
        ratio = statistics.median(times.ratio["this tree"][name])
        print(f"  {name}: {ratio:.2f}x the plain cell (target <= {limit}x) "
              f"{'met' if ratio <= limit else 'NOT met'}")  # fmt: skip
    print(f"  %load_ext: {loaded * 1000:.1f} ms (target <= 50) "
          f"{'met' if loaded <= 0.05 else 'NOT met'}")  # fmt: skip
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
