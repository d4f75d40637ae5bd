"""The exception family of Pointy. Every error the package raises on purpose is a `PointyError`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PointyError(Exception):
    """Root of every error Pointy raises on purpose."""


def _line_and_column(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


EXCERPT_LIMIT = 120
"""Longer source lines are shown as a window around the offending text (a one-line
10,000-event chain would otherwise be printed whole for every problem)."""


def caret_excerpt(source: str, offset: int, width: int = 1) -> str:
    """The source line holding `offset`, with a caret line under the offending text."""
    start = source.rfind("\n", 0, offset) + 1
    end = source.find("\n", offset)
    if end == -1:
        end = len(source)
    text = source[start:end].replace("\t", " ").rstrip("\r")
    pad = offset - start
    if len(text) > EXCERPT_LIMIT:
        before = max(0, pad - EXCERPT_LIMIT // 2)
        after = min(len(text), pad + max(width, 1) + EXCERPT_LIMIT // 2)
        head = "..." if before else ""
        text = head + text[before:after] + ("..." if after < len(text) else "")
        pad = pad - before + len(head)
    width = max(1, min(width, len(text) - pad)) if pad < len(text) else 1
    return f"  {text}\n  {' ' * pad}{'^' * width}"


class PointySyntaxError(PointyError):
    """The source text is not Pointy. Line, column and caret are worked out from the offset.

    `expected` is what the grammar would have accepted at `offset`, as display strings.
    """

    def __init__(
        self,
        problem: str,
        source: str,
        offset: int,
        expected: Sequence[str] = (),
        width: int = 1,
    ) -> None:
        self.problem = problem
        self.source = source
        self.offset = offset
        self.expected = tuple(expected)
        self.width = width
        super().__init__(problem)

    @property
    def line(self) -> int:
        return _line_and_column(self.source, self.offset)[0]

    @property
    def column(self) -> int:
        return _line_and_column(self.source, self.offset)[1]

    @property
    def summary(self) -> str:
        """One line: the problem, what was expected, and where."""
        text = self.problem
        if self.expected:
            text += f"; expected {_one_of(self.expected)}"
        return f"{text} at line {self.line}, column {self.column}"

    def __str__(self) -> str:
        return f"{self.summary}\n{caret_excerpt(self.source, self.offset, self.width)}"


def _one_of(options: Sequence[str]) -> str:
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


@dataclass(frozen=True, slots=True)
class Problem:
    """One semantic problem found by a check pass, at [start, end) of the source."""

    message: str
    start: int
    end: int


class PointyCheckError(PointyError):
    """A pipeline that parses but means nothing runnable. Holds every problem found, in order.

    `pipeline` names the `Pipeline` class whose flow it is, when there is one.
    """

    pipeline: str | None = None

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self.problems[0].message if self.problems else "")

    def located(self) -> list[tuple[str, int, int]]:
        """(message, line, column) for each problem."""
        return [(p.message, *_line_and_column(self.source, p.start)) for p in self.problems]

    def __str__(self) -> str:
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        where = f"pipeline {self.pipeline}" if self.pipeline else "the pipeline"
        parts = [f"{head} in {where}:"]
        for problem in self.problems[:SHOWN_PROBLEMS]:
            line, column = _line_and_column(self.source, problem.start)
            parts.append(f"{problem.message} at line {line}, column {column}")
            parts.append(caret_excerpt(self.source, problem.start, problem.end - problem.start))
        if count > SHOWN_PROBLEMS:
            parts.append(f"... and {count - SHOWN_PROBLEMS} more (all of them: error.located())")
        return "\n".join(parts)


SHOWN_PROBLEMS = 20
"""How many problems a check error prints; `problems` and `located()` keep every one."""


class UnknownEventError(PointyCheckError):
    """Names in the pipeline that match no known event. Reported all at once, with suggestions."""

    def __init__(self, source: str, problems: Sequence[Problem], names: Sequence[str]) -> None:
        super().__init__(source, problems)
        self.names = tuple(names)


class PipelineFlowError(PointySyntaxError):
    """A `Pipeline` class's flow does not parse. Names the class, and a flow file in compiler
    form (`path:line:column: message`) so editors and terminals can jump to it."""

    def __init__(self, error: PointySyntaxError, pipeline: str, origin: str, path: str | None):
        super().__init__(error.problem, error.source, error.offset, error.expected, error.width)
        self.pipeline = pipeline
        self.origin = origin
        self.path = path

    def __str__(self) -> str:
        excerpt = caret_excerpt(self.source, self.offset, self.width)
        if self.problem == "empty pipeline":
            problem = f"the flow of pipeline {self.pipeline} ({self.origin}) is empty"
        else:
            problem = self.problem
        if self.expected:
            problem += f"; expected {_one_of(self.expected)}"
        if self.path is not None:
            return (
                f"{self.path}:{self.line}:{self.column}: {problem}\n{excerpt}\n"
                f"(the flow of pipeline {self.pipeline})"
            )
        if self.problem != "empty pipeline":
            problem = f"pipeline {self.pipeline} ({self.origin}): {problem}"
        return f"{problem} at line {self.line}, column {self.column}\n{excerpt}"


class AmbiguousEventError(PointyError):
    """A name the pipeline uses is defined in several modules and nothing says which is meant."""

    def __init__(self, pipeline: str, module: str, name: str, modules: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.name = name
        self.modules = tuple(modules)
        listed = _one_of([repr(m) for m in modules]).replace(" or ", " and ")
        super().__init__(
            f"pipeline {pipeline}: event {name!r} is defined in modules {listed}, and "
            f"{pipeline}'s module {module!r} defines none; pass events={{{name!r}: ...}} to "
            f"start(), or import the one you mean into {module!r}"
        )
