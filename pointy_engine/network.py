"""One network operation of a remote execution (a call to a Dask scheduler or worker).

A run keeps them in `run.network_ops`, in the order they finished; telemetry reads them there.
"""

from __future__ import annotations

from typing import NamedTuple


class NetworkOp(NamedTuple):
    """One remote call: what went over the wire, to which worker, how long it took."""

    run_id: str
    node: str
    event: str
    attempt: int
    operation: str
    address: str
    bytes_sent: int
    bytes_received: int
    latency: float  # seconds, submit to result
    started: float  # epoch seconds
    error: str | None
