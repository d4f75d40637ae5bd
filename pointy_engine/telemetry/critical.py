"""A run's critical path, from its graph: the chain of steps that set when the run ended.

Start at the step that ended last; go back to the one of its graph predecessors that ended last
(the one it was waiting for), and so on to a step with none. A predecessor that did not run
(an arm not taken) is looked through to the steps before it. Each step's `gap` is the time from
that predecessor's end to its own start: engine latency, or waiting for a free worker. Without
a graph (records alone), the step "waited for" is the one that ended last before it started.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .attempts import fold_attempts

if TYPE_CHECKING:
    import pandas as pd

    from ..graph import Graph
    from ..records import Record

_EPSILON = 1e-6

CRITICAL_PATH_COLUMNS = (
    "node", "event", "attempts", "start", "end", "duration", "retry_wait", "gap",
)  # fmt: skip


class Step(NamedTuple):
    """A step on the critical path; times are epoch seconds."""

    node: str
    event: str
    attempts: int
    start: float  # its first attempt's start
    end: float  # its last attempt's end
    retry_wait: float  # seconds spent waiting between its attempts
    gap: float | None  # from the end of the step before it on the path to its start

    @property
    def duration(self) -> float:
        return self.end - self.start


class _Span(NamedTuple):
    event: str
    attempts: int
    start: float
    end: float
    retry_wait: float
    order: int


def _spans(records: Sequence[Record], now: float | None) -> dict[str, _Span]:
    """Steps that ran here (reused results did not), first start to last end."""
    last = now if now is not None else (records[-1].time if records else 0.0)
    spans: dict[str, _Span] = {}
    for attempt in fold_attempts(records):
        if attempt.started is None:
            continue
        end = attempt.finished if attempt.finished is not None else last
        known = spans.get(attempt.node)
        if known is None:
            spans[attempt.node] = _Span(attempt.event, 1, attempt.started, end, 0.0, len(spans))
        else:
            spans[attempt.node] = known._replace(
                attempts=known.attempts + 1, end=end, retry_wait=known.retry_wait + attempt.wait
            )
    return spans


def critical_steps(
    records: Sequence[Record], graph: Graph | None = None, now: float | None = None
) -> list[Step]:
    """The critical path of a run's records, first step to last (see the module's doc)."""
    records = list(records)
    spans = _spans(records, now)
    if not spans:
        return []

    def latest(node: str) -> tuple[float, float, int]:  # ties: the one that started later
        span = spans[node]
        return span.end, span.start, span.order

    if graph is not None:
        predecessors = _predecessors(graph.root)

        def waited_for(node: str, seen: set[str]) -> str | None:
            candidates: set[str] = set()
            frontier = list(predecessors.get(node, ()))
            looked: set[str] = set()
            while frontier:  # look through steps that did not run to the ones before them
                before = frontier.pop()
                if before in looked:
                    continue
                looked.add(before)
                if before in spans:
                    candidates.add(before)
                else:
                    frontier.extend(predecessors.get(before, ()))
            candidates -= seen
            return max(candidates, key=latest) if candidates else None
    else:

        def waited_for(node: str, seen: set[str]) -> str | None:
            start = spans[node].start
            earlier = [n for n, s in spans.items() if s.end <= start + _EPSILON and n not in seen]
            return max(earlier, key=latest) if earlier else None

    node: str | None = max(spans, key=latest)
    path: list[str] = []
    seen: set[str] = set()
    while node is not None:
        path.append(node)
        seen.add(node)
        node = waited_for(node, seen)
    path.reverse()
    steps = []
    previous_end: float | None = None
    for node in path:
        span = spans[node]
        gap = None if previous_end is None else max(span.start - previous_end, 0.0)
        steps.append(
            Step(node, span.event, span.attempts, span.start, span.end, span.retry_wait, gap)
        )
        previous_end = span.end
    return steps


def _predecessors(root: Any) -> dict[str, list[str]]:
    """Node id -> the nodes it runs after. Members of one group share one list (no n x m edges)."""
    from ..graph import Branch, Node, Parallel

    predecessors: dict[str, list[str]] = {}

    def walk(block: Any, before: list[str]) -> list[str]:  # returns the block's exits
        kind = type(block)
        if kind is Node:
            predecessors[block.id] = before
            return [block.id]
        if kind is Parallel:
            return [exit for member in block.members for exit in walk(member, before)]
        if kind is Branch:
            head = walk(block.head, before)
            # The sink also runs after the head itself (an outcome with no arm goes straight on).
            return [exit for arm in block.arms for exit in walk(arm.body, head)] + head
        exits = before
        for item in block.items:
            exits = walk(item, exits)
        return exits

    walk(root, [])
    return predecessors


def critical_path_frame(
    records: Sequence[Record], graph: Graph | None = None, now: float | None = None
) -> pd.DataFrame:
    """One row per step of the critical path: times as UTC datetimes, durations in seconds."""
    import pandas as pd

    rows: list[tuple[Any, ...]] = [
        (s.node, s.event, s.attempts, s.start, s.end, s.duration, s.retry_wait, s.gap)
        for s in critical_steps(records, graph, now)
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(CRITICAL_PATH_COLUMNS))
    frame = frame.astype(
        {"attempts": "int64", "duration": "float64", "retry_wait": "float64", "gap": "float64"}
    )
    for column in ("node", "event"):
        frame[column] = frame[column].astype("string")
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame
