"""Scheduled pipelines and run history: `Scheduler`, `RunHistory`, trigger checks."""

from __future__ import annotations

from .history import RunHistory, default_history_path
from .scheduler import Job, Scheduler
from .triggers import ScheduleError

__all__ = ["Job", "RunHistory", "ScheduleError", "Scheduler", "default_history_path"]
