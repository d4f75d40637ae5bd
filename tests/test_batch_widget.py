"""The batch grid (headless) and `%%pointy --pipeline SomeBatch` in a real IPython shell."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import CapturedIO, capture_output

from pointy_engine import BatchPipeline, InputDataField, Pipeline
from pointy_engine.batch import BatchRun
from pointy_jupyter.batch_widget import BatchGrid, BatchView
from pointy_jupyter.errors import PointyCellError

WAIT = 30.0


class Halve(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Check |-> Half"


class HalveBatch(BatchPipeline):
    pipeline_template = Halve


def _check(numbers):
    if numbers[0] < 0:
        raise ValueError(f"negative: {numbers[0]}")
    return numbers[0]


def _half(previous_result):
    return previous_result / 2


EVENTS = {"Check": _check, "Half": _half}


class ManualTicker:
    """Stands for the follower thread: the test calls `tick()` itself."""

    def __init__(self) -> None:
        self.ticks: list[Any] = []

    def __call__(self, interval: float, tick: Any) -> Any:
        self.ticks.append(tick)
        return self

    def cancel(self) -> None:
        pass


def _cells(grid: BatchGrid) -> list[dict[str, Any]]:
    return json.loads(grid.cells_json)


def test_the_grid_shows_each_batch_state_and_a_click_shows_that_batchs_graph() -> None:
    gate = threading.Event()

    def held_check(numbers):
        if numbers[0] == 4:
            gate.wait(WAIT)
        return _check(numbers)

    ticker = ManualTicker()
    view = BatchView(ticker=ticker)
    assert repr(view) == "BatchView(no batch run)"
    batch_run = HalveBatch(numbers=[2, -1, 4]).start(
        executor="thread", events={**EVENTS, "Check": held_check}, background=True
    )
    view.attach(batch_run)
    grid = view.grid
    assert grid.name == "HalveBatch"
    assert grid.dashboard == ""  # threads: no Dask dashboard
    for run in (batch_run.runs[0], batch_run.runs[1]):
        run.wait(WAIT)
    grid.tick()
    states = [cell["state"] for cell in _cells(grid)]
    assert states[:2] == ["succeeded", "failed"]
    assert states[2] in ("running", "pending")
    assert grid.status == "running"
    failed = _cells(grid)[1]
    assert failed["title"].startswith("batch 2 of 3 (runs[1]): failed in ")
    assert failed["title"].endswith("; Check: ValueError: negative: -1")
    gate.set()
    batch_run.wait(WAIT)
    assert grid.tick() is False  # the follower stops once the batch run ended
    assert [cell["state"] for cell in _cells(grid)] == ["succeeded", "failed", "succeeded"]
    assert grid.status == "failed"
    assert repr(grid) == "BatchGrid(HalveBatch, batches=3)"

    assert view.run_widget.layout.display == "none"  # no graph until a batch is clicked
    view.select(1)  # what the front end's click does: set `selected`
    assert view.run_widget.run is batch_run.runs[1]
    assert view.run_widget.layout.display is None
    assert view.run_widget.status == "failed"
    view.select(2)
    assert view.run_widget.run is batch_run.runs[2]
    view.select(7)  # not a batch: the graph is hidden again
    assert view.run_widget.layout.display == "none"
    view.finish()


def test_a_widget_problem_never_breaks_the_batch_run() -> None:
    grid = BatchGrid(ticker=ManualTicker())
    batch_run = HalveBatch(numbers=[1, 2]).start(executor="thread", events=EVENTS)

    class Broken:
        name = "Broken"
        dashboard_link = None
        runs = batch_run.runs
        status = "running"

        def done(self) -> bool:
            return False

        @property
        def statuses(self) -> list[str]:
            raise RuntimeError("boom")

    grid.attach(Broken())
    grid._batch_run.runs = None  # _cells() fails on it
    assert grid.tick() is True
    assert isinstance(grid.last_error, TypeError)
    assert batch_run.results == [0.5, 1.0]


# --- the magic ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell() -> Any:
    import IPython

    return start_ipython() or IPython.get_ipython()


@pytest.fixture
def ip(shell: Any) -> Iterator[Any]:
    before = set(shell.user_ns)
    run(shell, "%load_ext pointy_jupyter")
    shell.user_ns.update(EVENTS)
    shell.user_ns["HalveBatch"] = HalveBatch
    yield shell
    run(shell, "%unload_ext pointy_jupyter")
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def run(shell: Any, source: str) -> tuple[ExecutionResult, CapturedIO]:
    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured


def magics(shell: Any) -> Any:
    return shell.magics_manager.registry["PointyMagics"]


def test_a_batch_pipeline_cell_runs_its_batches_and_binds_the_batch_run(ip: Any) -> None:
    result, captured = run(
        ip,
        '%%pointy --pipeline HalveBatch --input "numbers=[2, -1, 6]" --executor thread -o br\n'
        "# every batch runs the template's flow",
    )
    assert result.success, captured.stdout + captured.stderr
    batch_run = ip.user_ns["br"]
    assert isinstance(batch_run, BatchRun)
    assert batch_run.results == [1.0, None, 3.0]
    assert batch_run.statuses == ["succeeded", "failed", "succeeded"]
    # No front end in this shell: a text summary instead of the grid.
    assert captured.stdout == (
        "HalveBatch: 3 batches, 2 succeeded, 1 failed\n"
        "  batch runs[1] failed Check: ValueError: negative: -1\n"
    )
    # The batches' attempts are in the kernel's telemetry, like a single run's.
    metrics = magics(ip).telemetry.metrics()
    mine = metrics[metrics["run_id"].isin([r.id for r in batch_run.runs])]
    # a failed Check has no value to pipe: its Half is skipped, not run (SPEC 2.3)
    assert sorted(mine["event"]) == ["Check"] * 3 + ["Half"] * 2


def test_a_batch_pipeline_cell_shows_the_grid_in_a_notebook(ip: Any) -> None:
    magics(ip).session.widgets = True
    result, captured = run(
        ip,
        '%%pointy --pipeline HalveBatch --input "numbers=[4, 8]" --executor thread -o br\n'
        "# every batch runs the template's flow",
    )
    assert result.success, captured.stdout + captured.stderr
    # The grid, then the same display updated at the end with its final saved picture.
    shown = [out.data["text/plain"] for out in captured.outputs]
    assert shown == ["BatchView(no batch run)", "BatchView(HalveBatch)"]
    assert "2 batches (2 succeeded)" in captured.outputs[-1].data["text/html"]
    assert captured.stdout == ""  # the grid, not the text summary
    assert ip.user_ns["br"].results == [2.0, 4.0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%%pointy --pipeline HalveBatch --input numbers=[1]\nCheck",
            "--pipeline HalveBatch: a BatchPipeline runs its template's flow; leave the cell "
            "body empty (comments only)",
        ),
        (
            "%%pointy --pipeline HalveBatch --input numbers=[1] --plan\n# flow",
            "--pipeline HalveBatch: a batch run from a cell takes no --plan",
        ),
        (
            "%%pointy --pipeline HalveBatch --input numbers=[]\n# flow",
            "HalveBatch: input field 'numbers' is empty: there is nothing to batch",
        ),
    ],
)
def test_batch_cell_mistakes_are_one_line_errors(ip: Any, line: str, message: str) -> None:
    result, _ = run(ip, line)
    failure = result.error_in_exec
    assert isinstance(failure, PointyCellError), repr(failure)
    assert str(failure) == message


def _pids(numbers):
    import os

    return os.getpid()


def test_batch_cells_share_kept_workers_until_the_extension_is_unloaded(ip: Any) -> None:
    from pointy_engine.process_pools import shared_processes

    shared_processes.shutdown()
    ip.user_ns["Check"] = _pids
    ip.user_ns["Half"] = lambda previous_result: previous_result
    cell = (
        '%%pointy --pipeline HalveBatch --input "numbers=[1, 2, 3]" --executor process '
        "--max-workers 2 -o {}\n#"
    )
    for name in ("first", "second"):
        result, captured = run(ip, cell.format(name))
        assert result.success, captured.stdout + captured.stderr
    first, second = ip.user_ns["first"], ip.user_ns["second"]
    assert second._running_on is first._running_on  # the second cell started no worker
    pids = {*first.results, *second.results}
    assert len(pids) <= 2
    run(ip, "%unload_ext pointy_jupyter")
    try:
        assert shared_processes.pools() == {}
        deadline = time.monotonic() + WAIT
        while not all(_gone(pid) for pid in pids):
            assert time.monotonic() < deadline, f"workers {pids} still alive after unload"
            time.sleep(0.05)
    finally:
        run(ip, "%load_ext pointy_jupyter")  # the fixture unloads it again


def _gone(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_batch_views_saved_picture_lists_each_batch_as_it_ended() -> None:
    from pointy_jupyter.saved_view import SAVED_VIEW_MIME

    empty = BatchView(ticker=ManualTicker())._repr_mimebundle_()
    assert SAVED_VIEW_MIME in empty
    assert "starting" in empty["text/html"]
    batch_run = HalveBatch(numbers=[2, -1, 4]).start(executor="thread", events=EVENTS)
    view = BatchView(batch_run, ticker=ManualTicker())
    view.finish()
    data = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data  # the live widget still first
    assert data[SAVED_VIEW_MIME] == {"version": 1}
    html = data["text/html"]
    assert "<script" not in html
    heading = "Pointy batch run HalveBatch</strong>: failed · 3 batches (2 succeeded, 1 failed)"
    assert heading in html
    assert "batch 1 of 3 (runs[0]): succeeded" in html
    assert "batch 2 of 3 (runs[1]): failed" in html
    assert "Check: ValueError: negative: -1" in html
