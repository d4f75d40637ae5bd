"""The original library's `signal.signals` module path: the default signals, re-exported."""

from ..signals import (
    SoftSignal,
    event_execution_end,
    event_execution_init,
    event_execution_retry,
    event_execution_retry_done,
    event_execution_start,
    pipeline_execution_end,
    pipeline_execution_start,
    pipeline_post_init,
    pipeline_pre_init,
    pipeline_shutdown,
    pipeline_stop,
)

__all__ = [
    "SoftSignal",
    "event_execution_end",
    "event_execution_init",
    "event_execution_retry",
    "event_execution_retry_done",
    "event_execution_start",
    "pipeline_execution_end",
    "pipeline_execution_start",
    "pipeline_post_init",
    "pipeline_pre_init",
    "pipeline_shutdown",
    "pipeline_stop",
]
