"""Network records: one per remote call an executor makes for an event (see `dask_executor`)."""

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
