"""Runs: one loop owns a run's state; workers only run event bodies and report back.

`run.py` holds the public `Run`, `loop.py` its loop, `results.py` the `NodeResult`s, `frames.py`
how sequences, parallel groups and branches settle, `submit.py` how attempts reach executors
(timeouts included), `rerun.py` which results a re-run keeps, `states.py` the state names.
"""

from __future__ import annotations

from ..events import Outcome
from .run import NodeResult, Run
from .states import (
    CACHED,
    CANCELLED,
    FAILED,
    FINISHED_NODE_STATES,
    PENDING,
    RETRYING,
    RUN_STATES,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RerunMode,
)

__all__ = [
    "CACHED",
    "CANCELLED",
    "FAILED",
    "FINISHED_NODE_STATES",
    "PENDING",
    "RETRYING",
    "RUNNING",
    "RUN_STATES",
    "SKIPPED",
    "SUCCEEDED",
    "NodeResult",
    "Outcome",
    "RerunMode",
    "Run",
]
