"""The lowered pipeline: event occurrences with stable ids, and the block tree the engine runs.

`lower()` turns a checked syntax tree into a `Graph`. Blocks are plain immutable tuples so that
lowering a 100,000-event chain stays cheap; a leaf block is the `Node` itself. Edges for drawing
are derived on demand from the blocks (see docs/design.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from functools import cached_property
from typing import Any, NamedTuple, TypeAlias

from .language import ast


class Node(NamedTuple):
    """One event occurrence. `id` is `name`, then `name#2`, `name#3` for later occurrences."""

    id: str
    name: str
    retry: int | None
    span: tuple[int, int]


class Sequence(NamedTuple):
    """`items` run one after another; `links[i]` ("then" or "pipe") joins item i to item i + 1."""

    items: tuple[Block, ...]
    links: tuple[str, ...]


class Parallel(NamedTuple):
    """A parallel group with its own id (`g1`, `g2`, ...)."""

    group: str
    members: tuple[Block, ...]


class Arm(NamedTuple):
    descriptor: int
    link: str
    body: Block


class Branch(NamedTuple):
    """`head`, then the one arm its outcome selects. What follows in the sequence is the sink."""

    head: Block
    arms: tuple[Arm, ...]


Block: TypeAlias = "Node | Sequence | Parallel | Branch"


class Edge(NamedTuple):
    source: str
    target: str
    kind: str  # then, pipe, arm, sink
    descriptor: int | None = None


class Graph:
    """What the engine runs and the widget draws. Immutable once built."""

    __slots__ = ("__dict__", "nodes", "root", "source")

    def __init__(self, nodes: tuple[Node, ...], root: Block, source: str = "") -> None:
        self.nodes = nodes
        self.root = root
        self.source = source

    def __repr__(self) -> str:
        return f"<Graph of {len(self.nodes)} nodes>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self.nodes == other.nodes and self.root == other.root

    __hash__ = None  # type: ignore[assignment]

    @cached_property
    def node_by_id(self) -> dict[str, Node]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def edges(self) -> tuple[Edge, ...]:
        edges: list[Edge] = []
        _entries_exits(self.root, edges)
        return tuple(edges)

    def to_json(self) -> dict[str, Any]:
        """Plain data: nodes, the block tree and the edges (docs/design.md)."""
        return {
            "version": 1,
            "nodes": [
                {"id": n.id, "name": n.name, "retry": n.retry, "span": list(n.span)}
                for n in self.nodes
            ],
            "root": block_to_json(self.root),
            "edges": [
                {"source": e.source, "target": e.target, "kind": e.kind, "descriptor": e.descriptor}
                for e in self.edges
            ],
        }


def block_to_json(block: Block) -> dict[str, Any]:
    if type(block) is Node:
        return {"kind": "step", "node": block.id}
    if type(block) is Sequence:
        return {
            "kind": "sequence",
            "items": [block_to_json(item) for item in block.items],
            "links": list(block.links),
        }
    if type(block) is Parallel:
        return {
            "kind": "parallel",
            "group": block.group,
            "members": [block_to_json(member) for member in block.members],
        }
    return {
        "kind": "branch",
        "head": block_to_json(block.head),
        "arms": [
            {"descriptor": arm.descriptor, "link": arm.link, "body": block_to_json(arm.body)}
            for arm in block.arms
        ],
    }


def iter_nodes(block: Block) -> Iterator[Node]:
    """The nodes of a block, in source order."""
    if type(block) is Node:
        yield block
    elif type(block) is Sequence:
        for item in block.items:
            yield from iter_nodes(item)
    elif type(block) is Parallel:
        for member in block.members:
            yield from iter_nodes(member)
    else:
        yield from iter_nodes(block.head)
        for arm in block.arms:
            yield from iter_nodes(arm.body)


def iter_blocks(root: Block) -> Iterator[Block]:
    """Every block of a tree, each before the blocks inside it."""
    stack = [root]
    while stack:
        block = stack.pop()
        yield block
        kind = type(block)
        if kind is Parallel:
            stack.extend(block.members)
        elif kind is Sequence:
            stack.extend(block.items)
        elif kind is Branch:
            stack.append(block.head)
            stack.extend(arm.body for arm in block.arms)


def iter_parallel_groups(root: Block) -> Iterator[Parallel]:
    """Every parallel group of a block tree, outer groups before the groups inside them."""
    return (block for block in iter_blocks(root) if type(block) is Parallel)


def iter_sequences(root: Block) -> Iterator[Sequence]:
    """Every sequence of a block tree (in no particular order)."""
    return (block for block in iter_blocks(root) if type(block) is Sequence)


def node_edges(graph: Graph) -> list[Edge]:
    """Edges between nodes only: a parallel group is replaced by its members' end points."""
    edges: list[Edge] = []
    _entries_exits(graph.root, edges, groups_as_points=False)
    return edges


