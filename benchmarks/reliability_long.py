"""The long reliability runs (scripts/reliability): one table, exit status 1 if anything went wrong.

Today: the language fuzzed with 100,000 seeded inputs (token soup and mutations of the valid
fixtures). Each input must give a graph or a PointyError, print nothing, and finish quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import time
from pathlib import Path

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


MUST_BE_ZERO = ("other exceptions", "hangs", "inputs that printed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs to fuzz (100000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = fuzz_language(args.inputs, args.seed)
    width = max(map(len, figures))
    print(f"{'reliability figure':<{width}}  value")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"{'wall time (s)':<{width}}  {time.perf_counter() - started:.1f}")
    bad = [name for name in MUST_BE_ZERO if figures[name]]
    if bad:
        print(f"FAILED: {', '.join(bad)} not 0", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
