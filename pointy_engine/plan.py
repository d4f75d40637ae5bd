"""A plan: a graph with every node bound to an event, its settings and its call arguments.

Everything a call needs (which callable, how to call it, which arguments, which executor, how
many attempts) is worked out here once, so the run loop does no lookups per call. Misuse is
reported here, before anything runs: unknown names (all at once, with suggestions) and
parameters that nothing provides.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

from .errors import PointyError
from .events import (
    _SETTING_NAMES,
    EventBase,
    EventExecutionEvaluationState,
    EventSettings,
    FunctionEvent,
)
from .executors import PARALLEL_FALLBACK, ExecutorChoice, Executors
from .graph import (
    Block,
    Graph,
    Node,
    build_graph,
    iter_nodes,
    iter_parallel_groups,
    iter_sequences,
)
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


class _Analysis(NamedTuple):
    """What binding needs to know of one event callable, whatever the fields: worked out once."""

    target: Any
    style: int
    settings: EventSettings
    parameters: tuple[tuple[str, bool, bool], ...]  # (name, positional only, has a default)
    wants_previous: bool
    takes_all: bool  # a **kwargs parameter: it gets every field


def event_kind(value: Any) -> str | None:
    """'class', 'function', 'plain', or None when `value` cannot be an event."""
    if isinstance(value, type):
        return "class" if issubclass(value, EventBase) else None
    if isinstance(value, FunctionEvent):
        return "function"
    if callable(value):
        return "plain"
    return None


_class_state = attrgetter(*_SETTING_NAMES, "process")


def fingerprint(value: Any) -> tuple[Any, ...]:
    """What a binding of `value` depends on: equal fingerprints, same binding.

    A class event's settings are class attributes and may be reassigned (`Fetch.timeout = 5`);
    a function's parameters follow its code and defaults. All of it is read here, cheaply, so a
    cached binding is used only while none of it changed.
    """
    if isinstance(value, type):
        return _class_state(value)
    if isinstance(value, FunctionEvent):
        function = value.function
        return (value.event_settings, *_function_state(function))
    return _function_state(value)


def _function_state(function: Any) -> tuple[Any, ...]:
    code = getattr(function, "__code__", None)
    if code is None:  # a partial, a builtin, a callable instance: fixed once made
        return (function, type(function))
    return (function, code, function.__defaults__, function.__kwdefaults__)


def _analyse(value: Any) -> _Analysis:
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
        return _Analysis(target, style, settings, (), False, False)
    if skip_first and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    named: list[tuple[str, bool, bool]] = []
    wants_previous = takes_all = False
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_all = True
        elif parameter.name == PREVIOUS_RESULT:
            wants_previous = True
        else:
            named.append(
                (
                    parameter.name,
                    parameter.kind is parameter.POSITIONAL_ONLY,
                    parameter.default is not parameter.empty,
                )
            )
    return _Analysis(target, style, settings, tuple(named), wants_previous, takes_all)


def _fit(
    analysis: _Analysis, fields: Mapping[str, Any]
) -> tuple[tuple[str, ...] | None, list[str]]:
    """(the fields the event takes, None for all of them; the parameters nothing provides)."""
    names: list[str] = []
    missing: list[str] = []
    for name, positional_only, has_default in analysis.parameters:
        if name in fields and not positional_only:
            names.append(name)
        elif not has_default:
            missing.append(name)
    return (None if analysis.takes_all else tuple(names)), missing


class Bindings:
    """Binding analysis (signature, settings) per event callable, kept while it is unchanged.

    Keyed weakly by the callable, so a class a notebook redefined is forgotten with it; checked
    against the callable's fingerprint on every use, so a changed attribute is seen at once.
    """

    def __init__(self) -> None:
        self._known: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], _Analysis]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def analyse(self, value: Any, state: tuple[Any, ...]) -> _Analysis:
        """The analysis of `value`, whose `fingerprint` is `state`."""
        try:
            known = self._known.get(value)
        except TypeError:  # cannot be weakly referenced (a builtin): not cached
            return _analyse(value)
        if known is not None and _equal(known[0], state):
            return known[1]
        analysis = _analyse(value)
        with self._lock:
            self._known[value] = (state, analysis)
        return analysis


bindings = Bindings()
"""One for the process: a callable's binding does not depend on which pipeline uses it."""


class _Bound(NamedTuple):
    """A plan's bound tasks and what they were bound from: reused while all of it is the same."""

    graph: Graph
    events: dict[str, Any]
    states: dict[str, tuple[Any, ...]]
    fields: dict[str, Any]
    kinds: Any
    executor_override: Any
    tasks: dict[str, Task]
    group_states: dict[str, EventExecutionEvaluationState]
    followers: dict[str, tuple[Task, bool]]

    def fits(
        self,
        events: dict[str, Any],
        fields: dict[str, Any],
        kinds: Any,
        executor_override: Any,
    ) -> bool:
        if executor_override is not self.executor_override or kinds != self.kinds:
            return False
        if len(fields) != len(self.fields) or any(
            self.fields.get(name, _ABSENT) is not value for name, value in fields.items()
        ):
            return False
        states, known = self.states, self.events
        try:  # one try for all: a default whose == is not a bool (an array) counts as a change
            for name, value in events.items():
                if known[name] is not value or fingerprint(value) != states[name]:
                    return False
        except Exception:
            return False
        return True


