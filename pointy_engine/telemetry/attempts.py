"""A run's records folded into attempts and node outcomes: plain data, no pandas.

Every telemetry view (DataFrames, the seed's get_* functions, publishers, the timeline) reads
these, so they all agree on what an attempt was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..records import Record

FINISHED = frozenset({"succeeded", "failed", "retrying", "cancelled", "cached"})


class Attempt(NamedTuple):
    """One attempt of one node. `wait` is the retry delay before it (0.0 for a first attempt)."""

    run_id: str
    node: str
    event: str
    attempt: int
    state: str  # succeeded, failed, retrying (failed and retried), cancelled, running, cached
    started: float | None  # epoch seconds; None for a reused result or a cache hit (not run)
    finished: float | None  # None while running
    wait: float
    worker: str
    error_type: str | None
    error_message: str | None
    descriptor: int | None
    executor: str  # inline, thread, process or dask

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


def executor_of(worker: str) -> str:
    """The kind of pool a worker string names (see Record.worker)."""
    if not worker or worker == "cache":  # a cache hit ran nowhere
        return ""
    if worker.startswith("pid:"):
        return "process"
    if "://" in worker:
        return "dask"
    return "thread"


def fold_attempts(records: Iterable[Record]) -> list[Attempt]:
    """Attempts in the order they started (reused results where the re-run recorded them)."""
    attempts: list[Attempt] = []
    open_rows: dict[str, int] = {}  # node -> index of its running attempt
    last_end: dict[str, float] = {}
    for record in records:
        node = record.node
        if not node or (record.attempt == 0 and record.state != "cached"):
            continue  # run records, and nodes that were skipped (a cache hit is a row)
        state = record.state
        if state == "running":
            ended = last_end.get(node)
            wait = record.time - ended if ended is not None and record.attempt > 1 else 0.0
            open_rows[node] = len(attempts)
            attempts.append(
                Attempt(
                    record.run_id, node, record.event, record.attempt, "running", record.time,
                    None, wait, record.worker, None, None, None,
                    # Only the loop names itself on a running record: the event ran inline.
                    "inline" if record.worker else "",
                )
            )  # fmt: skip
            continue
        if state not in FINISHED:
            continue
        error = record.error
        index = open_rows.pop(node, None)
        if index is None:
            if state == "failed" and node in last_end:
                continue  # a stopped run confirming a waiting retry's last failure
            # A result reused by a re-run, or taken from the cache: it ended here without running.
            attempts.append(
                Attempt(
                    record.run_id, node, record.event, record.attempt, state, None, record.time,
                    0.0, record.worker, error.type if error else None,
                    error.message if error else None, record.descriptor,
                    executor_of(record.worker),
                )
            )  # fmt: skip
            continue
        row = attempts[index]
        attempts[index] = row._replace(
            state=state,
            finished=record.time,
            worker=record.worker or row.worker,
            error_type=error.type if error else None,
            error_message=error.message if error else None,
            descriptor=record.descriptor,
            executor=row.executor or executor_of(record.worker),
        )
        last_end[node] = record.time
    return attempts


class NodeOutcome(NamedTuple):
    """One node's end: final state, attempts, total and last duration, the arm it selected."""

    run_id: str
    node: str
    event: str
    state: str
    attempts: int
    total_duration: float
    last_duration: float | None
    descriptor: int | None
    error_type: str | None


def fold_nodes(
    records: Sequence[Record], node_ids: Iterable[tuple[str, str]] = ()
) -> list[NodeOutcome]:
    """One outcome per node, in graph order when `node_ids` ((id, event) pairs) are given."""
    order: dict[str, str] = dict(node_ids)
    states: dict[str, str] = {}
    run_id = ""
    for record in records:
        run_id = record.run_id
        if record.node:
            order.setdefault(record.node, record.event)
            states[record.node] = record.state
    per_node: dict[str, list[Attempt]] = {}
    for attempt in fold_attempts(records):
        per_node.setdefault(attempt.node, []).append(attempt)
    outcomes = []
    for node, event in order.items():
        tried = per_node.get(node, [])
        durations = [a.duration for a in tried if a.duration is not None]
        last = tried[-1] if tried else None
        outcomes.append(
            NodeOutcome(
                run_id,
                node,
                event,
                states.get(node, "pending"),
                last.attempt if last else 0,
                sum(durations),
                last.duration if last else None,
                last.descriptor if last else None,
                last.error_type if last else None,
            )
        )
    return outcomes
