"""`%%pointy --pipeline SomeBatch`: a `BatchPipeline` run from a cell, shown as a batch grid.

The cell body stays empty (comments only): every batch runs the template's own flow. Events are
looked up in the notebook; the batches run on `--executor` (processes unless told otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.display import DisplayHandle

from .controller import show
from .errors import PointyCellError, RunCancelled, reported
from .options import CellOptions
from .spec import is_blank

if TYPE_CHECKING:
    from .session import Session


def is_batch(pipeline: Any) -> bool:
    from pointy_engine.batch import BatchPipeline

    return isinstance(pipeline, type) and issubclass(pipeline, BatchPipeline)


def run_batch_cell(session: Session, options: CellOptions, body: str) -> Any:
    """Start the batch run the options ask for, show it, wait unless --background."""
    batch_class = options.pipeline
    assert batch_class is not None
    name = batch_class.__name__
    if not is_blank(body):
        raise PointyCellError(
            f"--pipeline {name}: a BatchPipeline runs its template's flow; leave the cell body "
            "empty (comments only)"
        )
    for given, option in (
        (options.plan_only, "--plan"),
        (options.cache, "--cache"),
        (options.timeout is not None, "--timeout"),
        (any(x is not None for x in (options.every, options.cron, options.at)), "a schedule"),
    ):
        if given:
            raise PointyCellError(f"--pipeline {name}: a batch run from a cell takes no {option}")
    with reported():
        batch = batch_class(**options.inputs)
    view = None
    if options.widget and session.widgets:
        from .batch_widget import BatchView  # anywidget loads with the first widget shown

        view = BatchView(ticker=session.ticker)  # the session's follower thread, not two new
        handle = DisplayHandle()
        show(handle, view)
    with reported():
        batch_run = batch.start(
            executor=options.executor or "process",
            max_workers=options.max_workers,
            events=session.shell.user_ns,
            background=True,  # its process pool is kept: the next batch run starts on it
        )
    if options.out:
        session.shell.user_ns[options.out] = batch_run
    if view is not None:
        view.attach(batch_run)
    if options.background:
        return batch_run
    try:
        batch_run.wait()
    except KeyboardInterrupt:
        batch_run.cancel()
        batch_run.wait()
        raise RunCancelled() from None
    finally:
        if view is not None:
            view.finish()
            show(handle, view, update=True)  # the saved picture shows how it ended
    if view is None:
        print(text_summary(batch_run))
    return batch_run


def text_summary(batch_run: Any) -> str:
    """One line per batch that did not succeed, after a line of counts."""
    states = batch_run.statuses
    counts = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states))
    lines = [f"{batch_run.name}: {len(states)} batches, {counts}"]
    for index in batch_run.failed:
        run = batch_run.runs[index]
        errors = run.errors if run is not None else {}
        reason = next((f"{node}: {e.type}: {e.message}" for node, e in errors.items()), "")
        lines.append(f"  batch runs[{index}] {states[index]} {reason}".rstrip())
    return "\n".join(lines)
