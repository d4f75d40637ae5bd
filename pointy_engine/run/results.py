"""What happened to each node of a run: the `NodeResult` the loop keeps up to date."""

from __future__ import annotations

from typing import Any

from ..graph import Node
from ..records import ErrorInfo
from .states import PENDING


class NodeResult:
    """What happened to one node: state, value, error, attempts and timings."""

    __slots__ = (
        "attempts",
        "cache_note",
        "cached_at",
        "descriptor",
        "duration",
        "error",
        "event",
        "finished",
        "id",
        "output",
        "started",
        "state",
        "value",
        "worker",
    )

    def __init__(self, node: Node) -> None:
        self.id = node.id
        self.event = node.name
        self.state = PENDING
        self.value: Any = None
        self.error: ErrorInfo | None = None
        self.attempts = 0
        self.descriptor: int | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self.duration: float | None = None  # seconds spent in the event body, last attempt
        self.worker = ""
        self.output = ""  # printed and logged text, every attempt's, with capture_output=True
        self.cached_at: float | None = None  # state "cached": when the value was first computed
        self.cache_note = ""  # why the cache could not be used for this node, if it could not

    def __repr__(self) -> str:
        return f"<NodeResult {self.id} {self.state} attempts={self.attempts}>"


def copy_result(result: NodeResult, kept: NodeResult) -> None:
    """Make `result` show what `kept` holds (a re-run's kept step, from the start)."""
    for name in NodeResult.__slots__:
        setattr(result, name, getattr(kept, name))
