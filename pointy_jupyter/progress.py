"""Text progress for `%%pointy --no-widget`: a line per finished node, then a summary.

No timings, so a saved notebook compares equal when it is run again.
"""

from __future__ import annotations

import sys
from typing import Any

from .widget_state import NODE_END_STATES, NODE_STATES, error_text, summary_text


def node_line(record: Any) -> str:
    """`Fetch: succeeded`, `Upload: succeeded after 2 attempts`, `Score: failed: ValueError: x`."""
    text = f"{record.node}: {record.state}"
    if record.attempt > 1:
        text += f" after {record.attempt} attempts"
    if record.state == "failed" and record.error is not None:
        text += f": {error_text(record.error)}"
    return text


class TextProgress:
    """A record listener that prints one run's progress; records of other runs (re-runs made
    later with `run.rerun`, which inherit listeners) are left alone."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.states: dict[str, str] = {}

    def __call__(self, record: Any) -> None:
        if record.run_id != self.run_id:
            return
        if record.node:
            if record.state in NODE_END_STATES:
                self.states[record.node] = record.state
                print(node_line(record), file=sys.stdout)
            return
        if record.state != "running":
            counts = dict.fromkeys(NODE_STATES, 0)
            for state in self.states.values():
                counts[state] += 1
            print(f"run {summary_text(record.state, counts)}", file=sys.stdout)