def _entries_exits(
    block: Block, edges: list[Edge], groups_as_points: bool = True
) -> tuple[list[str], list[str]]:
    """Add the edges inside `block`; return the end points that enter and leave it."""
    if type(block) is Node:
        return [block.id], [block.id]
    if type(block) is Parallel:
        entries: list[str] = []
        exits: list[str] = []
        for member in block.members:
            member_entries, member_exits = _entries_exits(member, edges, groups_as_points)
            entries.extend(member_entries)
            exits.extend(member_exits)
        if groups_as_points:
            return [block.group], [block.group]
        return entries, exits
    if type(block) is Branch:
        entries, head_exits = _entries_exits(block.head, edges, groups_as_points)
        exits = []
        for arm in block.arms:
            arm_entries, arm_exits = _entries_exits(arm.body, edges, groups_as_points)
            for source in head_exits:
                for target in arm_entries:
                    edges.append(Edge(source, target, "arm", arm.descriptor))
            exits.extend(arm_exits)
        if {arm.descriptor for arm in block.arms} < {0, 1} or not block.arms:
            exits.extend(head_exits)  # an outcome with no arm goes straight on to the sink
        return entries, exits
    entries, exits = _entries_exits(block.items[0], edges, groups_as_points)
    previous = block.items[0]
    for link, item in zip(block.links, block.items[1:]):
        item_entries, item_exits = _entries_exits(item, edges, groups_as_points)
        kind = "sink" if type(previous) is Branch else link
        for source in exits:
            for target in item_entries:
                edges.append(Edge(source, target, kind))
        exits, previous = item_exits, item
    return entries, exits


class _Lowering:
    """One lowering pass: numbers occurrences and groups as it meets them, in source order."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.seen: dict[str, int] = {}
        self.groups = 0

    def flow(self, flow: ast.Flow, retry: int | None) -> Block:
        steps = flow.steps
        if len(steps) == 1:
            return self.step(steps[0], retry)
        items = self.blocks(steps, retry)
        if not any(type(block) is Sequence for block in items):
            return Sequence(tuple(items), flow.links)
        # A parenthesised sequence joins its parent's, links and all.
        spliced: list[Block] = []
        links: list[str] = []
        for index, block in enumerate(items):
            if index:
                links.append(flow.links[index - 1])
            if type(block) is Sequence:
                spliced.extend(block.items)
                links.extend(block.links)
            else:
                spliced.append(block)
        return Sequence(tuple(spliced), tuple(links))

    def blocks(self, steps: tuple[ast.Step, ...], retry: int | None) -> list[Block]:
        """The blocks of consecutive steps. Plain event names, by far the commonest step,
        are lowered right here: this loop is what a 100,000-event chain or fan-out costs."""
        seen, nodes, step = self.seen, self.nodes, self.step
        blocks: list[Block] = []
        for item in steps:
            if type(item) is ast.EventRef:
                name = item.name
                count = seen.get(name, 0) + 1
                seen[name] = count
                node = Node(name if count == 1 else f"{name}#{count}", name, retry, item.span)
                nodes.append(node)
                blocks.append(node)
            else:
                blocks.append(step(item, retry))
        return blocks

    def step(self, step: ast.Step, retry: int | None) -> Block:
        kind = type(step)
        if kind is ast.EventRef:
            return self.blocks((step,), retry)[0]
        if kind is ast.Parallel:
            self.groups += 1
            group = f"g{self.groups}"
            return Parallel(group, tuple(self.blocks(step.members, retry)))
        if kind is ast.Retry:
            # The nearest factor wins. On a group it reaches every event inside; on a branched
            # event only the event itself, its arms keep what they inherited.
            target = step.target
            if type(target) is ast.Branched:
                return self.branch(target, step.factor, retry)
            return self.step(target, step.factor)
        if kind is ast.Group:
            return self.flow(step.body, retry)
        if kind is ast.Branched:
            return self.branch(step, retry, retry)
        raise TypeError(f"cannot lower {kind.__name__}; run check() first")

    def branch(self, step: ast.Branched, head_retry: int | None, arm_retry: int | None) -> Branch:
        head = self.step(step.target, head_retry)
        arms = tuple(Arm(a.descriptor, a.link, self.flow(a.body, arm_retry)) for a in step.arms)
        return Branch(head, arms)


def lower(tree: ast.Pipeline, source: str = "") -> Graph:
    """The graph of a checked syntax tree."""
    lowering = _Lowering()
    root = lowering.flow(tree.flow, None)
    return Graph(tuple(lowering.nodes), root, source)


def build_graph(source: str, known_events: Collection[str] | None = None) -> Graph:
    """Parse, check and lower Pointy text; with `known_events`, also check every name."""
    from .language import check, check_names, parse

    tree = parse(source)
    check(tree, source)
    if known_events is not None:
        check_names(tree, source, known_events)
    return lower(tree, source)
