"""One run shown by a cell: its widget (or text progress), where its output goes, and the re-runs
its buttons start.

Blocking runs go on in the kernel's main thread (Ctrl-C cancels them); background runs and
re-runs in a daemon thread that runs in a copy of the starting cell's context, so what their
events print is routed to the cell that started them (see `output`).
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from IPython.display import DisplayHandle, display

from pointy_engine.errors import PointyError
from pointy_engine.run import Run

from .errors import RunCancelled
from .output import OutputSink, current_sink
from .spec import RunSpec

if TYPE_CHECKING:
    from .session import Session
    from .widget import RunWidget


class RunController:
    def __init__(
        self,
        session: Session,
        spec: RunSpec,
        run: Run,
        context: contextvars.Context | None = None,
    ) -> None:
        self.session = session
        self.spec = spec
        self.run = run
        self.runs = [run]  # every run shown here, oldest first
        # The starting cell's context: its parent header routes output and displays there.
        self.context = context if context is not None else contextvars.copy_context()
        self.widget: RunWidget | None = None
        self.handle: DisplayHandle | None = None
        self.sink: OutputSink | None = None
        self.output_handle: DisplayHandle | None = None
        self._timed_out: set[str] = set()
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()

    # --- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        """Show the run and start it: blocking (Ctrl-C cancels it), or in the background."""
        options = self.spec.options
        if options.background:
            self._show_widget()
            self._show_output()
            self._start_background(self.run)
            return
        try:
            self._show_widget()
            self._run_here(self.run)
        except KeyboardInterrupt:
            if not self.run.started:  # the interrupt came before the run began: end it here
                self.run.cancel()
                self._run_here(self.run)
            raise RunCancelled() from None
        finally:
            if self.widget is not None:
                self._show_output()  # where the re-runs' output will go

    def _show_widget(self) -> None:
        self._bind(self.run)  # first: an interrupt as soon as the widget shows finds it bound
        if self.spec.options.widget and self.widget is None:
            self.widget = self._new_widget()
            # The handle exists before the display is sent: an interrupt that arrives as soon as
            # the widget shows must still find it, to leave the final picture in the notebook.
            self.handle = DisplayHandle()
            show(self.handle, self.widget)

    def redisplay(self) -> None:
        """Show the run's widget again (`%pointy show`): another view of the same widget."""
        if self.widget is None:
            self.widget = self._new_widget()
        display(self.widget)
        self._show_output()

    def _new_widget(self) -> RunWidget:
        from .cell_names import cell_namer
        from .widget import RunWidget  # anywidget loads with the first widget shown

        compiler = getattr(self.session.shell, "compile", None)
        namer = cell_namer(compiler) if hasattr(compiler, "format_code_name") else None
        return RunWidget(
            self.run,
            on_command=self.on_command,
            name_cells=namer,
            ticker=self.session.ticker,
            layout=self.session.widget_layout,
        )

    def _show_output(self) -> None:
        if self.sink is None and self.session.routes_output:
            from .output_area import RunOutput

            output = RunOutput(layout=self.session.widget_layout)
            self.output_handle = DisplayHandle()
            show(self.output_handle, output)
            self.sink = OutputSink(output)

    def _bind(self, run: Run) -> None:
        if self.spec.options.out:
            self.session.shell.user_ns[self.spec.options.out] = run

    def _run_here(self, run: Run) -> None:
        timer = self._arm_timeout(run)
        try:
            run.start()
        finally:
            if timer is not None:
                timer.cancel()
                self._timers.discard(timer)
            self._finished(run)

    def _start_background(self, run: Run) -> None:
        context = self.context.copy()
        if self.sink is not None:
            self.session.route_output()
            context.run(current_sink.set, self.sink)
        self.session.track(run)
        thread = threading.Thread(
            target=context.run,
            args=(self._run_in_background, run),
            name=f"pointy-run-{run.id}",
            daemon=True,
        )
        thread.start()

    def _run_in_background(self, run: Run) -> None:
        try:
            self._run_here(run)
        finally:
            self.session.untrack(run)

    def _arm_timeout(self, run: Run) -> threading.Timer | None:
        timeout = self.spec.options.timeout
        if timeout is None:
            return None

        def expire() -> None:
            self._timed_out.add(run.id)
            run.cancel()

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()
        return timer

    def _finished(self, run: Run) -> None:
        """Save the final picture in the notebook and say why a run stopped early."""
        if not run.done:
            return  # interrupted before it began; the caller cancels it and comes back here
        if self.widget is not None and self.widget.run is run:
            self.widget.finish()  # the final state now, not at the follower's next look
        if self.handle is not None and self.widget is not None and run is self.run:
            show(self.handle, self.widget, update=True)
        if run.id in self._timed_out and run.status == "cancelled":
            print(
                f"run cancelled: it took longer than --timeout {self.spec.options.timeout:g} s",
                file=sys.stderr,
            )
        if self.sink is not None:
            self.sink.flush()
            if self.output_handle is not None and self.sink.output.outputs:
                # what the runs printed, as the saved notebook's text for this output area
                show(self.output_handle, self.sink.output, update=True)

    # --- the widget's buttons ----------------------------------------------------------------

    def on_command(self, command: dict[str, Any]) -> None:
        """`{"type": "cancel"}` or `{"type": "rerun", "mode": ..., "node": ...}` from the widget."""
        if command.get("type") == "cancel":
            self.run.cancel()
            return
        if self.session.closed:
            raise PointyError("the Pointy extension was unloaded; %load_ext pointy_jupyter again")
        with self._lock:
            if not self.run.done:
                raise PointyError(f"run {self.run.id} is still going; cancel it first")
            plan = self.session.plan(self.spec)  # events as the notebook defines them now
            run = self.run.rerun(command["mode"], command.get("node"), plan=plan)
            self.run = run
            self.runs.append(run)
        if self.widget is not None:
            self.widget.attach(run)
        self._bind(run)
        if self.sink is not None:
            self.sink.header(f"{rerun_words(command)} · {time.strftime('%H:%M:%S')}")
        self._start_background(run)

    def close(self) -> None:
        """Cancel this controller's runs and timers; the widget keeps its last picture."""
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()
        for run in self.runs:
            run.cancel()
        if self.widget is not None:
            self.widget.detach()


def show(handle: DisplayHandle, widget: Any, *, update: bool = False) -> None:
    """Display (or update) `widget` from its own mimebundle. IPython's formatters would come to the
    same `_repr_mimebundle_` after asking a dozen others first, a fifth of a millisecond a time."""
    bundle = widget._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    if update:
        handle.update(data, metadata=metadata, raw=True)
    else:
        handle.display(data, metadata=metadata, raw=True)


def rerun_words(command: dict[str, Any]) -> str:
    """`re-run failed`, `re-run from Score`: what a widget button started, in its own words."""
    mode = command["mode"]
    return f"re-run from {command.get('node')}" if mode == "from" else f"re-run {mode}"
