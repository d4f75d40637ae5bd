"""Events: `EventBase` subclasses, `@event` functions, and the outcome conventions.

`EventBase.process` and `@event` functions return `(ok, value)`; a plain function returns its
value and fails by raising. Any of them may return `Outcome(descriptor=..., value=...)` to pick a
branch arm; class events may call `self.goto(descriptor)` instead.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import PointyError
from .executors import ExecutorInitializerConfig
from .registry import default_registry
from .retry import RetryPolicy


class EventExecutionEvaluationState(enum.Enum):
    """How a parallel group's outcome follows from its members' outcomes."""

    SUCCESS_ON_ALL_EVENTS_SUCCESS = "success_on_all_events_success"
    FAILURE_FOR_PARTIAL_ERROR = "failure_for_partial_error"
    SUCCESS_FOR_PARTIAL_SUCCESS = "success_for_partial_success"
    FAILURE_FOR_ALL_EVENTS_FAILURE = "failure_for_all_events_failure"

    def judge(self, successes: int, total: int) -> bool:
        """True when a group with `successes` of `total` members succeeding counts as a success."""
        if self in (
            EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS,
            EventExecutionEvaluationState.FAILURE_FOR_PARTIAL_ERROR,
        ):
            return successes == total
        return successes > 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """An event's result that picks a branch arm: 1 success, 0 failure, 2..9 chosen."""

    descriptor: int
    value: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.descriptor, bool) or not isinstance(self.descriptor, int):
            raise PointyError(f"Outcome.descriptor must be an int 0..9, not {self.descriptor!r}")
        if not 0 <= self.descriptor <= 9:
            raise PointyError(f"Outcome.descriptor must be 0..9, not {self.descriptor}")


@dataclass(frozen=True, slots=True)
class EventSettings:
    """Everything about how to run an event, gathered once from its class or decorator."""

    executor: Any = "inline"
    executor_config: ExecutorInitializerConfig = ExecutorInitializerConfig()
    retry_policy: RetryPolicy = RetryPolicy()
    execution_evaluation_state: EventExecutionEvaluationState = (
        EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS
    )
    stop_on_exception: bool = False
    stop_on_error: bool = False
    stop_on_success: bool = False
    timeout: float | None = None
    cache: bool = True  # False: side effects, never taken from (or put in) a run's cache

    @classmethod
    def build(cls, owner: str, values: Mapping[str, Any]) -> EventSettings:
        """Validated settings; `owner` names the event in error messages."""
        try:
            timeout = values.get("timeout")
            if timeout is not None and (
                isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
            ):
                raise PointyError(f"timeout must be a positive number of seconds, not {timeout!r}")
            state = values.get(
                "execution_evaluation_state",
                EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS,
            )
            if isinstance(state, str):
                state = EventExecutionEvaluationState[state]
            if not isinstance(state, EventExecutionEvaluationState):
                raise PointyError(
                    "execution_evaluation_state must be an EventExecutionEvaluationState, "
                    f"not {state!r}"
                )
            return cls(
                executor=values.get("executor") or "inline",
                executor_config=ExecutorInitializerConfig.coerce(values.get("executor_config")),
                retry_policy=RetryPolicy.coerce(values.get("retry_policy")),
                execution_evaluation_state=state,
                stop_on_exception=bool(values.get("stop_on_exception", False)),
                stop_on_error=bool(values.get("stop_on_error", False)),
                stop_on_success=bool(values.get("stop_on_success", False)),
                timeout=timeout,
                cache=bool(values.get("cache", True)),
            )
        except (PointyError, KeyError, TypeError) as error:
            message = str(error) if isinstance(error, PointyError) else repr(error)
            raise PointyError(f"event {owner!r}: {message}") from None


_SETTING_NAMES = (
    "executor",
    "executor_config",
    "retry_policy",
    "execution_evaluation_state",
    "stop_on_exception",
    "stop_on_error",
    "stop_on_success",
    "timeout",
    "cache",
)


