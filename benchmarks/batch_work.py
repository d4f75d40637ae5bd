"""The CPU-bound work `bench_batch.py` times, in a module of its own that imports nothing of
Pointy: a bare process pool's workers import it to find `Spin` and pay only for that.
"""

from __future__ import annotations

import os
import time

WORK = [4_000_000] * 8  # 8 batches of about 0.2 s of pure-Python arithmetic on an idle core


def Spin(numbers):
    """The work, and where and when it ran: (pid, start, end). perf_counter is the system-wide
    CLOCK_MONOTONIC on Linux, so the parent can set a worker's timestamps against its own."""
    started = time.perf_counter()
    total = 0
    for i in range(numbers[0]):
        total += i * i % 7
    return os.getpid(), started, time.perf_counter(), total
