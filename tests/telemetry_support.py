"""A run with retries, a timeout, a failure and a branch, on a fake clock; a fresh store."""

from __future__ import annotations

import threading

from engine_support import WAIT, run_flow

from pointy_engine import FakeClock, RetryPolicy, event
from pointy_engine.observers import RunObservers
from pointy_engine.run import Run
from pointy_engine.telemetry.store import TelemetryStore

MIXED_FLOW = "Fetch -> Slowpoke -> Check (0 -> Alert, 1 -> Done)"


def mixed_run(**options) -> Run:
    """Fetch fails twice then succeeds; Slowpoke times out; Check fails and takes the 0 arm."""
    release = threading.Event()
    calls = []

    @event(retry_policy=RetryPolicy(max_attempts=3, backoff_factor=0.5))
    def Fetch():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"refused {len(calls)}")
        return True, [1, 2]

    @event(executor="thread", timeout=0.2)
    def Slowpoke():
        release.wait(WAIT)
        return True, None

    def Check():
        raise ValueError("bad rows")

    events = {
        "Fetch": Fetch,
        "Slowpoke": Slowpoke,
        "Check": Check,
        "Alert": lambda: "paged",
        "Done": lambda: 1,
    }
    options.setdefault("clock", FakeClock(start=100.0))
    options.setdefault("name", "Nightly")
    try:
        return run_flow(MIXED_FLOW, events, **options)
    finally:
        release.set()


def fresh_store(limit: int = 1_000, **options) -> tuple[TelemetryStore, RunObservers]:
    observers = RunObservers()
    return TelemetryStore(limit, observers=observers, **options), observers
