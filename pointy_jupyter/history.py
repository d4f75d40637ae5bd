"""The kernel's run history: every run this process creates while the extension is loaded.

`%pointy history` reads it. It is the engine's SQLite `RunHistory` (the file the scheduler and
the `pointy` command use too), so it also lists runs of earlier kernels and of the command line;
`%pointy runs` is the in-memory view of this kernel's runs, and the two agree on every run they
share (id, pipeline, trigger, start, status).
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from pointy_engine.observers import RunObservers, run_observers

if TYPE_CHECKING:
    from pointy_engine.run import Run
    from pointy_engine.scheduling import RunHistory


def first_line(source: str) -> str:
    """The first line of a pipeline that is not blank or a comment."""
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text
    return ""


class KernelHistory:
    """Keeps every run in the history file from now until `close()`.

    The file is opened with the first run (or the first look at it), not at `%load_ext`: creating
    an SQLite file in WAL mode waits on the disk.
    """

    def __init__(self, observers: RunObservers = run_observers) -> None:
        self._observers = observers
        self._store: RunHistory | None = None
        self._lock = threading.Lock()
        observers.add(self.observe)
        atexit.register(self.close)  # kernel shutdown: write the runs that just ended

    @property
    def store(self) -> RunHistory:
        """The engine's `RunHistory` ($POINTY_HISTORY, else the user data folder)."""
        with self._lock:
            if self._store is None:
                from pointy_engine.scheduling.history import RunHistory

                self._store = RunHistory()
                # From now on the store hears of runs itself (a scheduler given it sees that).
                self._observers.add(self._store.observe)
                self._observers.remove(self.observe)
            return self._store

    def observe(self, run: Run) -> None:
        self.store.observe(run)

    def frame(self, limit: int | None = None) -> Any:
        """Newest first; runs that just ended are written before reading."""
        self.store.flush()
        return self.store.frame(limit)

    def close(self) -> None:
        atexit.unregister(self.close)
        self._observers.remove(self.observe)
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            self._observers.remove(store.observe)
            store.close()
