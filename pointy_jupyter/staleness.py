"""Marking shown runs stale when a later cell redefines one of their events.

An IPython `post_run_cell` hook: after each cell, every run a cell has shown compares the
notebook's namespace with the events it used (`Run.mark_stale`, an identity check per node and a
code digest only for a name bound to a new object). Nodes that became stale, and what is
downstream of them, are pushed to the run's widget at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import Session


class StalenessWatcher:
    """Registered with `shell.events` on `%load_ext`, unregistered by `close()` on unload."""

    def __init__(self, shell: Any, session: Callable[[], Session | None]) -> None:
        self.shell = shell
        self._session = session  # None until the first cell made one: nothing shown yet
        shell.events.register("post_run_cell", self)

    def __call__(self, result: Any = None) -> None:
        session = self._session()
        if session is None or session.closed:
            return
        namespace = self.shell.user_ns
        for controller in list(session.controllers):
            run = controller.run
            if not run.done:
                continue  # a run still going binds its events at the start; judged once done
            try:
                fresh = run.mark_stale(namespace)
                if fresh and controller.widget is not None:
                    controller.widget.show_stale(run.stale)
            except Exception as error:  # a hook that raises would be reported after every cell
                print(f"pointy: could not check run {run.id} for stale steps: {error}")

    def close(self) -> None:
        callbacks = self.shell.events.callbacks["post_run_cell"]
        if self in callbacks:
            self.shell.events.unregister("post_run_cell", self)
