"""Scheduled pipelines and run history: `Scheduler`, `RunHistory`, trigger checks.

Names are imported lazily, so reading the history (`scheduling.history`) does not load
APScheduler or the run loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {
    "Job": "scheduler",
    "Scheduler": "scheduler",
    "RunHistory": "history",
    "default_history_path": "history",
    "ScheduleError": "triggers",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

if TYPE_CHECKING:
    from .history import RunHistory, default_history_path
    from .scheduler import Job, Scheduler
    from .triggers import ScheduleError
