"""Text progress for `%%pointy --no-widget`: a line per finished node, then a summary.

No timings, so a saved notebook compares equal when it is run again.
"""

from __future__ import annotations

import sys
from typing import Any

from .widget_state import NODE_END_STATES, NODE_STATES, attempts_text, error_text, summary_text


def node_line(record: Any, max_attempts: int | None = None) -> str:
    """`Fetch: succeeded`, `Upload: succeeded ↻2/3`, `Score: failed: ValueError: x` (attempts
    in the widget's notation)."""
    text = f"{record.node}: {record.state}"
    if record.attempt > 1:
        text += f" {attempts_text(record.attempt, max_attempts)}"
    if record.state == "failed" and record.error is not None:
        text += f": {error_text(record.error)}"
    return text


class TextProgress:
    """A record listener that prints one run's progress; records of other runs (re-runs made
    later with `run.rerun`, which inherit listeners) are left alone."""

    def __init__(self, run_id: str, max_attempts: dict[str, int] | None = None) -> None:
        self.run_id = run_id
        self.max_attempts = max_attempts or {}  # node id -> `A * 3` of the flow
        self.states: dict[str, str] = {}

    def __call__(self, record: Any) -> None:
        if record.run_id != self.run_id:
            return
        if record.node:
            if record.state in NODE_END_STATES:
                self.states[record.node] = record.state
                print(node_line(record, self.max_attempts.get(record.node)), file=sys.stdout)
            return
        if record.state != "running":
            counts = dict.fromkeys(NODE_STATES, 0)
            for state in self.states.values():
                counts[state] += 1
            print(f"run {summary_text(record.state, counts)}", file=sys.stdout)
