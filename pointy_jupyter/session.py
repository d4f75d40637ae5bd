"""What the extension owns while it is loaded: executors, shown runs, output routing.

One `Session` per `PointyMagics`; `close()` undoes everything it started.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pointy_engine import signals
from pointy_engine.cache import Cache
from pointy_engine.cache.store import CACHE_ENV
from pointy_engine.executors import ExecutorChoice, ExecutorInitializerConfig, Executors
from pointy_engine.plan import Plan
from pointy_engine.run import Run

from .controller import RunController
from .errors import PointyCellError, reported
from .history import first_line
from .options import CellOptions
from .output import install_routers
from .progress import TextProgress
from .spec import RunSpec
from .widget_state import SharedTicker

CANCEL_WAIT = 5.0  # seconds close() waits for each background run to wind down


class Session:
    def __init__(self, shell: Any, *, widgets: bool | None = None) -> None:
        in_kernel = getattr(shell, "kernel", None) is not None
        self.shell = shell
        # Widgets need a front end; terminal IPython gets text progress. Tests may force it.
        self.widgets = in_kernel if widgets is None else widgets
        self.routes_output = in_kernel
        # The engine's thread pools run tasks in the submitter's context: output stays attributed.
        self.executors = Executors()
        self.controllers: list[RunController] = []
        self.closed = False
        self._active: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._uninstall_routers: Callable[[], None] | None = None
        self._cache: Cache | None = None
        # The run widgets' followers all look from one thread, started with the first of them.
        self.ticker = SharedTicker()
        self._layout: Any = None

    # --- planning and starting ----------------------------------------------------------------

    def executor_override(
        self, kind: str | None, max_workers: int | None
    ) -> tuple[Any, str | None]:
        """What `--executor` / `--max-workers` hand to Plan, and how `--plan` names it."""
        if kind is None or max_workers is None:
            return kind, None
        config = ExecutorInitializerConfig(max_workers=max_workers)
        pool = self.executors.get(ExecutorChoice(kind, config, kind == "process"))
        return pool, f"{kind}, {max_workers} workers"

    def plan(self, spec: RunSpec) -> Plan:
        """Bind the graph to the events the notebook defines now."""
        with reported(spec.graph, spec.shift):
            return Plan(spec.graph, self.shell.user_ns, spec.fields, self.executors, spec.executor)

    @property
    def widget_layout(self) -> Any:
        """One ipywidgets `Layout` for the widgets this session shows, all with the default
        layout: otherwise each widget opens a layout model of its own, a message more per cell."""
        if self._layout is None:
            import ipywidgets

            self._layout = ipywidgets.Layout()
        return self._layout

    @property
    def cache(self) -> Cache:
        """`%%pointy --cache` results: `.pointy-cache/` in the kernel's folder (the notebook's),
        or the folder `POINTY_CACHE` names (read each time: setting it in a cell takes effect)."""
        folder = Path(os.environ.get(CACHE_ENV) or Path.cwd() / ".pointy-cache")
        if self._cache is None or self._cache.directory != folder:
            self._cache = Cache(folder)
        return self._cache

    def new_run(self, spec: RunSpec, plan: Plan) -> Run:
        run = Run(
            plan,
            capture_output=True,
            name=type(spec.pipeline).__name__
            if spec.pipeline is not None
            else first_line(spec.source),
            tags={"trigger": "cell"},
            cache=self.cache if spec.options.cache else None,
        )
        if spec.pipeline is not None and signals.any_listeners():
            run.add_listener(signals.SignalBridge(spec.pipeline, run))
        if not (spec.options.widget and self.widgets):
            retries = {node.id: node.retry for node in run.graph.nodes if node.retry}
            # On the run's loop: a line per finished node is a quick write, and the run's end
            # then waits for no listener thread to wake and print.
            run.add_listener(TextProgress(run.id, retries), on_loop=True)
        return run

    def launch(self, spec: RunSpec, plan: Plan) -> RunController:
        """Show and start a run of `plan` (blocking unless the spec says background)."""
        if not self.widgets and spec.options.widget:
            spec = _text_only(spec)
        controller = RunController(self, spec, self.new_run(spec, plan))
        self.controllers.append(controller)
        controller.start()
        return controller

    def show(self, value: Any) -> None:
        """`%pointy show`: the widget of a run (one a cell started, or any other Run)."""
        controller = self.controller_of(value)
        if controller is None:
            if not isinstance(value, Run):
                raise PointyCellError(
                    f"%pointy show: {type(value).__name__} {value!r} is not a Pointy run"
                )
            spec = RunSpec(value.graph, dict(value.plan.fields), CellOptions())
            controller = RunController(self, spec, value)
            self.controllers.append(controller)
        controller.redisplay()

    def controller_of(self, value: Any) -> RunController | None:
        for controller in reversed(self.controllers):
            if any(run is value for run in controller.runs) or controller.widget is value:
                return controller
        return None

    # --- background runs ----------------------------------------------------------------------

    def route_output(self) -> None:
        """Put the stdout/stderr routers in place (the first time a run goes to the background)."""
        with self._lock:
            if self._uninstall_routers is None and self.routes_output and not self.closed:
                self._uninstall_routers = install_routers()

    def track(self, run: Run) -> None:
        with self._lock:
            self._active[run.id] = run

    def untrack(self, run: Run) -> None:
        with self._lock:
            self._active.pop(run.id, None)

    def active_runs(self) -> list[Run]:
        with self._lock:
            return list(self._active.values())

    def close(self) -> None:
        """Cancel background runs and timers, shut the executors down, stop routing output."""
        if self.closed:
            return
        self.closed = True
        for controller in self.controllers:
            controller.close()
        for run in self.active_runs():
            run.cancel()
            # An event body still running on a thread cannot be stopped from Python.
            with contextlib.suppress(TimeoutError):
                run.wait(CANCEL_WAIT)
        self.executors.shutdown(wait=False, cancel_futures=True)
        self.ticker.close()
        with self._lock:
            uninstall, self._uninstall_routers = self._uninstall_routers, None
        if uninstall is not None:
            uninstall()


def _text_only(spec: RunSpec) -> RunSpec:
    return replace(spec, options=replace(spec.options, widget=False))