def _equal(state: tuple[Any, ...], other: tuple[Any, ...]) -> bool:
    try:
        return bool(state == other)
    except Exception:  # a default whose == is not a bool (an array): call it a change
        return False


_ABSENT = object()


class _LastPlans:
    """The last binding of each recently planned graph (by identity), a bounded few."""

    LIMIT = 64

    def __init__(self) -> None:
        self._by_graph: dict[int, _Bound] = {}
        self._lock = threading.Lock()

    def get(self, graph: Graph) -> _Bound | None:
        bound = self._by_graph.get(id(graph))
        return bound if bound is not None and bound.graph is graph else None

    def put(self, bound: _Bound) -> None:
        with self._lock:
            self._by_graph.pop(id(bound.graph), None)
            if len(self._by_graph) >= self.LIMIT:
                del self._by_graph[next(iter(self._by_graph))]
            self._by_graph[id(bound.graph)] = bound


_last_plans = _LastPlans()


@functools.lru_cache(maxsize=256)
def graph_of(source: str) -> Graph:
    """`build_graph(source)`, once per flow text: graphs are immutable, so starts share them."""
    return build_graph(source)


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
        self.executor_override = executor_override
        kinds = self.executors.kinds
        last = _last_plans.get(graph)
        if last is not None and last.fits(self.events, self.fields, kinds, executor_override):
            # Nothing this binding depends on changed since the last start: reuse its tasks.
            self.tasks, self.group_states = last.tasks, last.group_states
            self.followers = last.followers
            return
        unknown = [node for node in graph.nodes if event_kind(self.events[node.name]) is None]
        if unknown:
            known = [name for name, value in events.items() if event_kind(value) is not None]
            raise unknown_event_error(
                graph.source,
                [(n.name, n.span) for n in unknown],
                known,
                _not_events(unknown, events),
            )
        analyses: dict[str, _Analysis] = {}
        states: dict[str, tuple[Any, ...]] = {}
        taken: dict[str, tuple[str, ...] | None] = {}
        unprovided: dict[str, tuple[str, ...]] = {}
        for name, value in self.events.items():  # once per name, however often it occurs
            states[name] = state = fingerprint(value)
            analyses[name] = analysis = bindings.analyse(value, state)
            taken[name], missing = _fit(analysis, self.fields)
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
        self.tasks = {}
        parallel_nodes = _nodes_in_parallel(graph.root)
        for node in graph.nodes:
            analysis = analyses[node.name]
            settings = analysis.settings
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
            names = taken[node.name]
            if names is None:
                kwargs = dict(self.fields)
            else:
                kwargs = {name: self.fields[name] for name in names}
            attempts = node.retry if node.retry is not None else settings.retry_policy.max_attempts
            self.tasks[node.id] = Task(
                node,
                analysis.target,
                analysis.style,
                settings,
                choice,
                kwargs,
                analysis.wants_previous or analysis.takes_all,
                attempts,
            )
        self.group_states = _group_states(graph.root, self.tasks)
        self.followers = _followers(graph.root, self.tasks)
        _last_plans.put(
            _Bound(
                graph,
                self.events,
                states,
                self.fields,
                kinds,
                executor_override,
                self.tasks,
                self.group_states,
                self.followers,
            )
        )

    def rebound(self, events: Mapping[str, Any]) -> Plan:
        """The same graph, fields and executors bound to `events` (a namespace as it is now)."""
        return Plan(self.graph, events, self.fields, self.executors, self.executor_override)

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


def _followers(root: Block, tasks: dict[str, Task]) -> dict[str, tuple[Task, bool]]:
    """For a node whose successor in its sequence may start on the same worker thread, right
    after it succeeds: that successor's task, and whether the link pipes the value.

    Both must run on the same pool of threads, and nothing but the success itself may decide
    what comes next: the first has no timeout (the loop could give up on it while the worker
    goes on) and no `stop_on_success`. See `run.submit.run_chain`.
    """
    followers: dict[str, tuple[Task, bool]] = {}
    for sequence in iter_sequences(root):
        items = sequence.items
        for index in range(len(items) - 1):
            first, then = items[index], items[index + 1]
            if type(first) is not Node or type(then) is not Node:
                continue
            task, following = tasks[first.id], tasks[then.id]
            choice = task.executor
            if (
                choice is following.executor
                and not choice.inline
                and not choice.by_value
                and task.settings.timeout is None
                and not task.settings.stop_on_success
            ):
                followers[first.id] = (following, sequence.links[index] == "pipe")
    return followers


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
