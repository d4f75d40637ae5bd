"""The static picture of a run that a saved notebook keeps, for viewers without a kernel.

GitHub and nbviewer show a widget's `text/html` fallback: this module renders it from the graph
JSON and per-node views, as nested boxes with inline styles and no script. Timings appear only
inside `.pointy-duration`, so notebook tests can sanitize them. Pure Python: no Jupyter import.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import Any

from pointy_engine.palette import STATE_COLOURS

from .widget_state import (
    NODE_STATES,
    NodeView,
    arm_words,
    attempts_text,
    pending_view,
    state_counts,
    summary_text,
)


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


COLLAPSE_AT = 12  # a parallel group with more members is drawn as one box with counts
SNAPSHOT_NODE_LIMIT = 300  # beyond this many boxes the picture is a table of counts

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
    def __init__(self, nodes: Mapping[str, NodeView], retries: Mapping[str, int]) -> None:
        self.nodes = nodes
        self.retries = retries  # node id -> most attempts written in the flow (`A * 3`)
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
        # A cache hit's duration (below) is what the event took when its value was computed.
        words = (
            "cached: from the cache, the duration is from when it ran"
            if state == "cached"
            else state
        )
        attempts = view["attempts"]
        tries = (
            f'<span class="pointy-attempts"> {attempts_text(attempts, self.retries.get(node_id))}'
            "</span>"
            if attempts > 1
            else ""
        )
        duration = view["duration"]
        timing = (
            f' <span class="pointy-duration" style="font-size:10px;opacity:0.8">'
            f"{format_duration(duration)}</span>"
            if duration is not None
            else ""
        )
        return (
            f'<div class="pointy-node" data-node="{_attr(node_id)}" data-state="{_attr(state)}" '
            f'title="{_attr(node_id)}: {_attr(words)}" style="background:{fill};'
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
                f"{len(members)} in parallel<br>"
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
            words = f"arm {descriptor} ({arm_words(descriptor)})"
            arms.append(
                f'<div class="pointy-arm" data-descriptor="{descriptor}" data-arm="{status}" '
                f'style="display:flex;align-items:center;gap:4px{fade}">'
                f'<span class="pointy-descriptor" title="{words}" style="{weight}color:#546e7a">'
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
    counts: Mapping[str, int] | None = None,
) -> str:
    """A static, script-free HTML picture of a run: the block tree as nested boxes.

    `counts` (nodes per state) saves a pass over `nodes` when the caller has them already.
    """
    if counts is None:
        counts = state_counts(view["state"] for view in nodes.values())
    note = f" — {_text(message)}" if message else ""
    if run_id:
        title = f"Pointy run <b>{_text(run_id)}</b> {_text(summary_text(status, counts))}"
    else:  # a graph with no run behind it: `%%pointy --plan`
        total = len(nodes)
        title = f"Pointy plan: {total} node{'' if total == 1 else 's'}, nothing runs"
    head = (
        f'<div class="pointy-status" data-status="{_attr(status)}" style="margin:2px 0 6px">'
        f"{title}{note}</div>"
    )
    root = graph.get("root")
    try:
        retries = {n["id"]: n["retry"] for n in graph.get("nodes", ()) if n.get("retry")}
        body = _Snapshot(nodes, retries).block(root) if root else ""
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
