"""Canonical Pointy text for a syntax tree: `parse(unparse(tree)) == tree` for any parsed tree."""

from __future__ import annotations

from . import ast

_LINK_TEXT = {"then": " -> ", "pipe": " |-> "}


def unparse(tree: ast.Pipeline) -> str:
    """One line of flow, after one line per directive."""
    lines = [f"@{d.name}" + (f":{d.value}" if d.value is not None else "") for d in tree.directives]
    lines.append(_flow(tree.flow))
    return "\n".join(lines)


def _flow(flow: ast.Flow) -> str:
    parts = [_step(flow.steps[0])]
    for link, step in zip(flow.links, flow.steps[1:]):
        parts.append(_LINK_TEXT[link])
        parts.append(_step(step))
    return "".join(parts)


def _step(step: ast.Step) -> str:
    if isinstance(step, ast.EventRef):
        return step.name
    if isinstance(step, ast.Parallel):
        return " || ".join(_step(member) for member in step.members)
    if isinstance(step, ast.Arm):
        return f"{step.descriptor}{_LINK_TEXT[step.link]}{_flow(step.body)}"
    if isinstance(step, ast.Group):
        return f"({_flow(step.body)})"
    if isinstance(step, ast.Branched):
        arms = ", ".join(_step(arm) for arm in step.arms)
        return f"{_step(step.target)} ({arms})"
    if isinstance(step, ast.Retry):
        # The prefix form keeps a doubled factor (`3 * A * 2`) the tree it came from.
        if isinstance(step.target, ast.Retry):
            return f"{step.factor} * {_step(step.target)}"
        return f"{_step(step.target)} * {step.factor}"
    raise TypeError(f"not a Pointy syntax node: {step!r}")
