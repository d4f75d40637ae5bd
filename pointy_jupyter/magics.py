"""The `%%pointy` cell magic and the `%pointy` line magic: parse, resolve, call the engine, show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display

from .completion import event_matcher
from .errors import PointyCellError
from .help_text import plain_help
from .history import KernelHistory
from .names import DiagnosticsTarget
from .options import EXECUTORS, parse_line, read_options
from .staleness import StalenessWatcher
from .telemetry import KernelTelemetry

if TYPE_CHECKING:
    from .jobs import NotebookJobs
    from .session import Session

# The engine, pandas and anywidget load with the first cell, not with `%load_ext`.


@magics_class
class PointyMagics(Magics):
    """Registered by `%load_ext pointy_jupyter`; `close()` (on unload) undoes all of it."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._session: Session | None = None
        self._jobs: NotebookJobs | None = None
        self.telemetry = KernelTelemetry()  # collection starts with the extension
        self.history = KernelHistory()  # and so does the run history (`%pointy history`)
        self.matcher = event_matcher(lambda: shell.user_ns)
        shell.Completer.custom_matchers.append(self.matcher)
        self.staleness = StalenessWatcher(shell, lambda: self._session)
        self.diagnostics = DiagnosticsTarget(shell)  # answers the lab extension's checks

    @property
    def session(self) -> Session:
        """What the extension owns, made with the first cell that needs it."""
        if self._session is None:
            from .session import Session

            self._session = Session(self.shell)
        return self._session

    @property
    def jobs(self) -> NotebookJobs:
        """The kernel's scheduled jobs, made with the first cell that schedules or lists them."""
        if self._jobs is None:
            from .jobs import NotebookJobs

            self._jobs = NotebookJobs(self.session, self.history.store)
        return self._jobs

    @cell_magic("pointy")
    @plain_help
    @magic_arguments(name="%pointy")
    @argument(
        "-o",
        "--out",
        metavar="NAME",
        help="bind the run to NAME in the notebook (the newest re-run replaces it); "
        "with --plan, the plan",
    )
    @argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=EXPR",
        help="an input field, EXPR evaluated in the notebook; repeatable; quote spaces: "
        '--input "xs=[1, 2]"',
    )
    @argument("--inputs", metavar="DICT_VAR", help="input fields from a dict in the notebook")
    @argument(
        "--pipeline",
        metavar="CLASS",
        help="validate the inputs with this Pipeline class's fields; "
        "a body of only comments runs the class's own flow; a BatchPipeline class runs its "
        "batches (body empty) and shows them as a grid",
    )
    @argument(
        "--executor",
        choices=EXECUTORS,
        metavar="NAME",
        help=f"run every event on this executor: one of {', '.join(EXECUTORS)}",
    )
    @argument(
        "--max-workers", type=int, metavar="N", help="workers of --executor thread or process"
    )
    @argument("--background", action="store_true", help="return at once; the run goes on (see -o)")
    @argument(
        "--plan",
        action="store_true",
        help="run nothing: show the graph and, per node, its event, executor and attempts",
    )
    @argument("--timeout", type=float, metavar="SECONDS", help="cancel the run after this long")
    @argument(
        "--no-widget",
        action="store_true",
        help="text progress: a line per finished node, then a summary",
    )
    @argument("--every", metavar="INTERVAL", help="schedule: run every INTERVAL (30s, 10m, 1h)")
    @argument("--cron", metavar='"M H DOM MON DOW"', help="schedule: on five crontab fields")
    @argument("--at", metavar='"YYYY-MM-DD HH:MM"', help="schedule: once, at this time")
    @argument(
        "--cache",
        action="store_true",
        help="take steps whose code and inputs are unchanged from .pointy-cache/ beside the "
        "notebook, or the folder $POINTY_CACHE names (it survives kernel restarts)",
    )
    def pointy(self, line: str, cell: str) -> None:
        """Run the Pointy pipeline written in the cell body, e.g. `fetch |-> clean || stats`.

        Event names are looked up in the notebook when the cell runs: functions, @event
        functions and EventBase classes. The run blocks (Ctrl-C cancels it) and a live graph
        shows its progress; the graph's buttons re-run all, failed or from a node, with events
        as the notebook defines them at that time. With --background the cell returns at once
        and the Cancel button works (an event running inline finishes its call first). Lines
        are numbered as in the cell: the %%pointy line is line 1.
        """
        options = read_options(
            parse_line(self.pointy, line, "%%pointy"), self.shell.user_ns, self.shell.ev
        )
        from .batch_cell import is_batch, run_batch_cell

        if is_batch(options.pipeline):
            run_batch_cell(self.session, options, cell)
            return
        executor, label = self.session.executor_override(options.executor, options.max_workers)
        from .spec import build_spec

        spec = build_spec(cell, options, executor, label)
        plan = self.session.plan(spec)
        if options.every is not None or options.cron is not None or options.at is not None:
            self._schedule(spec)
            return
        if options.plan_only:
            if options.out:
                self.shell.user_ns[options.out] = plan
            from .views import plan_frame

            if self.session.widgets and options.widget:
                from .widget import RunWidget

                widget = RunWidget()
                widget.show_graph(spec.graph.to_json())
                display(widget)
            display(plan_frame(plan, spec.executor_label))
            return
        self.session.launch(spec, plan)

    def _schedule(self, spec: Any) -> None:
        from pointy_engine.scheduling import ScheduleError

        try:
            job = self.jobs.schedule(spec)
        except ScheduleError as error:
            raise PointyCellError(f"%%pointy: {error}") from None
        times = ", ".join(t.isoformat(sep=" ", timespec="seconds") for t in job.next_run_times(3))
        print(f"job {job.id!r} scheduled ({job.trigger}); next runs: {times or 'none'}")
        print("it lives as long as this kernel; `%pointy jobs` to pause, resume or remove it")

    @line_magic("pointy")
    @magic_arguments(name="pointy")
    @argument(
        "command",
        choices=("runs", "metrics", "show", "jobs", "history", "cache"),
        help="what to do",
    )
    @argument("name", nargs="?", help="for show: the variable holding the run (default: the last)")
    @argument("event", nargs="?", help="for cache clear: only this event's entries")
    def pointy_line(self, line: str) -> Any:
        """`%pointy runs`: the kernel's runs as a DataFrame. `%pointy metrics`: one row per
        attempt of those runs. `%pointy show NAME`: a run's widget. `%pointy jobs`, `%pointy
        history`: scheduled jobs and the run history. `%pointy cache`: the cache's entries and
        size; `%pointy cache clear [EVENT]` empties it."""
        args = parse_line(self.pointy_line, line, "%pointy")
        if args.command == "runs":
            return self.telemetry.runs()
        if args.command == "metrics":
            return self.telemetry.metrics()
        if args.command in ("jobs", "history"):
            return self._jobs_view(args.command, args.name)
        if args.command == "cache":
            from .cache_view import cache_command

            return cache_command(self.session.cache, args.name, args.event)
        if args.name is None:
            if not self.session.controllers:
                raise PointyCellError("%pointy show: no run yet")
            self.session.show(self.session.controllers[-1].run)
        elif args.name not in self.shell.user_ns:
            raise PointyCellError(f"%pointy show: no variable {args.name!r} in the notebook")
        else:
            self.session.show(self.shell.user_ns[args.name])
        return None

    def _jobs_view(self, command: str, form: str | None) -> Any:
        """`%pointy jobs` (widget; `%pointy jobs frame` for the DataFrame), `%pointy history`."""
        if command == "history":
            return self.history.frame()
        if form == "frame" or not self.session.widgets:
            return self.jobs.frame()
        display(self.jobs.widget())
        return None

    def close(self) -> None:
        """Stop what the extension started and take the magics and the completer out."""
        if self._jobs is not None:
            self._jobs.close()
        self.staleness.close()
        self.session.close()
        from pointy_engine.process_pools import shared_processes
        from pointy_engine.threads import shared_threads

        shared_threads.shutdown()  # those P().start() in a cell used; the next start rebuilds
        shared_processes.shutdown(wait=False)  # batch runs' kept workers, likewise
        self.telemetry.close()
        self.diagnostics.close()
        self.history.close()
        matchers = self.shell.Completer.custom_matchers
        if self.matcher in matchers:
            matchers.remove(self.matcher)
        manager = self.shell.magics_manager
        for kind, table in manager.magics.items():
            for name in list(self.magics[kind]):
                if table.get(name) is self.magics[kind][name]:
                    del table[name]
        if manager.registry.get(type(self).__name__) is self:
            del manager.registry[type(self).__name__]
