"""Pictures of a graph: deterministic ASCII text, Graphviz DOT source, and rendered images."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import PointyError
from .graph import Block, Branch, Graph, Node, Parallel, node_edges

_LINK_ARROWS = {"then": "-> ", "pipe": "|-> "}


def ascii_graph(graph: Graph) -> str:
    """The graph as indented ASCII text: one step a line, arrows for links, trees for groups.

    `A -> B || C |-> D (0 -> E, 1 -> F) -> G * 3` draws as::

        A
        -> parallel g1
           +-- B
           `-- C
        |-> D
            +-[0]-> E
            `-[1]-> F
        -> G * 3  (sink)
    """
    return "\n".join(_lines(graph.root))


def _label(node: Node) -> str:
    return node.id if node.retry is None else f"{node.id} * {node.retry}"


def _lines(block: Block) -> list[str]:
    kind = type(block)
    if kind is Node:
        return [_label(block)]
    if kind is Parallel:
        lines = [f"parallel {block.group}"]
        lines.extend(_tree([("", member) for member in block.members]))
        return lines
    if kind is Branch:
        lines = _lines(block.head)
        arms = [(f"[{arm.descriptor}]{_LINK_ARROWS[arm.link]}", arm.body) for arm in block.arms]
        lines.extend(_tree(arms, joints=("+-", "`-")))
        return lines
    lines = _lines(block.items[0])
    previous = block.items[0]
    for link, item in zip(block.links, block.items[1:]):
        arrow = _LINK_ARROWS[link]
        item_lines = _lines(item)
        first = arrow + item_lines[0]
        if type(previous) is Branch:
            first += "  (sink)"
        lines.append(first)
        lines.extend(" " * len(arrow) + line for line in item_lines[1:])
        previous = item
    return lines


def _tree(
    children: list[tuple[str, Block]], joints: tuple[str, str] = ("+-- ", "`-- ")
) -> list[str]:
    """Children under their parent: `+-- ` for parallel members, `+-[d]-> ` for arms."""
    lines: list[str] = []
    last = len(children) - 1
    middle, final = joints
    for index, (prefix, child) in enumerate(children):
        child_lines = _lines(child)
        joint = final if index == last else middle
        branch, rest = joint, ("|" if index != last else " ").ljust(len(joint))
        pad = " " * len(prefix)
        lines.append(f"{branch}{prefix}{child_lines[0]}")
        lines.extend(f"{rest}{pad}{line}" for line in child_lines[1:])
    return lines


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_EDGE_STYLE = {
    "then": "",
    "pipe": ' [style=dashed, label="|->"]',
    "sink": " [style=dotted]",
}


def dot_source(graph: Graph, name: str = "pipeline") -> str:
    """Graphviz DOT text: boxes for events, a cluster per parallel group, labelled arms."""
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    _dot_block(graph.root, lines, "  ")
    for edge in node_edges(graph):
        source, target = _quote(edge.source), _quote(edge.target)
        if edge.kind == "arm":
            lines.append(f'  {source} -> {target} [label="{edge.descriptor}"];')
        else:
            lines.append(f"  {source} -> {target}{_EDGE_STYLE[edge.kind]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_block(block: Block, lines: list[str], indent: str) -> None:
    kind = type(block)
    if kind is Node:
        label = block.name if block.retry is None else f"{block.name} ×{block.retry}"
        lines.append(f"{indent}{_quote(block.id)} [label={_quote(label)}];")
    elif kind is Parallel:
        lines.append(f"{indent}subgraph {_quote('cluster_' + block.group)} {{")
        lines.append(f'{indent}  label="||"; style=dashed;')
        for member in block.members:
            _dot_block(member, lines, indent + "  ")
        lines.append(f"{indent}}}")
    elif kind is Branch:
        _dot_block(block.head, lines, indent)
        for arm in block.arms:
            _dot_block(arm.body, lines, indent)
    else:
        for item in block.items:
            _dot_block(item, lines, indent)


GRAPHVIZ_INSTALL_HINT = (
    "install Graphviz: 'sudo apt-get install graphviz' on Debian/Ubuntu, "
    "'brew install graphviz' on macOS, or 'conda install graphviz'"
)


def render_graphviz(
    graph: Graph,
    directory: str | Path = ".",
    format: str = "png",
    filename: str = "pipeline",
) -> Path:
    """Write the graph as an image with Graphviz's `dot`; return the image's path."""
    try:
        import graphviz
    except ImportError:
        raise PointyError(
            "drawing an image needs the 'graphviz' Python package: "
            "pip install 'pointy[graphviz]'; and " + GRAPHVIZ_INSTALL_HINT
        ) from None
    if shutil.which("dot") is None:
        raise PointyError(
            f"Graphviz's 'dot' program was not found on PATH; {GRAPHVIZ_INSTALL_HINT}"
        )
    source = graphviz.Source(dot_source(graph, filename), filename=filename, format=format)
    try:
        written = source.render(directory=str(directory), cleanup=True)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, ValueError) as error:
        raise PointyError(f"Graphviz could not draw the pipeline as {format!r}: {error}") from None
    return Path(written)
