"""Ctrl-C at random points of a run: the run ends cancelled, and no thread is left.

`scripts/reliability` runs the same trials 1,000 times (benchmarks/reliability_checks.py)."""

from __future__ import annotations

import signal
import threading

import pytest
import reliability_checks as checks

TRIALS = 60

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's own SIGINT handler on the main thread",
)


def test_random_interrupts_leave_cancelled_runs_and_no_threads():
    figures = checks.interrupt_trials(TRIALS)
    assert figures["ctrl-c runs not as expected"] == 0, figures
    assert figures["ctrl-c leaked threads"] == 0, figures
    # A run interrupted as start() was entered is started again, and then counted by how it ended.
    ended = figures["ctrl-c runs cancelled"] + figures["ctrl-c runs ended before the interrupt"]
    assert ended == TRIALS, figures
    # The interrupts land within 30 ms of a run that takes longer: most must cut a run short.
    assert figures["ctrl-c runs cancelled"] >= TRIALS // 2, figures
