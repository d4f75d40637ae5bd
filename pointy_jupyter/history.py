"""The kernel's run history: every run this process creates while the extension is loaded.

`%pointy history` reads it. It is the engine's SQLite `RunHistory` (the file the scheduler and
the `pointy` command use too), so it also lists runs of earlier kernels and of the command line;
`%pointy runs` is the in-memory view of this kernel's runs, and the two agree on every run they
share (id, pipeline, trigger, start, status).
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

from pointy_engine.observers import RunObservers, run_observers

if TYPE_CHECKING:
    from pointy_engine.scheduling import RunHistory


def first_line(source: str) -> str:
    """The first line of a pipeline that is not blank or a comment."""
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text
    return ""


class KernelHistory:
    """Keeps every run in the history file from now until `close()`."""

    def __init__(self, observers: RunObservers = run_observers) -> None:
        from pointy_engine.scheduling.history import RunHistory

        self.store: RunHistory = RunHistory()  # $POINTY_HISTORY, else the user data folder
        self._observers = observers
        observers.add(self.store.observe)
        atexit.register(self.close)  # kernel shutdown: write the runs that just ended

    def frame(self, limit: int | None = None) -> Any:
        """Newest first; runs that just ended are written before reading."""
        self.store.flush()
        return self.store.frame(limit)

    def close(self) -> None:
        atexit.unregister(self.close)
        self._observers.remove(self.store.observe)
        self.store.close()
