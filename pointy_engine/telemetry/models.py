"""The seed's record types, `EventMetrics` and `NetworkMetrics`, with their original fields.

Pointy adds where an attempt ran and which run it belongs to; times are epoch seconds. They are
slotted dataclasses, not frozen ones (a frozen `__init__` costs three times as much, per attempt,
on the publishing thread): publishers receive the same object and treat it as read-only.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from .attempts import Attempt


@dataclass(slots=True)
class EventMetrics:
    """One attempt of one event."""

    event_name: str
    task_id: str  # the node id
    start_time: float | None
    end_time: float | None = None
    status: str = "pending"
    error: str | None = None
    retry_count: int = 0  # attempts before this one
    process_id: int | None = None
    run_id: str = ""
    pipeline: str = ""
    attempt: int = 1
    wait: float = 0.0  # retry delay before this attempt, seconds
    worker: str = ""
    executor: str = ""
    # A cache hit (status "cached", attempt 0: not a run of the event) carries where its value
    # came from: what the event took when it was computed, and when (epoch seconds).
    cached_duration: float | None = None
    computed: float | None = None

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration": self.duration}

    @classmethod
    def from_attempt(cls, attempt: Attempt, pipeline: str = "") -> EventMetrics:
        error = None
        if attempt.error_type is not None:
            error = (
                f"{attempt.error_type}: {attempt.error_message}"
                if attempt.error_message
                else attempt.error_type
            )
        return cls(
            event_name=attempt.event,
            task_id=attempt.node,
            start_time=attempt.started,
            end_time=attempt.finished,
            status=attempt.state,
            error=error,
            retry_count=attempt.attempt - 1,
            process_id=process_id(attempt.worker, attempt.executor),
            run_id=attempt.run_id,
            pipeline=pipeline,
            attempt=attempt.attempt,
            wait=attempt.wait,
            worker=attempt.worker,
            executor=attempt.executor,
        )


def process_id(worker: str, executor: str) -> int | None:
    """The process an attempt ran in, when the worker string says or it ran in this one."""
    if executor == "inline" or executor == "thread":
        return os.getpid()
    if worker.startswith("pid:"):
        return int(worker[4:])
    return None


@dataclass(slots=True)
class NetworkMetrics:
    """One network operation of a remote execution."""

    task_id: str
    host: str
    port: int | None
    operation: str
    start_time: float
    end_time: float
    bytes_sent: int = 0
    bytes_received: int = 0
    error: str | None = None
    latency: float = 0.0  # seconds
    run_id: str = ""
    event_name: str = ""
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_op(cls, op: Any) -> NetworkMetrics:
        host, port = _split_address(op.address)
        return cls(
            task_id=op.node,
            host=host,
            port=port,
            operation=op.operation,
            start_time=op.started,
            end_time=op.started + op.latency,
            bytes_sent=op.bytes_sent,
            bytes_received=op.bytes_received,
            error=op.error,
            latency=op.latency,
            run_id=op.run_id,
            event_name=op.event,
            attempt=op.attempt,
        )


def _split_address(address: str) -> tuple[str, int | None]:
    """`tcp://10.0.0.5:8786` -> ("10.0.0.5", 8786)."""
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    if host and port.isdigit():
        return host.strip("[]"), int(port)
    return rest, None
