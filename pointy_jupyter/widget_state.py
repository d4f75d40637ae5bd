"""What the run widget shows, computed from run records. Pure Python: no Jupyter import.

`RunState` folds the engine's record stream into per-node display state; `Throttle` decides when
that state is pushed to the front end, so a burst of records costs a few syncs, not thousands.
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

NODE_STATES = ("pending", "running", "retrying", "succeeded", "failed", "skipped", "cancelled")
RUN_STATES = ("pending", "running", "succeeded", "failed", "cancelled")
RUN_END_STATES = frozenset({"succeeded", "failed", "cancelled"})
# A node record in one of these states closes the node's timing.
NODE_END_STATES = frozenset({"succeeded", "failed", "skipped", "cancelled"})

NodeView = dict[str, Any]  # {"state", "attempts", "duration", "descriptor"}: JSON-shaped


class ErrorLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def traceback(self) -> str: ...


class RecordLike(Protocol):
    """The fields of `pointy_engine.records.Record` that the widget reads."""

    @property
    def run_id(self) -> str: ...
    @property
    def node(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def time(self) -> float: ...
    @property
    def worker(self) -> str: ...
    @property
    def error(self) -> ErrorLike | None: ...
    @property
    def descriptor(self) -> int | None: ...


def ends_run(record: RecordLike) -> bool:
    """True for the run-level record that closes a run."""
    return record.node == "" and record.state in RUN_END_STATES


def error_text(error: ErrorLike | None) -> str:
    """`Type: message` for an error record, "" for none."""
    if error is None:
        return ""
    kind, message = getattr(error, "type", ""), getattr(error, "message", "")
    return f"{kind}: {message}" if message else str(kind)


def pending_view() -> NodeView:
    return {"state": "pending", "attempts": 0, "duration": None, "descriptor": None}


class RunState:
    """Per-node display state of one run, built record by record.

    Not thread-safe on its own: the widget serialises `apply` and the readers with one lock.
    """

    def __init__(self) -> None:
        self.reset(None, ())

    def reset(self, run_id: str | None, node_ids: Iterable[str], status: str = "pending") -> None:
        """Forget everything and show `node_ids` as pending (a new run was attached)."""
        self.run_id = run_id
        self.status = status
        self.message = ""
        self.nodes: dict[str, NodeView] = {node_id: pending_view() for node_id in node_ids}
        self.workers: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._changed: set[str] = set(self.nodes)
        self._status_changed = True

    def seed(self, node_id: str, view: Mapping[str, Any]) -> None:
        """Start a node from what the run object already knows (e.g. values reused by a re-run)."""
        current = self.nodes.setdefault(node_id, pending_view())
        current.update({key: view[key] for key in current if view.get(key) is not None})
        self._changed.add(node_id)

    def apply(self, record: RecordLike) -> bool:
        """Fold one record in; returns True when it is the record that ends the run.

        Records of another run (a late record from the run this widget showed before) are ignored.
        """
        if self.run_id is not None and record.run_id != self.run_id:
            return False
        if record.node == "":
            return self._apply_run(record)
        self._apply_node(record)
        return False

    def _apply_run(self, record: RecordLike) -> bool:
        self.status = record.state
        self._status_changed = True
        if record.state == "cancelled":
            self.message = "cancelled"
        elif record.state == "failed" and record.error is not None:
            self.message = f"run failed: {error_text(record.error)}"
        elif record.state == "failed" and not self.message:
            self.message = "run failed"
        return record.state in RUN_END_STATES

    def _apply_node(self, record: RecordLike) -> None:
        node_id = record.node
        view = self.nodes.get(node_id)
        if view is None:  # not in the graph JSON: show it anyway rather than drop information
            view = self.nodes[node_id] = pending_view()
        view["state"] = record.state
        view["attempts"] = max(view["attempts"], record.attempt)
        if record.state == "running":
            self._started.setdefault(node_id, record.time)
        elif record.state in NODE_END_STATES and node_id in self._started:
            view["duration"] = round(record.time - self._started[node_id], 6)
        if record.descriptor is not None:
            view["descriptor"] = record.descriptor
        if record.worker:
            self.workers[node_id] = record.worker
        if record.state == "failed":
            detail = error_text(record.error)
            self.message = f"{node_id} failed: {detail}" if detail else f"{node_id} failed"
        if self.status == "pending":  # the run record may come late; a node record means it runs
            self.status = "running"
            self._status_changed = True
        self._changed.add(node_id)

    def take_changes(self) -> tuple[set[str], bool]:
        """Node ids changed, and whether the status changed, since the last call."""
        changed, status_changed = self._changed, self._status_changed
        self._changed, self._status_changed = set(), False
        return changed, status_changed

    def node_views(self) -> dict[str, NodeView]:
        """A fresh copy to assign to a trait (mutating a trait's value in place syncs nothing)."""
        return {node_id: dict(view) for node_id, view in self.nodes.items()}

    def counts(self) -> dict[str, int]:
        """Nodes per state, every state present, in `NODE_STATES` order."""
        counts = dict.fromkeys(NODE_STATES, 0)
        for view in self.nodes.values():
            counts[view["state"]] = counts.get(view["state"], 0) + 1
        return counts


def catch_up(history: list[Any], live: list[Any]) -> list[Any]:
    """Records to apply when attaching to a run that already started, in stream order.

    The listener is added before `run.records()` is read, so the first live records may also be
    the last ones of `history`; the longest such overlap is dropped from `live`.
    """
    for overlap in range(min(len(history), len(live)), 0, -1):
        if history[-overlap:] == live[:overlap]:
            return history + live[overlap:]
    return history + live


def controls_for(
    status: str, counts: Mapping[str, int], selected: str | None, can_command: bool
) -> dict[str, bool]:
    """Which buttons the front end enables."""
    finished = can_command and status in RUN_END_STATES
    has_failures = counts.get("failed", 0) + counts.get("cancelled", 0) > 0
    return {
        "rerun_all": finished,
        "rerun_failed": finished and (has_failures or status in ("failed", "cancelled")),
        "rerun_from": finished and selected is not None,
        "cancel": can_command and status in ("pending", "running"),
    }


def rate_for(node_count: int, max_rate: float) -> float:
    """Flushes per second for a graph: each flush sends every node, so big graphs flush less."""
    return min(max_rate, max(2.0, max_rate * 2000 / max(node_count, 1)))


def iter_steps(block: Mapping[str, Any]) -> Iterator[str]:
    """Node ids of a block JSON tree, in source order; iterative so deep trees cannot overflow."""
    stack = [block]
    while stack:
        current = stack.pop()
        kind = current.get("kind")
        if kind == "step":
            yield current["node"]
            continue
        if kind == "sequence":
            children = list(current["items"])
        elif kind == "parallel":
            children = list(current["members"])
        elif kind == "branch":
            children = [current["head"], *(arm["body"] for arm in current["arms"])]
        else:
            children = []
        stack.extend(reversed(children))


class Cancellable(Protocol):
    def cancel(self) -> None: ...


Scheduler = Callable[[float, Callable[[], None]], Cancellable]


def thread_timer(delay: float, callback: Callable[[], None]) -> Cancellable:
    """Default scheduler: a daemon timer, so a pending flush never blocks kernel shutdown."""
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


class Throttle:
    """Calls `flush` at most `max_rate` times a second, with a trailing call for the last changes.

    `poke()` says "something changed". The first poke after a quiet interval flushes at once; later
    ones inside the interval schedule one trailing flush. `poke(final=True)` flushes at once and
    drops any pending one (the run ended: show the exact final state now).
    """

    def __init__(
        self,
        flush: Callable[[], None],
        max_rate: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = thread_timer,
    ) -> None:
        self._flush = flush
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._last = -math.inf
        self._timer: Cancellable | None = None
        self._token = 0  # identifies the live timer; a cancelled timer that fires anyway is ignored
        self.interval = 0.0
        self.set_rate(max_rate)

    def set_rate(self, max_rate: float) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate!r}")
        self.interval = 1.0 / max_rate

    @property
    def pending(self) -> bool:
        """A trailing flush is scheduled."""
        return self._timer is not None

    def poke(self, final: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if not final and now - self._last < self.interval:
                if self._timer is None:
                    self._token += 1
                    token = self._token
                    delay = self._last + self.interval - now
                    self._timer = self._schedule(delay, lambda: self._on_timer(token))
                return
            self._drop_timer()
            self._last = now
        self._flush()

    def close(self) -> None:
        """Drop a pending flush (the widget is going away or shows another run)."""
        with self._lock:
            self._drop_timer()

    def _drop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._token += 1

    def _on_timer(self, token: int) -> None:
        with self._lock:
            if token != self._token:
                return
            self._timer = None
            self._last = self._clock()
        self._flush()


# --- static picture -------------------------------------------------------------------------
# The saved notebook keeps this HTML for viewers without a kernel (GitHub, nbviewer). Inline
# styles only, no script; timings appear only inside `.pointy-duration`, so notebook tests can
# sanitize them.

COLLAPSE_AT = 12  # a parallel group with more members is drawn as one box with counts
SNAPSHOT_NODE_LIMIT = 300  # beyond this many boxes the picture is a table of counts

# fill, border, text; the same palette as widget.css (light theme), readable on dark pages too.
STATE_COLOURS = {
    "pending": ("#eceff1", "#90a4ae", "#37474f"),
    "running": ("#bbdefb", "#1e88e5", "#0d47a1"),
    "retrying": ("#ffe0b2", "#fb8c00", "#8a4b00"),
    "succeeded": ("#c8e6c9", "#43a047", "#1b5e20"),
    "failed": ("#ffcdd2", "#e53935", "#8e0000"),
    "skipped": ("#f5f5f5", "#bdbdbd", "#9e9e9e"),
    "cancelled": ("#e0e0e0", "#616161", "#424242"),
}
_FONT = "font-family:var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif)"


class _TooBig(Exception):
    """Raised inside the renderer when the picture would exceed SNAPSHOT_NODE_LIMIT boxes."""


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


def summary_text(status: str, counts: Mapping[str, int]) -> str:
    """`failed: 4 succeeded, 1 failed, 1 skipped` (states with no node are left out)."""
    parts = [f"{count} {state}" for state, count in counts.items() if count]
    return f"{status}: {', '.join(parts)}" if parts else status


def arm_status(
    head: Mapping[str, Any], descriptor: int, body: Mapping[str, Any], nodes: Mapping[str, NodeView]
) -> str:
    """`taken`, `not-taken` or `open` (not decided yet) for one branch arm.

    Taken when the head chose this descriptor or a node of the arm started; not taken when every
    node of the arm was skipped or the head chose another descriptor.
    """
    states = [nodes.get(node_id, pending_view())["state"] for node_id in iter_steps(body)]
    if any(state not in ("pending", "skipped") for state in states):
        return "taken"
    chosen = nodes.get(head["node"], {}).get("descriptor") if head.get("kind") == "step" else None
    if chosen == descriptor:
        return "taken"
    if chosen is not None or (states and all(state == "skipped" for state in states)):
        return "not-taken"
    return "open"


class _Snapshot:
    def __init__(self, nodes: Mapping[str, NodeView]) -> None:
        self.nodes = nodes
        self.boxes = 0

    def block(self, block: Mapping[str, Any]) -> str:
        kind = block.get("kind")
        if kind == "step":
            return self.step(block["node"])
        if kind == "sequence":
            return self.sequence(block)
        if kind == "parallel":
            return self.parallel(block)
        if kind == "branch":
            return self.branch(block)
        return ""

    def step(self, node_id: str) -> str:
        self.boxes += 1
        if self.boxes > SNAPSHOT_NODE_LIMIT:
            raise _TooBig
        view = self.nodes.get(node_id, pending_view())
        state = view["state"]
        fill, border, text = STATE_COLOURS.get(state, STATE_COLOURS["pending"])
        extra = ";opacity:0.55;border-style:dashed" if state == "skipped" else ""
        attempts = view["attempts"]
        tries = f'<span class="pointy-attempts"> ×{attempts}</span>' if attempts > 1 else ""
        duration = view["duration"]
        timing = (
            f' <span class="pointy-duration" style="font-size:10px;opacity:0.8">'
            f"{format_duration(duration)}</span>"
            if duration is not None
            else ""
        )
        return (
            f'<div class="pointy-node" data-node="{_attr(node_id)}" data-state="{_attr(state)}" '
            f'title="{_attr(node_id)}: {_attr(state)}" style="background:{fill};'
            f"border:1.5px solid {border};color:{text};border-radius:6px;padding:3px 8px;"
            f'white-space:nowrap{extra}">{_text(node_id)}{tries}{timing}</div>'
        )

    def sequence(self, block: Mapping[str, Any]) -> str:
        parts: list[str] = []
        links = block.get("links", [])
        for index, item in enumerate(block["items"]):
            if index:
                link = links[index - 1] if index - 1 < len(links) else "then"
                parts.append(_link(link))
            parts.append(self.block(item))
        return (
            '<div class="pointy-sequence" style="display:flex;align-items:center;gap:4px">'
            + "".join(parts)
            + "</div>"
        )

    def parallel(self, block: Mapping[str, Any]) -> str:
        group = _attr(block.get("group", ""))
        frame = (
            "border-left:2px solid #90a4ae;border-right:2px solid #90a4ae;border-radius:6px;"
            "padding:2px 6px"
        )
        members = block["members"]
        if len(members) > COLLAPSE_AT:
            self.boxes += 1
            counts = dict.fromkeys(NODE_STATES, 0)
            for node_id in iter_steps(block):
                state = self.nodes.get(node_id, pending_view())["state"]
                counts[state] = counts.get(state, 0) + 1
            tally = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
            return (
                f'<div class="pointy-parallel pointy-collapsed" data-group="{group}" '
                f'style="{frame};background:#eceff1;color:#37474f">'
                f"{group}: {len(members)} in parallel<br>"
                f'<span style="font-size:10px">{_text(tally)}</span></div>'
            )
        inner = "".join(self.block(member) for member in members)
        return (
            f'<div class="pointy-parallel" data-group="{group}" style="display:flex;'
            f'flex-direction:column;align-items:flex-start;gap:4px;{frame}">{inner}</div>'
        )

    def branch(self, block: Mapping[str, Any]) -> str:
        head = block["head"]
        arms: list[str] = []
        for arm in block["arms"]:
            descriptor = arm["descriptor"]
            status = arm_status(head, descriptor, arm["body"], self.nodes)
            fade = ";opacity:0.45" if status == "not-taken" else ""
            mark = "|→" if arm.get("link") == "pipe" else "→"
            weight = "font-weight:bold;" if status == "taken" else ""
            arms.append(
                f'<div class="pointy-arm" data-descriptor="{descriptor}" data-arm="{status}" '
                f'style="display:flex;align-items:center;gap:4px{fade}">'
                f'<span class="pointy-descriptor" style="{weight}color:#546e7a">'
                f"{descriptor} {mark}</span>{self.block(arm['body'])}</div>"
            )
        return (
            '<div class="pointy-branch" style="display:flex;align-items:center;gap:6px">'
            f"{self.block(head)}"
            '<div style="display:flex;flex-direction:column;gap:4px;border-left:2px solid '
            f'#b0bec5;padding-left:6px">{"".join(arms)}</div></div>'
        )


def _link(link: str) -> str:
    mark = "|→" if link == "pipe" else "→"
    colour = "#6a1b9a" if link == "pipe" else "#78909c"
    return (
        f'<span class="pointy-link" data-link="{_attr(link)}" '
        f'style="color:{colour};font-weight:bold">{mark}</span>'
    )


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


_attr = _text


def render_snapshot(
    graph: Mapping[str, Any],
    nodes: Mapping[str, NodeView],
    status: str,
    run_id: str | None,
    message: str = "",
) -> str:
    """A static, script-free HTML picture of a run: the block tree as nested boxes."""
    counts = dict.fromkeys(NODE_STATES, 0)
    for view in nodes.values():
        counts[view["state"]] = counts.get(view["state"], 0) + 1
    run = f"<b>{_text(run_id)}</b> " if run_id else ""
    note = f" — {_text(message)}" if message else ""
    head = (
        f'<div class="pointy-status" data-status="{_attr(status)}" style="margin:2px 0 6px">'
        f"Pointy run {run}{_text(summary_text(status, counts))}{note}</div>"
    )
    root = graph.get("root")
    try:
        body = _Snapshot(nodes).block(root) if root else ""
    except (_TooBig, RecursionError):
        body = (
            f'<div class="pointy-too-big">{len(nodes)} nodes: too many to draw here; '
            "open the notebook with a kernel for the live graph.</div>"
        )
    return (
        f'<div class="pointy-snapshot" data-status="{_attr(status)}" style="{_FONT};'
        'font-size:12px;color:var(--jp-ui-font-color1,#222);padding:4px">'
        f'{head}<div style="overflow-x:auto;padding-bottom:4px">{body}</div></div>'
    )
