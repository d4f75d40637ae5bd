"""Fakes for the widget tests, shaped as docs/design.md describes the engine's objects.

Records are the engine's own; a fake run (its record stream and node results) and its graph
stand in for the engine's, and drive the widget's follower by hand. Times are binary fractions so
durations compare exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pointy_engine.records import ErrorInfo, Record


def rec(
    node: str,
    state: str,
    time: float,
    attempt: int = 1,
    *,
    run_id: str = "r1",
    error: ErrorInfo | None = None,
    descriptor: int | None = None,
    worker: str = "pointy-worker-0",
) -> Record:
    """A node record (`node=""` makes a run record, with attempt 0 and no worker)."""
    if node == "" or state in ("pending", "skipped"):
        attempt = 0
    event = node.split("#")[0]
    return Record(
        run_id, node, event, attempt, state, time, worker if node else "", error, descriptor
    )


def step(node: str) -> dict[str, Any]:
    return {"kind": "step", "node": node}


def wide_group_root(ids: list[str]) -> dict[str, Any]:
    """`Start -> (one parallel group of ids)`: wide enough to be drawn collapsed."""
    return {
        "kind": "sequence",
        "items": [
            step("Start"),
            {"kind": "parallel", "group": "g1", "members": [step(i) for i in ids]},
        ],
        "links": ["then"],
    }


def graph_json(root: dict[str, Any], names: list[str]) -> dict[str, Any]:
    nodes = [
        {"id": name, "name": name.split("#")[0], "retry": None, "span": [0, 0]} for name in names
    ]
    return {"version": 1, "nodes": nodes, "root": root, "edges": []}


# Fetch -> Clean || Enrich |-> Score (0 -> Alert, 1 -> Save) -> Report
EXAMPLE_IDS = ["Fetch", "Clean", "Enrich", "Score", "Alert", "Save", "Report"]
EXAMPLE_GRAPH = graph_json(
    {
        "kind": "sequence",
        "items": [
            step("Fetch"),
            {"kind": "parallel", "group": "g1", "members": [step("Clean"), step("Enrich")]},
            {
                "kind": "branch",
                "head": step("Score"),
                "arms": [
                    {"descriptor": 0, "link": "then", "body": step("Alert")},
                    {"descriptor": 1, "link": "then", "body": step("Save")},
                ],
            },
            step("Report"),
        ],
        "links": ["then", "pipe", "then"],
    },
    EXAMPLE_IDS,
)
EXAMPLE_GRAPH["nodes"][3]["retry"] = 3  # Score * 3

SCORE_ERROR = ErrorInfo("ValueError", "score < 0", "Traceback (most recent call last):\n  ...\n")


def example_records(run_id: str = "r1") -> list[Record]:
    """One run of the example: Enrich retries once, Score fails, arm 0 runs, Save is skipped."""
    return [
        rec("", "running", 100.0, run_id=run_id),
        rec("Fetch", "running", 100.0, run_id=run_id),
        rec("Fetch", "succeeded", 100.5, run_id=run_id, descriptor=1),
        rec("Clean", "running", 100.5, run_id=run_id),
        rec("Enrich", "running", 100.5, run_id=run_id),
        rec("Clean", "succeeded", 100.75, run_id=run_id, descriptor=1),
        rec("Enrich", "retrying", 101.0, 1, run_id=run_id),
        rec("Enrich", "running", 101.25, 2, run_id=run_id),
        rec("Enrich", "succeeded", 101.5, 2, run_id=run_id, descriptor=1),
        rec("Score", "running", 101.5, run_id=run_id),
        rec("Score", "failed", 102.0, run_id=run_id, error=SCORE_ERROR, descriptor=0),
        rec("Save", "skipped", 102.0, run_id=run_id),
        rec("Alert", "running", 102.0, run_id=run_id),
        rec("Alert", "succeeded", 102.25, run_id=run_id, descriptor=1),
        rec("Report", "running", 102.25, run_id=run_id),
        rec("Report", "succeeded", 103.25, run_id=run_id, descriptor=1),
        rec("", "failed", 103.25, run_id=run_id),
    ]


@dataclass
class FakeNode:
    """The fields of `pointy_engine.run.NodeResult` the widget reads."""

    state: str = "pending"
    value: Any = None
    error: ErrorInfo | None = None
    attempts: int = 0
    duration: float | None = None
    output: str = ""
    descriptor: int | None = None
    worker: str = ""
    finished: float | None = None
    started: float | None = None  # the first attempt's start, as the engine keeps it
    attempt_started: float | None = None  # the fake's own: when the current attempt began


class FakeGraph:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_json(self) -> dict[str, Any]:
        return self._data


@dataclass
class FakeStream:
    records: list[Any] = field(default_factory=list)


RUN_END_STATES = ("succeeded", "failed", "cancelled")


@dataclass
class FakeRun:
    """A run the test drives by hand. Like the engine, `emit` updates the node's result first,
    then appends the record to the stream (and calls listeners, which the widget must not use)."""

    id: str
    graph: FakeGraph
    status: str = "pending"
    nodes: dict[str, FakeNode] = field(default_factory=dict)
    stream: FakeStream = field(default_factory=FakeStream)
    listeners: list[Callable[[Any], None]] = field(default_factory=list)

    @classmethod
    def of(cls, data: dict[str, Any], run_id: str = "r1") -> FakeRun:
        nodes = {node["id"]: FakeNode() for node in data["nodes"]}
        return cls(run_id, FakeGraph(data), nodes=nodes)

    @property
    def done(self) -> bool:
        records = self.stream.records
        return bool(records) and records[-1].node == "" and records[-1].state in RUN_END_STATES

    def wait(self, timeout: float | None = None) -> FakeRun:
        if not self.done:
            raise TimeoutError(f"run {self.id} still {self.status} after {timeout} s")
        return self

    def add_listener(self, listener: Callable[[Any], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[Any], None]) -> None:
        self.listeners.remove(listener)

    def records(self) -> list[Any]:
        return list(self.stream.records)

    def emit(self, record: Any) -> None:
        node = self.nodes.get(record.node)
        if node is not None:
            _settle(node, record)
        elif record.node == "":
            self.status = record.state
        self.stream.records.append(record)
        for listener in list(self.listeners):
            listener(record)

    def emit_all(self, records: list[Any]) -> None:
        for record in records:
            self.emit(record)


def _settle(node: FakeNode, record: Record) -> None:
    """What the engine does to a NodeResult before it emits the record."""
    node.state = record.state
    if record.attempt:
        node.attempts = record.attempt
    if record.worker:
        node.worker = record.worker
    if record.state == "running":
        if record.attempt <= 1 or node.started is None:
            node.started = record.time
        node.attempt_started = record.time
        return
    if record.state in ("retrying", "succeeded", "failed") and node.attempt_started is not None:
        node.duration = record.time - node.attempt_started  # the last attempt's time in the body
    if record.state == "retrying":
        node.error = record.error
        return
    node.finished = record.time
    if record.state in ("succeeded", "failed"):
        node.error = record.error
        node.descriptor = record.descriptor


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTimer:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay = delay
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """Keeps scheduled trailing flushes; `fire()` runs the live ones as the timer thread would."""

    def __init__(self) -> None:
        self.timers: list[FakeTimer] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.timers.append(timer)
        return timer

    @property
    def live(self) -> list[FakeTimer]:
        return [timer for timer in self.timers if not timer.cancelled]

    def fire(self) -> int:
        due = self.live
        for timer in due:
            timer.cancelled = True
            timer.callback()
        return len(due)


class FakeTicker:
    """Stands in for `widget_state.thread_ticker`: keeps each follower; `fire()` makes the live
    ones look once, as the follower thread would after one interval."""

    def __init__(self) -> None:
        self.followers: list[FakeFollower] = []

    def __call__(self, interval: float, tick: Callable[[], bool]) -> FakeFollower:
        follower = FakeFollower(interval, tick)
        self.followers.append(follower)
        return follower

    @property
    def live(self) -> list[FakeFollower]:
        return [follower for follower in self.followers if not follower.stopped]

    def fire(self) -> int:
        """One look of every live follower; returns how many looked."""
        due = self.live
        for follower in due:
            follower.fire()
        return len(due)


class FakeFollower:
    def __init__(self, interval: float, tick: Callable[[], bool]) -> None:
        self.interval = interval
        self.tick = tick
        self.cancelled = False
        self.finished = False  # its tick said there is nothing more to follow

    @property
    def stopped(self) -> bool:
        return self.cancelled or self.finished

    def fire(self) -> None:
        if not self.stopped and not self.tick():
            self.finished = True

    def cancel(self) -> None:
        self.cancelled = True
