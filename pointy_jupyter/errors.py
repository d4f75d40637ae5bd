"""User mistakes in a `%%pointy` cell, shown as one short message instead of a traceback.

Line numbers count the lines of the cell as the notebook shows them: the `%%pointy` line is
line 1, so the first line of the pipeline is line 2. The caret points into the cell body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from pointy_engine.errors import (
    PointyCheckError,
    PointyError,
    PointySyntaxError,
    Problem,
    UnknownEventError,
    caret_excerpt,
)

if TYPE_CHECKING:
    from pointy_engine.graph import Graph

UNKNOWN_HINT = (
    "Names are looked up in the notebook: define each event above as a function, "
    "an @event function or an EventBase subclass."
)
MISSING_HINT = "Give inputs with --input NAME=EXPR, --inputs DICT_VAR or --pipeline CLASS."


class PointyCellError(UsageError):
    """A mistake in a `%%pointy` cell or a `%pointy` line: IPython shows the message alone."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


class RunCancelled(PointyCellError):
    """The kernel was interrupted while a blocking run went on; the run was cancelled."""

    def __init__(self) -> None:
        super().__init__("run cancelled")


def in_cell(source: str) -> str:
    """`source` as it sits in the cell: one line (the `%%pointy` line) above it."""
    return "\n" + source


def cell_message(error: PointyError, graph: Graph | None = None, shift: int = 1) -> str:
    """The message for an engine error about a pipeline written in the cell.

    `shift` is 1 for a pipeline in the cell body, 0 for one from elsewhere (a Pipeline class).
    `graph` locates events named by a `MissingArgumentError`.
    """
    pad = "\n" * shift
    if isinstance(error, PointySyntaxError):
        shifted = PointySyntaxError(
            error.problem, pad + error.source, error.offset + shift, error.expected, error.width
        )
        return f"syntax error: {shifted}"
    if isinstance(error, PointyCheckError):
        problems = [Problem(p.message, p.start + shift, p.end + shift) for p in error.problems]
        text = str(PointyCheckError(pad + error.source, problems))
        return f"{text}\n{UNKNOWN_HINT}" if isinstance(error, UnknownEventError) else text
    from pointy_engine.plan import MissingArgumentError  # the planner loads with the first cell

    if isinstance(error, MissingArgumentError) and graph is not None:
        return _missing_argument(str(error), graph, pad)
    return str(error)


def _missing_argument(message: str, graph: Graph, pad: str) -> str:
    """Point at the first occurrence of the first event the message names."""
    for node in graph.nodes:
        if f"event {node.name!r} needs " in message:
            start, end = node.span
            source = pad + graph.source
            offset = start + len(pad)
            line = source.count("\n", 0, offset) + 1
            column = offset - (source.rfind("\n", 0, offset) + 1) + 1
            excerpt = caret_excerpt(source, offset, end - start)
            return f"{message} at line {line}, column {column}\n{excerpt}\n{MISSING_HINT}"
    return f"{message}\n{MISSING_HINT}"


@contextmanager
def reported(graph: Graph | None = None, shift: int = 1) -> Iterator[None]:
    """Turn engine errors raised inside into `PointyCellError`s with cell line numbers."""
    try:
        yield
    except PointyError as error:
        raise PointyCellError(cell_message(error, graph, shift)) from None
