"""The long reliability runs (scripts/reliability): one table, exit status 1 if anything went wrong.

- the language fuzzed with 100,000 seeded inputs (token soup and mutations of the valid
  fixtures): each must give a graph or a PointyError, print nothing, and finish quickly;
- 100 concurrent runs of one pipeline from 100 threads: values, records, captured output their own;
- a 100,000-event run: memory retained per finished event (tracemalloc), bound 2 KiB;
- soak: 1,000 back-to-back runs, then 1,000 scheduled runs at 5 ms: memory, threads and file
  descriptors after warm-up against the end;
- the run history's writer SIGKILLed 50 times at random moments: integrity and committed runs;
- process faults by kind, 10 trials each (os._exit, SIGKILL, raise in the worker, an unpicklable
  return value, a timeout): the node fails with its own error, the next process event runs, the
  timed-out body's worker is stopped (its minute-long sleep never finishes), no worker process
  is left;
- 200 rounds of stuck calls stopped on a 2-worker process pool while other calls run beside
  them: those return their own values, every stopped worker ends, no process is left;
- 1,000 Ctrl-C (SIGINT) trials at random moments of a run: cancelled or already ended, no thread left.

`tests/reliability/` runs the same checks small, in CI (`benchmarks/reliability_checks.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reliability_checks as checks

from pointy_engine.errors import PointyError
from pointy_engine.fuzzing import fuzz_inputs
from pointy_engine.graph import build_graph

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
HANG_SECONDS = 2  # an input of at most ~100 characters that takes this long is a hang


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def fuzz_language(count: int, seed: int) -> dict[str, float]:
    valid = [
        line
        for line in (FIXTURES / "valid_pipelines.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    crashes = hangs = printed = graphs = errors = 0
    slowest = 0.0
    signal.signal(signal.SIGALRM, _alarm)
    for text in fuzz_inputs(seed, count, valid):
        sink = io.StringIO()
        started = time.perf_counter()
        signal.alarm(HANG_SECONDS)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                build_graph(text)
            graphs += 1
        except PointyError as error:
            str(error)
            errors += 1
        except _Hang:
            hangs += 1
            print(f"hang: {text!r}", file=sys.stderr)
        except Exception as error:
            crashes += 1
            print(f"crash: {text!r}: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            signal.alarm(0)
        slowest = max(slowest, time.perf_counter() - started)
        if sink.getvalue():
            printed += 1
    return {
        "inputs fuzzed": count,
        "graphs": graphs,
        "syntax/check errors": errors,
        "other exceptions": crashes,
        "hangs": hangs,
        "inputs that printed": printed,
        "slowest input (ms)": round(slowest * 1000, 2),
    }


MUST_BE_ZERO = (
    "other exceptions",
    "hangs",
    "inputs that printed",
    "runs with crosstalk or a wrong value",
    "events over the memory bound",
    "soak runs failed",
    "soak leaked threads",
    "soak leaked fds",
    "soak memory over 8 MiB",
    "scheduled runs failed",
    "scheduled runs lost from history",
    "scheduled leaked threads",
    "scheduled leaked fds",
    "scheduled memory over 8 MiB",
    "history corrupt after kill -9",
    "history committed runs lost",
    *(f"faults not as expected: {kind}" for kind in checks.FAULT_KINDS),
    "timed-out workers alive 1 s after their run",
    "fault trials leaked processes",
    "calls beside stopped ones failed or wrong",
    "stopped workers alive 2 s later",
    "pool stop leaked processes",
    "ctrl-c runs not as expected",
    "ctrl-c leaked threads",
)
MEMORY_SLACK_KIB = 8 * 1024  # allocator noise; a leak of 1 KiB per run would be 1,000 KiB over it


def all_figures(args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {}
    figures.update(fuzz_language(args.inputs, args.seed))
    figures.update(checks.concurrent_runs(args.concurrent))
    figures.update(checks.memory_per_event(args.events))
    soak = checks.soak_runs(args.soak, warmup=100)
    soak["soak memory over 8 MiB"] = int(soak["soak memory growth (KiB)"] > MEMORY_SLACK_KIB)
    figures.update(soak)
    scheduled = checks.soak_scheduled(args.soak, warmup=100)
    # Every firing is kept: the warm-up and counted runs at least (one more may land at pause).
    scheduled["scheduled runs lost from history"] = max(
        0, args.soak + 100 - scheduled["scheduled runs in history"]
    )
    scheduled["scheduled memory over 8 MiB"] = int(
        scheduled["scheduled memory growth (KiB)"] > MEMORY_SLACK_KIB
    )
    figures.update(scheduled)
    figures.update(checks.history_kill9(args.kills))
    figures.update(checks.process_faults(args.faults))
    figures.update(checks.pool_stops(args.pool_stops))
    figures.update(checks.interrupt_trials(args.interrupts))
    return {name: value for name, value in figures.items() if not name.startswith("_")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs to fuzz (100000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    parser.add_argument("--concurrent", type=int, default=100, help="concurrent runs (100)")
    parser.add_argument("--events", type=int, default=100_000, help="events in one run (100000)")
    parser.add_argument("--soak", type=int, default=1_000, help="soak runs, each kind (1000)")
    parser.add_argument("--kills", type=int, default=50, help="history kill -9 trials (50)")
    parser.add_argument("--faults", type=int, default=10, help="trials per fault kind (10)")
    parser.add_argument("--pool-stops", type=int, default=200, help="pool stop rounds (200)")
    parser.add_argument("--interrupts", type=int, default=1_000, help="Ctrl-C trials (1000)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = all_figures(args)
    figures["wall time (s)"] = round(time.perf_counter() - started, 1)
    figures["load average (1 min)"] = round(os.getloadavg()[0], 2)
    width = max(map(len, figures))
    if args.markdown:
        print("| reliability figure | value |\n|---|---:|")
        for name, value in figures.items():
            print(f"| {name} | {value} |")
    else:
        print(f"{'reliability figure':<{width}}  value")
        for name, value in figures.items():
            print(f"{name:<{width}}  {value}")
    bad = [name for name in MUST_BE_ZERO if figures[name]]
    if bad:
        print(f"FAILED: {', '.join(bad)} not 0", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
