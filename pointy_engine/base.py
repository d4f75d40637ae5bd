"""The original library's `base` module path: the event base class and its settings, re-exported."""

from .events import EventBase, EventExecutionEvaluationState
from .executors import ExecutorInitializerConfig
from .retry import RetryPolicy

__all__ = ["EventBase", "EventExecutionEvaluationState", "ExecutorInitializerConfig", "RetryPolicy"]
