"""The example notebooks are committed executed, so strict nbval has outputs to compare.

nbval itself runs them (`--nbval` in pyproject's addopts, `notebooks` in testpaths); it skips a
cell that was never executed, so a notebook saved without outputs would pass unchecked.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_example_notebooks() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01-tour.ipynb",
        "02-telemetry.ipynb",
        "03-batch-and-dask.ipynb",
        "04-scheduling.ipynb",
        "05-iterate.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_a_notebook_is_saved_executed_in_order_without_unexpected_errors(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    # A cell that shows a mistake on purpose says so with nbval's `raises-exception` tag.
    unexpected = [
        output
        for cell in code
        if "raises-exception" not in cell.metadata.get("tags", ())
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert unexpected == []
    # Executed with --ExecutePreprocessor.store_widget_state=False: no model state full of ids.
    assert "widgets" not in notebook.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_a_finished_blocking_run_is_saved_with_its_final_picture(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if not cell.source.startswith("%%pointy") or "--background" in cell.source.split("\n")[0]:
            continue
        for output in cell.outputs:
            plain = output.get("data", {}).get("text/plain", "")
            if plain.startswith("RunWidget(run='"):
                assert "status='pending'" not in plain, cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_a_saved_notebook_has_no_stray_output_text_nor_paths_of_this_machine(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    texts = [
        output.get("data", {}).get("text/plain", "") or output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]
    assert texts  # the notebook is saved executed
    assert [text for text in texts if "Output()" in text] == []  # empty output areas say nothing
    home = str(Path.home())
    assert [text for text in texts if home in text or "/tmp/" in text] == []
