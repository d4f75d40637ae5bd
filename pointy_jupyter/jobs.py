"""Scheduled `%%pointy` cells: the kernel's scheduler, and the jobs widget of `%pointy jobs`.

`NotebookJobs` belongs to the extension's magics: it starts a `Scheduler` the first time a cell
asks for one and stops it (no thread left) on `%unload_ext` or when the kernel exits. Each job
resolves its events from the notebook namespace at fire time and prints into its own `Output`,
shown by the jobs widget, never into whatever cell happens to be running.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import html
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pointy_engine.fields import InputDataField
from pointy_engine.pipeline import Pipeline

from .history import first_line
from .output import OutputSink, current_sink

if TYPE_CHECKING:
    import pandas

    from pointy_engine.scheduling import Job, RunHistory, Scheduler

    from .session import Session
    from .spec import RunSpec


def cell_pipeline(spec: RunSpec) -> type[Pipeline]:
    """A Pipeline class for the cell's flow: the `--pipeline` class's fields, or one per input."""
    base = type(spec.pipeline) if spec.pipeline is not None else Pipeline
    body: dict[str, Any] = {"Meta": type("Meta", (), {"pointy": spec.source})}
    if spec.pipeline is None:
        body.update({name: InputDataField() for name in spec.fields})
    return type(base.__name__ if spec.pipeline is not None else "Cell", (base,), body)


def next_run_text(job: Job) -> str:
    """'paused', 'none' or the next run time to the second (asks APScheduler: never call it
    from a firing, where APScheduler's shutdown may hold the lock it needs)."""
    if job.paused:
        return "paused"
    next_run = job.next_run_time
    return "none" if next_run is None else next_run.isoformat(sep=" ", timespec="seconds")


def label_of(job: Job, next_run: str) -> str:
    """A job's row: id, trigger, next run and the status of its last run."""
    return (
        f"<b>{html.escape(job.id)}</b> — {html.escape(job.trigger)}; "
        f"next run: {next_run}; last status: {job.last_status or 'not run yet'}"
    )


def job_id_of(spec: RunSpec) -> str:
    """Running the same cell again gives the same id, so its job is replaced, not doubled."""
    if spec.options.out:
        return spec.options.out
    if spec.pipeline is not None:
        return type(spec.pipeline).__name__
    return first_line(spec.source)


class NotebookJobs:
    """The kernel's scheduler, its jobs' output widgets, and the jobs widget."""

    def __init__(self, session: Session, history: RunHistory) -> None:
        self.session = session
        self.history = history  # the kernel's: it records every run, scheduled or not
        self._scheduler: Scheduler | None = None
        self._sinks: dict[str, OutputSink] = {}
        self._outputs: dict[str, Any] = {}
        self._labels: dict[str, weakref.WeakSet[Any]] = {}  # each job's rows in shown widgets
        self.grace = 5.0  # seconds unload waits for each cancelled run

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            from pointy_engine.scheduling import Scheduler

            self._scheduler = Scheduler(self.history, around_run=self._route).start()
            atexit.register(self.close)  # kernel shutdown: stop the threads first
        return self._scheduler

    def schedule(self, spec: RunSpec) -> Job:
        """Register the cell's flow as a job on its --every / --cron / --at trigger."""
        options = spec.options
        shell = self.session.shell
        job_id = job_id_of(spec)
        # The job's own output is in place before it is registered: it may fire at once.
        before = self._outputs.get(job_id), self._sinks.get(job_id)
        if self.session.widgets:
            import ipywidgets

            # A job prints on every run: a scrolling box, not a page that grows for ever.
            layout = ipywidgets.Layout(max_height="14em", overflow="auto")
            self._outputs[job_id] = output = ipywidgets.Output(layout=layout)
            self._sinks[job_id] = OutputSink(output)
            self.session.route_output()
        try:
            return self.scheduler.schedule(
                cell_pipeline(spec),
                every=options.every,
                cron=options.cron,
                at=options.at,
                id=job_id,
                inputs=spec.fields,
                events=lambda: shell.user_ns,
            )
        except Exception:  # nothing registered: the job that was there keeps its output
            self._restore(job_id, *before)
            raise

    def _restore(self, job_id: str, output: Any, sink: OutputSink | None) -> None:
        if output is None or sink is None:
            self._outputs.pop(job_id, None)
            self._sinks.pop(job_id, None)
        else:
            self._outputs[job_id], self._sinks[job_id] = output, sink

    @contextlib.contextmanager
    def _route(self, job: Job) -> Iterator[None]:
        sink = self._sinks.get(job.id)
        token = current_sink.set(sink) if sink is not None else None
        try:
            yield
        finally:
            if token is not None:
                current_sink.reset(token)
                sink.flush()  # type: ignore[union-attr]
            # Shown rows follow each run's status; the next run time is as last rendered.
            for label in list(self._labels.get(job.id, ())):
                label.value = label_of(job, label.next_run)

    def frame(self) -> pandas.DataFrame:
        return self.scheduler.jobs()

    def widget(self) -> Any:
        """One row per job: trigger, next run, last status, and its buttons; then its output."""
        import ipywidgets

        rows: list[Any] = []
        refresh = ipywidgets.Button(description="Refresh", icon="refresh")
        box = _jobs_box_class()()

        def render(*_: Any) -> None:
            rows.clear()
            for job_id in list(self.scheduler.jobs()["id"]):
                rows.append(self._job_row(self.scheduler.job(job_id), render))
            if not rows:
                rows.append(ipywidgets.HTML("No scheduled jobs."))
            box.children = (refresh, *rows)

        refresh.on_click(render)
        render()
        return box

    def _job_row(self, job: Job, render: Any) -> Any:
        import ipywidgets

        label = ipywidgets.HTML()
        label.next_run = next_run_text(job)  # kept for the refresh after each run
        # Registered before its text is read: a run ending meanwhile either refreshes it or has
        # already set the status read here.
        self._labels.setdefault(job.id, weakref.WeakSet()).add(label)
        label.value = label_of(job, label.next_run)
        actions = {
            "Pause": job.pause,
            "Resume": job.resume,
            "Run now": job.run_now,
            "Remove": job.remove,
        }
        buttons = []
        for name, action in actions.items():
            button = ipywidgets.Button(description=name)

            def click(_: Any, action: Any = action, name: str = name) -> None:
                action()
                if name == "Remove":
                    render()  # the row goes
                else:  # the row stays: only its text changes (no views rebuilt under the output)
                    label.next_run = next_run_text(job)
                    label.value = label_of(job, label.next_run)

            button.on_click(click)
            buttons.append(button)
        parts = [label, ipywidgets.HBox(buttons)]
        if job.id in self._outputs:
            parts.append(self._outputs[job.id])
        return ipywidgets.VBox(parts)

    def close(self) -> None:
        """Stop the scheduler and its threads (idempotent)."""
        atexit.unregister(self.close)
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False, grace=self.grace)


def jobs_snapshot_html(box: Any) -> str:
    """The jobs as the widget shows them, without buttons: what a saved notebook keeps."""
    lines = [
        part.value
        for row in box.children
        for part in getattr(row, "children", (row,))
        if type(part).__name__ == "HTML"
    ]
    body = "".join(f"<li>{line}</li>" for line in lines)
    return (
        '<div class="pointy-jobs-snapshot" style="font-family:sans-serif;font-size:13px">'
        "<div><strong>Pointy scheduled jobs</strong> (as shown then)</div>"
        f'<ul style="margin:4px 0">{body}</ul></div>'
    )


@functools.cache
def _jobs_box_class() -> type:
    """A VBox whose saved form lists the jobs (see `saved_view`); made on first use, as
    ipywidgets is imported only when a widget is first shown."""
    import ipywidgets

    from .saved_view import with_saved_view

    class JobsBox(ipywidgets.VBox):
        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            data = super()._repr_mimebundle_(**kwargs)
            data["text/html"] = jobs_snapshot_html(self)
            return with_saved_view(data)

    return JobsBox
