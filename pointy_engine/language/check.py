"""Semantic checks on a parsed pipeline. Every problem is collected, then raised once."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping

from ..errors import PointyCheckError, Problem, UnknownEventError
from . import ast

MIN_RETRY_FACTOR = 2
MAX_RETRY_FACTOR = 1000
MAX_DESCRIPTOR = 9
KNOWN_DIRECTIVES = ("recursive-depth",)


def check(tree: ast.Pipeline, source: str) -> None:
    """Raise `PointyCheckError` listing every semantic problem of `tree`, in source order."""
    problems = list(_directive_problems(tree.directives))
    problems.extend(_flow_problems(tree.flow))
    if problems:
        problems.sort(key=lambda problem: problem.start)
        raise PointyCheckError(source, problems)


def event_refs(tree: ast.Pipeline) -> Iterator[ast.EventRef]:
    """Every event occurrence, in source order."""
    yield from _refs(tree.flow)


def check_names(tree: ast.Pipeline, source: str, known: Collection[str]) -> None:
    """Raise `UnknownEventError` naming every event of `tree` not in `known`, with suggestions."""
    known_set = set(known)
    unknown = [(ref.name, ref.span) for ref in event_refs(tree) if ref.name not in known_set]
    if unknown:
        raise unknown_event_error(source, unknown, known_set)


def unknown_event_error(
    source: str,
    occurrences: Iterable[tuple[str, tuple[int, int]]],
    known: Collection[str],
    not_events: Mapping[str, str] | None = None,
) -> UnknownEventError:
    """One error for every unknown occurrence, in order, each with close-match suggestions.

    `not_events` maps names that exist but are not events to what they are instead.
    """
    suggest = _Suggestions(known)
    problems: list[Problem] = []
    names: dict[str, None] = {}  # distinct, in order of first use
    for name, (start, end) in occurrences:
        names.setdefault(name)
        if not_events and name in not_events:
            message = (
                f"{name!r} is a value of type {not_events[name]}, not an event "
                "(a function or EventBase class)"
            )
        else:
            message = f"unknown event {name!r}"
            close = suggest(name)
            if close:
                message += " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
        problems.append(Problem(message, start, end))
    return UnknownEventError(source, problems, list(names))


SUGGESTED_NAMES = 20
"""Distinct unknown names that get close-match suggestions; later ones get none."""
CANDIDATES_PER_NAME = 500
"""Known names compared with one unknown name, nearest in length first."""


class _Suggestions:
    """Close matches for unknown names at a bounded cost.

    difflib compares a name with every candidate (~20 µs each): a 10,000-name pipeline against
    a 10,000-name namespace was 10^8 comparisons. Here each distinct name is looked at once, at
    most `SUGGESTED_NAMES` names get suggestions, and each is compared with at most
    `CANDIDATES_PER_NAME` candidates of similar length (a close match has one).
    """

    def __init__(self, known: Collection[str]) -> None:
        self._by_length: dict[int, list[str]] = {}
        self._lowered: dict[str, str] = {}
        for name in sorted(set(known)):
            self._by_length.setdefault(len(name), []).append(name)
            self._lowered.setdefault(name.lower(), name)
        self._done: dict[str, list[str]] = {}

    def __call__(self, name: str) -> list[str]:
        found = self._done.get(name)
        if found is not None:
            return found
        if len(self._done) >= SUGGESTED_NAMES:
            return []
        close = difflib.get_close_matches(name, self._nearby(len(name)), n=3, cutoff=0.6)
        if not close and name.lower() in self._lowered:
            close = [self._lowered[name.lower()]]
        self._done[name] = close
        return close

    def _nearby(self, length: int) -> list[str]:
        """Candidates by closeness of length: a ratio >= 0.6 needs lengths within 4:1."""
        pool: list[str] = []
        for spread in range(3 * length + 1):
            for size in {length - spread, length + spread}:
                pool.extend(self._by_length.get(size, ()))
            if len(pool) >= CANDIDATES_PER_NAME:
                return pool[:CANDIDATES_PER_NAME]
        return pool


def _refs(flow: ast.Flow) -> Iterator[ast.EventRef]:
    for step in flow.steps:
        yield from _step_refs(step)


def _step_refs(step: ast.Step) -> Iterator[ast.EventRef]:
    if isinstance(step, ast.EventRef):
        yield step
    elif isinstance(step, ast.Parallel):
        for member in step.members:
            yield from _step_refs(member)
    elif isinstance(step, ast.Retry):
        yield from _step_refs(step.target)
    elif isinstance(step, ast.Group):
        yield from _refs(step.body)
    elif isinstance(step, ast.Branched):
        yield from _step_refs(step.target)
        for arm in step.arms:
            yield from _refs(arm.body)
    elif isinstance(step, ast.Arm):
        yield from _refs(step.body)


def _directive_problems(directives: tuple[ast.Directive, ...]) -> Iterator[Problem]:
    for directive in directives:
        start, end = directive.span
        if directive.name not in KNOWN_DIRECTIVES:
            known = ", ".join(f"@{name}" for name in KNOWN_DIRECTIVES)
            yield Problem(
                f"unknown directive '@{directive.name}'; the known directive is {known}", start, end
            )
        elif directive.value is None or not directive.value.isdigit():
            yield Problem(
                f"directive '@{directive.name}' takes a whole number, as in '@{directive.name}:50'",
                start,
                end,
            )


def _flow_problems(flow: ast.Flow) -> Iterator[Problem]:
    for step in flow.steps:
        yield from _step_problems(step)


def _step_problems(step: ast.Step) -> Iterator[Problem]:
    if isinstance(step, ast.Parallel):
        for member in step.members:
            yield from _step_problems(member)
    elif isinstance(step, ast.Retry):
        start, end = step.span
        if isinstance(step.target, ast.Retry):
            yield Problem("a step has two retry factors; give one", start, end)
        if not MIN_RETRY_FACTOR <= step.factor <= MAX_RETRY_FACTOR:
            yield Problem(
                f"retry factor {step.factor} is out of range "
                f"{MIN_RETRY_FACTOR}..{MAX_RETRY_FACTOR}",
                start,
                end,
            )
        yield from _step_problems(step.target)
    elif isinstance(step, ast.Group):
        yield from _flow_problems(step.body)
    elif isinstance(step, ast.Branched):
        yield from _step_problems(step.target)
        seen: set[int] = set()
        for arm in step.arms:
            start = arm.span[0]
            end = start + len(str(arm.descriptor))
            if arm.descriptor > MAX_DESCRIPTOR:
                yield Problem(
                    f"descriptor {arm.descriptor} is out of range 0..{MAX_DESCRIPTOR}", start, end
                )
            elif arm.descriptor in seen:
                yield Problem(
                    f"descriptor {arm.descriptor} appears twice in one branch group", start, end
                )
            seen.add(arm.descriptor)
            yield from _flow_problems(arm.body)
    elif isinstance(step, ast.Arm):
        start = step.span[0]
        yield Problem(
            f"descriptor {step.descriptor} is outside a branch group; arms go in parentheses "
            "right after an event, as in 'A (0 -> B, 1 -> C)'",
            start,
            start + len(str(step.descriptor)),
        )
        yield from _flow_problems(step.body)
