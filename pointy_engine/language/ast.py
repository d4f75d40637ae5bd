"""The Pointy syntax tree: frozen, slotted dataclasses.

Every node carries its `span` (start and end offsets in the source) but spans never take part in
equality, so two texts that differ only in layout or comments give equal trees. Logic lives in the
passes (check, unparse, lower), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Link: TypeAlias = Literal["then", "pipe"]
"""How two steps of a flow are joined: `->` (then) or `|->` (pipe the result)."""

Span: TypeAlias = tuple[int, int]
_NO_SPAN: Span = (0, 0)


def _span() -> Span:
    return field(default=_NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EventRef:
    """One occurrence of an event name."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Group:
    """A parenthesised flow: `(B -> C || D)`."""

    body: Flow
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Arm:
    """`descriptor -> body` inside branch arms. Outside them it is a (checked) mistake."""

    descriptor: int
    link: Link
    body: Flow
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Branched:
    """An event or group followed by its arms: `A (0 -> B, 1 -> C)`."""

    target: EventRef | Group
    arms: tuple[Arm, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Retry:
    """`target * factor` or `factor * target`: at most `factor` attempts."""

    target: Atom
    factor: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Parallel:
    """`A || B || C`: two or more members run concurrently."""

    members: tuple[Unit, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Flow:
    """Steps joined left to right; `links[i]` joins `steps[i]` and `steps[i + 1]`."""

    steps: tuple[Step, ...]
    links: tuple[Link, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Directive:
    """A legacy `@name:value` directive such as `@recursive-depth:50`."""

    name: str
    value: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A whole Pointy text."""

    flow: Flow
    directives: tuple[Directive, ...] = ()
    span: Span = _span()


Atom: TypeAlias = "EventRef | Group | Branched | Retry"
Unit: TypeAlias = "EventRef | Group | Branched | Retry"
Step: TypeAlias = "Unit | Parallel | Arm"
