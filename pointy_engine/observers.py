"""Who hears of every run this process creates: telemetry, run history, staleness marks.

A `Run` announces itself once, when it is created and before it starts, to the observers of the
`RunObservers` it was given (by default the process's `run_observers`). An observer is a callable
`observer(run)`; it typically attaches a listener to the run's record stream or keeps the run's
records. This is the one place a capability learns that a run exists: none of them instruments the
engine. An observer that raises is reported once (a warning naming it) and detached; the run
goes on.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Run

RunObserver = Callable[["Run"], Any]


class ObserverFailedWarning(RuntimeWarning):
    """A run observer raised; it was detached and the run went on."""


class RunObservers:
    """A set of run observers. Copy-on-write, so announcing a run takes no lock."""

    __slots__ = ("_lock", "_observers")

    def __init__(self) -> None:
        self._observers: tuple[RunObserver, ...] = ()
        self._lock = threading.Lock()

    def add(self, observer: RunObserver) -> None:
        """Announce every run created from now on to `observer` (a no-op if already added)."""
        with self._lock:
            if observer not in self._observers:
                self._observers = (*self._observers, observer)

    def remove(self, observer: RunObserver) -> None:
        with self._lock:
            self._observers = tuple(item for item in self._observers if item != observer)

    def __contains__(self, observer: object) -> bool:
        return observer in self._observers

    def __len__(self) -> int:
        return len(self._observers)

    def announce(self, run: Run) -> None:
        for observer in self._observers:
            try:
                observer(run)
            except Exception as error:  # an observer must never break a run
                self.remove(observer)
                name = getattr(observer, "__qualname__", None) or type(observer).__qualname__
                warnings.warn(
                    f"run observer {name!r} raised {type(error).__name__}: {error}; "
                    "it was detached and the run went on",
                    ObserverFailedWarning,
                    stacklevel=3,
                )


# The process's observers: what a run announces itself to unless given others.
run_observers = RunObservers()
