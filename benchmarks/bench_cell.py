"""What a notebook user waits for: a cell in a real kernel, from execute_request to idle.

Run: `.venv/bin/python benchmarks/bench_cell.py [--quick]`. Starts an IPython kernel with
jupyter_client and times, interleaved round by round, median of the samples after a warm-up:

- a plain cell calling 5 trivial functions (the baseline);
- a `%%pointy --no-widget` cell of the same 5 events (target <= 1.2x the plain cell);
- a `%%pointy` cell with its live widget (target <= 2x the plain cell);
- Hamilton's `%%cell_to_module --execute` of 5 functions (needs the `bench` group);
- `%load_ext pointy_jupyter` in a running kernel, fresh each time (target <= 50 ms), as the
  kernel itself measures it.
"""

from __future__ import annotations

import argparse
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
    def __init__(self) -> None:
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
        self.manager.start_kernel(env=env)
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


def cell_times(rounds: int) -> dict[str, float]:
    kernel = Kernel()
    try:
        kernel.run("%load_ext pointy_jupyter\n%load_ext hamilton.plugins.jupyter_magic")
        kernel.run(SETUP)
        samples: dict[str, list[float]] = {name: [] for name in CELLS}
        for code in CELLS.values():  # warm up: first imports are not what a cell costs
            for _ in range(3):
                kernel.run(code)
        for _ in range(rounds):
            for name, code in CELLS.items():
                took, _ = kernel.execute(code)
                samples[name].append(took)
        return {name: statistics.median(taken) for name, taken in samples.items()}
    finally:
        kernel.close()


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


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer samples")
    args = options.parse_args()
    rounds = 15 if args.quick else 31
    times = cell_times(rounds)
    plain = times["plain cell calling 5 functions"]
    print(f"a cell, execute_request -> idle, median of {rounds} after warm-up")
    for name, took in times.items():
        print(f"  {name:40} {took * 1000:7.2f} ms  {took / plain:5.2f}x the plain cell")
    loaded = load_ext_time(3 if args.quick else 7)
    print(f"\n%load_ext pointy_jupyter in a running kernel: {loaded * 1000:.1f} ms (target <= 50)")
    print("\ntargets")
    for name, limit in (
        ("%%pointy --no-widget, 5 events", 1.2),
        ("%%pointy with its widget, 5 events", 2.0),
    ):
        ratio = times[name] / plain
        print(f"  {name}: {ratio:.2f}x the plain cell (target <= {limit}x) "
              f"{'met' if ratio <= limit else 'NOT met'}")  # fmt: skip
    print(f"  %load_ext: {loaded * 1000:.1f} ms (target <= 50) "
          f"{'met' if loaded <= 0.05 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
