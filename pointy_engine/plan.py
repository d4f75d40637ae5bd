"""A plan: a graph with every node bound to an event, its settings and its call arguments.

Everything a call needs (which callable, how to call it, which arguments, which executor, how
many attempts) is worked out here once, so the run loop does no lookups per call. Misuse is
reported here, before anything runs: unknown names (all at once, with suggestions) and
parameters that nothing provides.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from .errors import PointyError
from .events import EventBase, EventExecutionEvaluationState, EventSettings, FunctionEvent
from .executors import PARALLEL_FALLBACK, ExecutorChoice, Executors
from .graph import Block, Graph, Node, iter_nodes, iter_parallel_groups
from .invoke import CLASS, FUNCTION, PLAIN
from .language.check import unknown_event_error

PREVIOUS_RESULT = "previous_result"


class MissingArgumentError(PointyError):
    """Events whose parameters no input field or previous result provides.

    `missing` maps each such event name to its unprovided parameters; `spans` gives where the
    event first occurs in the pipeline text.
    """

    def __init__(
        self,
        message: str,
        missing: Mapping[str, tuple[str, ...]],
        spans: Mapping[str, tuple[int, int]],
    ) -> None:
        super().__init__(message)
        self.missing = dict(missing)
        self.spans = dict(spans)


@dataclass(frozen=True, slots=True)
class Task:
    """How to run one node."""

    node: Node
    target: Any
    style: int
    settings: EventSettings
    executor: ExecutorChoice
    kwargs: dict[str, Any]
    wants_previous: bool
    max_attempts: int


@dataclass(frozen=True, slots=True)
class _Binding:
    target: Any
    style: int
    settings: EventSettings
    field_names: tuple[str, ...] | None  # None: takes every field (**kwargs)
    wants_previous: bool


def event_kind(value: Any) -> str | None:
    """'class', 'function', 'plain', or None when `value` cannot be an event."""
    if isinstance(value, type):
        return "class" if issubclass(value, EventBase) else None
    if isinstance(value, FunctionEvent):
        return "function"
    if callable(value):
        return "plain"
    return None


def _bind(name: str, value: Any, fields: Mapping[str, Any]) -> tuple[_Binding | None, list[str]]:
    kind = event_kind(value)
    if kind == "class":
        target, style, settings = value, CLASS, value.settings()
        function = value.process
        skip_first = True
    elif kind == "function":
        target, style, settings = value.function, FUNCTION, value.event_settings
        function, skip_first = value.function, False
    else:
        target, style, settings = value, PLAIN, EventSettings()
        function, skip_first = value, False
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return _Binding(target, style, settings, (), False), []
    if skip_first and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    names: list[str] = []
    missing: list[str] = []
    wants_previous = False
    takes_all = False
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_all = True
            continue
        if parameter.name == PREVIOUS_RESULT:
            wants_previous = True
        elif parameter.name in fields and parameter.kind is not parameter.POSITIONAL_ONLY:
            names.append(parameter.name)
        elif parameter.default is parameter.empty:
            missing.append(parameter.name)
    field_names = None if takes_all else tuple(names)
    return _Binding(target, style, settings, field_names, wants_previous or takes_all), missing


class Plan:
    """A graph bound to events. Immutable; a run executes it and a re-run may reuse it."""

    def __init__(
        self,
        graph: Graph,
        events: Mapping[str, Any],
        fields: Mapping[str, Any] | None = None,
        executors: Executors | None = None,
        executor_override: Any = None,
    ) -> None:
        self.graph = graph
        self.fields = dict(fields or {})
        self.executors = executors if executors is not None else Executors()
        self.events = {node.name: events.get(node.name) for node in graph.nodes}
        unknown = [node for node in graph.nodes if event_kind(self.events[node.name]) is None]
        if unknown:
            known = [name for name, value in events.items() if event_kind(value) is not None]
            raise unknown_event_error(
                graph.source,
                [(n.name, n.span) for n in unknown],
                known,
                _not_events(unknown, events),
            )
        bindings: dict[str, _Binding] = {}
        unprovided: dict[str, tuple[str, ...]] = {}
        for name, value in self.events.items():
            binding, missing = _bind(name, value, self.fields)
            bindings[name] = binding
            if missing:
                unprovided[name] = tuple(missing)
        if unprovided:
            problems = [
                f"event {name!r} needs " + " and ".join(f"{p!r}" for p in params)
                for name, params in unprovided.items()
            ]
            available = ", ".join(sorted(self.fields)) or "none"
            spans: dict[str, tuple[int, int]] = {}
            for node in graph.nodes:
                spans.setdefault(node.name, node.span)
            raise MissingArgumentError(
                "; ".join(problems)
                + f", which no input field or previous result provides (input fields: {available})",
                unprovided,
                {name: spans[name] for name in unprovided},
            )
        choices: dict[tuple[str, bool], ExecutorChoice] = {}
        # Equal choices become one object, so a run can cache its pools by identity.
        canonical: dict[ExecutorChoice, ExecutorChoice] = {}
        self.tasks: dict[str, Task] = {}
        parallel_nodes = _nodes_in_parallel(graph.root)
        for node in graph.nodes:
            binding = bindings[node.name]
            settings = binding.settings
            in_parallel = node.id in parallel_nodes
            key = (node.name, in_parallel)
            choice = choices.get(key)
            if choice is None:
                executor = settings.executor if executor_override is None else executor_override
                choice = self.executors.choose(executor, settings.executor_config, node.name)
                if choice.inline and (in_parallel or settings.timeout is not None):
                    # Members must overlap whatever they asked for; and a timeout can only be
                    # kept by not running the event on the loop's own thread.
                    choice = PARALLEL_FALLBACK
                choice = canonical.setdefault(choice, choice)
                choices[key] = choice
            if binding.field_names is None:
                kwargs = dict(self.fields)
            else:
                kwargs = {name: self.fields[name] for name in binding.field_names}
            attempts = node.retry if node.retry is not None else settings.retry_policy.max_attempts
            self.tasks[node.id] = Task(
                node,
                binding.target,
                binding.style,
                settings,
                choice,
                kwargs,
                binding.wants_previous,
                attempts,
            )
        self.group_states = _group_states(graph.root, self.tasks)

    def with_executors(self, executors: Executors) -> Plan:
        """The same plan on other executors (a re-run of a run that shut its own down)."""
        plan = copy.copy(self)
        plan.executors = executors
        return plan


def _not_events(nodes: list[Node], events: Mapping[str, Any]) -> dict[str, str]:
    """For names bound to something that is not an event: what it is instead."""
    kinds = {}
    for node in nodes:
        value = events.get(node.name)
        if value is not None or node.name in events:
            kinds[node.name] = type(value).__name__
    return kinds


def _nodes_in_parallel(root: Block) -> set[str]:
    inside: set[str] = set()
    for group in iter_parallel_groups(root):
        inside.update(node.id for node in iter_nodes(group))
    return inside


def _group_states(root: Block, tasks: dict[str, Task]) -> dict[str, EventExecutionEvaluationState]:
    """A group is judged by the first member event that sets a non-default evaluation state."""
    default = EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS
    states: dict[str, EventExecutionEvaluationState] = {}
    for group in iter_parallel_groups(root):
        states[group.group] = next(
            (
                state
                for node in iter_nodes(group)
                if (state := tasks[node.id].settings.execution_evaluation_state) is not default
            ),
            default,
        )
    return states


KIND_LABELS = {"class": "EventBase class", "function": "@event function", "plain": "function"}


def qualified_name(value: Any) -> str:
    """`score` for a function defined in a script or notebook, `module.name` for an imported one."""
    target = getattr(value, "function", value)  # an @event function wraps the real one
    name = getattr(target, "__qualname__", None) or type(target).__name__
    module = getattr(target, "__module__", None)
    return name if module in (None, "__main__", "builtins") else f"{module}.{name}"


def executor_label(choice: ExecutorChoice, instance_label: str | None = None) -> str:
    """How a choice reads in a table: `thread`, `process, 4 workers`, `thread (parallel group)`."""
    if choice is PARALLEL_FALLBACK:
        return "thread (parallel group)"
    kind = choice.kind
    if isinstance(kind, Executor):
        return instance_label or type(kind).__name__
    name = kind if isinstance(kind, str) else kind.__name__
    workers = choice.config.max_workers
    return f"{name}, {workers} workers" if workers else name


def describe(plan: Plan, instance_label: str | None = None) -> list[dict[str, Any]]:
    """One row per node, in source order: what would run, where, and how many times at most.

    `instance_label` names an executor given as an instance (its type name otherwise).
    """
    rows = []
    for node in plan.graph.nodes:
        task = plan.tasks[node.id]
        value = plan.events[node.name]
        rows.append(
            {
                "node": node.id,
                "event": qualified_name(value),
                "kind": KIND_LABELS[event_kind(value) or "plain"],
                "executor": executor_label(task.executor, instance_label),
                "max attempts": task.max_attempts,
            }
        )
    return rows
