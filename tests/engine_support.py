"""Helpers shared by the engine tests: run a flow over a mapping of events, read the records."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

from pointy_engine.executors import Executors
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.run import Run

WAIT = 10.0  # seconds a test waits for something that should happen at once


def plan_flow(
    source: str,
    events: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    executors: Executors | None = None,
) -> Plan:
    return Plan(build_graph(source), events, inputs, executors)


def make_run(
    source: str,
    events: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> Run:
    """A run, not yet started, that owns its executors unless `executors=` are given."""
    executors = options.pop("executors", None)
    options.setdefault("own_executors", executors is None)
    return Run(plan_flow(source, events, inputs, executors), **options)


def run_flow(
    source: str,
    events: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> Run:
    return make_run(source, events, inputs, **options).start()


def states(run: Run) -> dict[str, str]:
    return {node_id: result.state for node_id, result in run.nodes.items()}


def trail(run: Run) -> list[tuple[str, str, int]]:
    """(node, state, attempt) for every record, in order."""
    return [(r.node, r.state, r.attempt) for r in run.records()]


def node_trail(run: Run) -> list[tuple[str, str]]:
    """(node, state) for node records only, in order."""
    return [(r.node, r.state) for r in run.records() if r.node]


class Log:
    """A thread-safe list events append to, to check what ran and in which order."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._lock = threading.Lock()

    def add(self, item: Any) -> None:
        with self._lock:
            self.items.append(item)

    def __eq__(self, other: object) -> bool:
        return self.items == other

    def __repr__(self) -> str:
        return repr(self.items)


def recorder(log: Log, name: str, value: Any = None, fail: BaseException | None = None):
    """A plain function event that logs its name and returns `value` or raises `fail`."""

    def function() -> Any:
        log.add(name)
        if fail is not None:
            raise fail
        return value if value is not None else name.lower()

    function.__name__ = name
    return function


def piped(log: Log, name: str):
    """A plain function event that logs (name, previous_result) and returns it."""

    def function(previous_result: Any = None) -> Any:
        log.add((name, previous_result))
        return previous_result

    function.__name__ = name
    return function


def ok_pair(function):
    """`function`, returning `(True, value)` as `@event` functions do (a raise stays a raise)."""

    @functools.wraps(function)
    def conventional(*args: Any, **kwargs: Any) -> Any:
        return True, function(*args, **kwargs)

    return conventional
