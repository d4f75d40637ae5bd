"""Marking shown runs stale when a later cell redefines one of their events.

An IPython `post_run_cell` hook, so it runs after every cell of the notebook, Pointy or not.
After each cell, the runs a cell has shown are compared with the notebook's namespace
(`Run.mark_stale`: an identity check per node and a code digest only for a name bound to a new
object); nodes that became stale, and what is downstream of them, are pushed to the run's widget
at once. The work per cell is one identity check per event name in use, plus a full check of only
the runs that use a name bound anew since the last cell, or that were not judged yet (new, a
re-run, or still going at the last look): a kernel with hundreds of runs shown does not check them
all after every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pointy_engine.run import Run

    from .controller import RunController
    from .session import Session

_UNBOUND = object()  # a name the namespace does not hold


class StalenessWatcher:
    """Registered with `shell.events` on `%load_ext`, unregistered by `close()` on unload."""

    def __init__(self, shell: Any, session: Callable[[], Session | None]) -> None:
        self.shell = shell
        self._session = session  # None until the first cell made one: nothing shown yet
        self._watched: Session | None = None
        self._indexed = 0  # how many of the session's controllers `_users` knows
        self._users: dict[str, list[RunController]] = {}  # event name -> controllers using it
        self._bound: dict[str, object] = {}  # event name -> what it was bound to at the last look
        self._judged: dict[RunController, Run] = {}  # the run each controller was checked with
        shell.events.register("post_run_cell", self)

    def __call__(self, result: Any = None) -> None:
        session = self._session()
        if session is None or session.closed:
            return
        if session is not self._watched:
            self._forget(session)
        namespace = self.shell.user_ns
        controllers = list(session.controllers)
        for controller in controllers[self._indexed :]:
            for name in _event_names(controller.run):
                self._users.setdefault(name, []).append(controller)
        self._indexed = len(controllers)
        due: set[RunController] = set()
        for name, users in self._users.items():
            bound = namespace.get(name, _UNBOUND)
            if bound is not self._bound.get(name, _UNBOUND):
                self._bound[name] = bound  # kept alive, so `is` cannot meet a reused id
                due.update(users)
        for controller in controllers:
            if controller in due or self._judged.get(controller) is not controller.run:
                self._check(controller, namespace)

    def _check(self, controller: RunController, namespace: dict[str, Any]) -> None:
        run = controller.run
        if not run.done:
            self._judged.pop(controller, None)  # a run still going is judged once done
            return
        self._judged[controller] = run
        try:
            fresh = run.mark_stale(namespace)
            if fresh and controller.widget is not None:
                controller.widget.show_stale(run.stale)
        except Exception as error:  # a hook that raises would be reported after every cell
            print(f"pointy: could not check run {run.id} for stale steps: {error}")

    def _forget(self, session: Session) -> None:
        self._watched = session
        self._indexed = 0
        self._users.clear()
        self._bound.clear()
        self._judged.clear()

    def close(self) -> None:
        callbacks = self.shell.events.callbacks["post_run_cell"]
        if self in callbacks:
            self.shell.events.unregister("post_run_cell", self)
        self._forget(None)  # type: ignore[arg-type]


def _event_names(run: Any) -> set[str]:
    """The names a run's nodes were bound by (a re-run binds the same names again)."""
    try:
        return {task.node.name for task in run.plan.tasks.values()}
    except AttributeError:  # not a run with a plan: nothing to compare
        return set()
