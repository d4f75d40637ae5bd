"""Which nodes a re-run keeps: everything re-runs, only what failed, or from a node onwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PointyError
from ..graph import Graph, node_edges
from .states import CACHED, SUCCEEDED, RerunMode

GOOD = frozenset({SUCCEEDED, CACHED})  # a re-run keeps these values

if TYPE_CHECKING:
    from .run import NodeResult


def kept_results(
    nodes: dict[str, NodeResult],
    graph: Graph,
    mode: RerunMode,
    node: str | None,
    new_graph: Graph,
    stale: set[str] | frozenset[str] = frozenset(),
) -> dict[str, NodeResult]:
    """The results of `nodes` (a run of `graph`) that a re-run on `new_graph` reuses as they are."""
    if mode == "all":
        reuse: dict[str, NodeResult] = {}
    elif mode == "failed":
        reuse = {k: r for k, r in nodes.items() if r.state in GOOD}
    elif mode == "from":
        if node not in nodes:
            raise PointyError(f"no node {node!r} in this run; nodes: {', '.join(nodes)}")
        again = downstream(graph, node)
        reuse = {k: r for k, r in nodes.items() if r.state in GOOD and k not in again}
    elif mode == "stale":
        # Stale already includes what is downstream of a redefined event (Run.mark_stale).
        reuse = {k: r for k, r in nodes.items() if r.state in GOOD and k not in stale}
    else:
        raise PointyError(f"re-run mode is 'all', 'failed', 'from' or 'stale', not {mode!r}")
    if new_graph != graph:
        reuse = {k: r for k, r in reuse.items() if k in new_graph.node_by_id}
    return reuse


def downstream(graph: Graph, start: str) -> set[str]:
    """`start` and every node reachable from it."""
    following: dict[str, list[str]] = {}
    for edge in node_edges(graph):
        following.setdefault(edge.source, []).append(edge.target)
    seen = {start}
    stack = [start]
    while stack:
        for target in following.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