class EventBase:
    """Subclass and implement `process(self, ...)`, returning `(ok, value)`.

    Parameters of `process` are filled by name from the pipeline's fields and from
    `previous_result`, which is also available as `self.previous_result`. Class attributes
    configure how it runs: `executor`, `executor_config`, `retry_policy`,
    `execution_evaluation_state`, `stop_on_exception`, `stop_on_error`, `stop_on_success`,
    `timeout`, `cache` (False opts out of a run's cache). Defining a subclass makes its name
    known to pipelines (the latest wins).
    """

    executor: ClassVar[Any] = "inline"
    executor_config: ClassVar[Any] = None
    retry_policy: ClassVar[Any] = None
    execution_evaluation_state: ClassVar[Any] = (
        EventExecutionEvaluationState.SUCCESS_ON_ALL_EVENTS_SUCCESS
    )
    stop_on_exception: ClassVar[bool] = False
    stop_on_error: ClassVar[bool] = False
    stop_on_success: ClassVar[bool] = False
    timeout: ClassVar[float | None] = None
    cache: ClassVar[bool] = True

    previous_result: Any = None
    _descriptor: int | None = None  # also for subclasses whose __init__ skips ours

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if register:
            default_registry.register(cls.__name__, cls)

    def __init__(self, previous_result: Any = None) -> None:
        self.previous_result = previous_result
        self._descriptor: int | None = None

    def goto(self, descriptor: int) -> None:
        """Choose the branch arm `descriptor` (0..9) to run after this event."""
        Outcome(descriptor)  # validates
        self._descriptor = descriptor

    def process(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.process() is not implemented")

    @classmethod
    def settings(cls) -> EventSettings:
        return EventSettings.build(
            cls.__name__, {name: getattr(cls, name) for name in _SETTING_NAMES}
        )


class FunctionEvent:
    """A function made an event by `@event(...)`: called like the function, run by pipelines."""

    def __init__(self, function: Callable[..., Any], settings: EventSettings) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.event_settings = settings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<event {self.function.__qualname__}>"


def event(
    function: Callable[..., Any] | None = None,
    *,
    executor: Any = None,
    max_workers: int | None = None,
    max_tasks_per_child: int | None = None,
    thread_name_prefix: str | None = None,
    executor_config: Any = None,
    retry_policy: Any = None,
    execution_evaluation_state: Any = None,
    stop_on_exception: bool = False,
    stop_on_error: bool = False,
    stop_on_success: bool = False,
    timeout: float | None = None,
    name: str | None = None,
    cache: bool = True,
) -> Any:
    """Make a function an event: `@event` or `@event(executor="thread", retry_policy=...)`.

    The function returns `(ok, value)` or an `Outcome`. `max_workers`, `max_tasks_per_child` and
    `thread_name_prefix` are shorthands for `executor_config`. `name` overrides the function's
    name in pipelines. `cache=False` keeps an event with side effects out of a run's cache.
    """

    def decorate(target: Callable[..., Any]) -> FunctionEvent:
        owner = name or getattr(target, "__name__", None)
        if not owner or owner == "<lambda>":
            # A flow names its events: without a name this one could never be used.
            raise PointyError(
                f"@event on {'a lambda' if owner else repr(target)} needs a name: "
                "event(lambda ..., name='Fetch') or event(name='Fetch')(...)"
            )
        config = ExecutorInitializerConfig.coerce(executor_config)
        shorthand = {
            key: value
            for key, value in (
                ("max_workers", max_workers),
                ("max_tasks_per_child", max_tasks_per_child),
                ("thread_name_prefix", thread_name_prefix),
            )
            if value is not None
        }
        try:
            config = config.replace(**shorthand)
        except PointyError as error:
            raise PointyError(f"event {owner!r}: {error}") from None
        values: dict[str, Any] = {
            "executor": executor,
            "executor_config": config,
            "retry_policy": retry_policy,
            "stop_on_exception": stop_on_exception,
            "stop_on_error": stop_on_error,
            "stop_on_success": stop_on_success,
            "timeout": timeout,
            "cache": cache,
        }
        if execution_evaluation_state is not None:
            values["execution_evaluation_state"] = execution_evaluation_state
        wrapped = FunctionEvent(target, EventSettings.build(owner, values))
        default_registry.register(owner, wrapped)
        return wrapped

    if function is not None:
        return decorate(function)
    return decorate
