"""The live batch grid: one cell per batch of a `BatchRun`, coloured by state; a click shows
that batch's own graph in a run widget below it.

`BatchGrid` follows a batch run by polling (a daemon follower, like the run widget's) and assigns
its one JSON trait only when a batch changed; `BatchView` puts the grid and one `RunWidget` together
and attaches the widget to the batch the user clicks.
"""

from __future__ import annotations

import html
import json
import pathlib
import threading
from typing import Any

import anywidget
import ipywidgets
import traitlets as t

from pointy_engine.palette import STATE_COLOURS

from .saved_view import with_saved_view
from .widget import RunWidget
from .widget_state import Cancellable, Ticker, thread_ticker

_STATIC = pathlib.Path(__file__).parent / "static"
SETTLED = ("succeeded", "failed", "cancelled", "skipped")


class BatchGrid(anywidget.AnyWidget):
    """A compact grid of a batch run's batches: `cells_json` holds, per batch in input order,
    `{"index", "state", "title"}`; `selected` is the batch the user clicked (-1: none)."""

    _esm = _STATIC / "batch_grid.js"
    _css = _STATIC / "batch_grid.css"

    name = t.Unicode("").tag(sync=True)
    status = t.Unicode("pending").tag(sync=True)
    cells_json = t.Unicode("[]").tag(sync=True)
    selected = t.Int(-1).tag(sync=True)
    dashboard = t.Unicode("").tag(sync=True)

    def __init__(
        self, batch_run: Any = None, *, max_rate: float = 10.0, ticker: Ticker = thread_ticker
    ) -> None:
        super().__init__()
        self._ticker = ticker
        self._interval = 1.0 / max_rate
        self._lock = threading.Lock()
        self._batch_run: Any = None
        self._follower: Cancellable | None = None
        self.last_error: BaseException | None = None  # the last error kept from breaking a run
        if batch_run is not None:
            self.attach(batch_run)

    @property
    def batch_run(self) -> Any:
        return self._batch_run

    def attach(self, batch_run: Any) -> None:
        """Show `batch_run` (a re-run of failed batches replaces the one shown) and follow it."""
        self.detach()
        self._batch_run = batch_run
        self.name = batch_run.name
        self.dashboard = batch_run.dashboard_link or ""
        self.refresh()
        if not batch_run.done():
            self._follower = self._ticker(self._interval, self.tick)

    def detach(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            self._follower = None

    def tick(self) -> bool:
        """One look at the batch run; False once it ended (the follower stops)."""
        self.refresh()
        return self._batch_run is not None and not self._batch_run.done()

    def finish(self) -> None:
        """The final state, now (the batch run ended)."""
        self.detach()
        self.refresh()

    def refresh(self) -> None:
        """Assign the traits from the batch run, if anything changed; never raises."""
        batch_run = self._batch_run
        if batch_run is None:
            return
        try:
            cells = json.dumps(_cells(batch_run), separators=(",", ":"))
            status = batch_run.status
            with self._lock:
                if cells != self.cells_json or status != self.status:
                    with self.hold_sync():
                        self.cells_json = cells
                        self.status = status
                        self.dashboard = batch_run.dashboard_link or ""
        except Exception as error:  # a widget problem never breaks the batch run
            self.last_error = error

    def __repr__(self) -> str:
        count = len(self._batch_run.runs) if self._batch_run is not None else 0
        return f"BatchGrid({self.name or 'no batch run'}, batches={count})"


def _cells(batch_run: Any) -> list[dict[str, Any]]:
    runs = batch_run.runs
    return [_cell(index, run, len(runs)) for index, run in enumerate(runs)]


def _cell(index: int, run: Any, total: int) -> dict[str, Any]:
    state = run.status if run is not None else "pending"
    words = f"batch {index + 1} of {total} (runs[{index}]): {state}"
    if run is not None and state in SETTLED:
        seconds = _seconds(run)
        if seconds is not None:
            words += f" in {seconds:.2f} s"
        errors = run.errors if state == "failed" else {}
        for node, info in errors.items():
            words += f"; {node}: {info.type}: {info.message}"
            break
    return {"index": index, "state": state, "title": words}


def _seconds(run: Any) -> float | None:
    times = [(r.started, r.finished) for r in run.nodes.values() if r.started and r.finished]
    if not times:
        return None
    return max(end for _, end in times) - min(start for start, _ in times)


class BatchView(ipywidgets.VBox):
    """The grid and, once a batch is clicked, that batch's run in a `RunWidget` below it."""

    def __init__(self, batch_run: Any = None, *, ticker: Ticker = thread_ticker) -> None:
        self.grid = BatchGrid(ticker=ticker)
        self.run_widget = RunWidget(ticker=ticker)
        self.run_widget.layout.display = "none"  # until a batch is chosen
        super().__init__([self.grid, self.run_widget])
        self.grid.observe(self._chosen, names="selected")
        if batch_run is not None:
            self.attach(batch_run)

    def attach(self, batch_run: Any) -> None:
        self.grid.attach(batch_run)
        if self.grid.selected >= 0:
            self._show(self.grid.selected)

    def finish(self) -> None:
        self.grid.finish()
        if self.run_widget.run is not None:
            self.run_widget.finish()

    def select(self, index: int) -> None:
        """What a click on batch `index` does: show its graph below the grid."""
        self.grid.selected = index

    def _chosen(self, change: dict[str, Any]) -> None:
        self._show(change["new"])

    def _show(self, index: int) -> None:
        batch_run = self.grid.batch_run
        if batch_run is None or not 0 <= index < len(batch_run.runs):
            self.run_widget.layout.display = "none"
            return
        run = batch_run.runs[index]
        if run is None:
            return
        try:
            self.run_widget.attach(run)
            self.run_widget.layout.display = None
        except Exception as error:  # keep the grid usable whatever the run widget says
            self.grid.last_error = error

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # The saved picture: what a viewer without the kernel shows (and JupyterLab, through
        # the lab extension's saved-view renderer). Re-displayed at the batch run's end.
        data = super()._repr_mimebundle_(**kwargs)
        data["text/html"] = batch_snapshot_html(self.grid.batch_run)
        return with_saved_view(data)

    def __repr__(self) -> str:
        return f"BatchView({self.grid.name or 'no batch run'})"


def batch_snapshot_html(batch_run: Any) -> str:
    """A static, script-free picture of a batch run: its counts, then one line per batch."""
    if batch_run is None:
        return '<div class="pointy-batch-snapshot">Pointy batch run: starting</div>'
    cells = _cells(batch_run)
    states = [cell["state"] for cell in cells]
    counts = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states))
    rows = []
    for cell in cells:
        fill, _border, ink = STATE_COLOURS.get(cell["state"], STATE_COLOURS["pending"])
        rows.append(
            f'<li style="color:{ink};background:{fill};padding:1px 6px;margin:1px 0;'
            f'border-radius:3px">{html.escape(cell["title"])}</li>'
        )
    name = html.escape(batch_run.name or "batch run")
    return (
        '<div class="pointy-batch-snapshot" style="font-family:sans-serif;font-size:13px">'
        f"<div><strong>Pointy batch run {name}</strong>: {html.escape(str(batch_run.status))}"
        f" · {len(cells)} batches ({html.escape(counts)})</div>"
        f'<ol style="list-style:none;padding:0;margin:4px 0">{"".join(rows)}</ol></div>'
    )
