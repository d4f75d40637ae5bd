"""The batch notebook in a real JupyterLab (Chromium, Playwright): the grid fills in live, a click
shows that batch's graph below it, the Dask grid links to the dashboard; light and dark shots.

Screenshots go to `artifacts/batch/` (git-ignored); POINTY_SHOTS=DIR puts them there instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import UPSTREAM_ERRORS, lab_server, open_tour, switch_theme

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03-batch-and-dask.ipynb"
SHOTS = Path(os.environ.get("POINTY_SHOTS") or ROOT / "artifacts" / "batch")
TIMEOUT = 60_000  # milliseconds for anything in the page
FIRST_GRID = '[data-test="grid"] .pointy-batch'
DASK_GRID = '[data-test="dask"] .pointy-batch'
STATES = ["pending", "running", "succeeded", "failed", "cancelled", "skipped"]
# WCAG contrast of a batch cell's text on its fill, for every state, on a scratch copy of a cell.
CONTRAST = """states => {
    const cell = document.querySelector('[data-test="grid"] .pointy-batch-cell');
    const probe = cell.cloneNode(true);
    cell.parentNode.append(probe);
    const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
        const f = (c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratios = {};
    for (const state of states) {
        probe.dataset.state = state;
        const style = getComputedStyle(probe);
        const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
        ratios[state] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }
    probe.remove();
    return ratios;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from lab_server(tmp_path_factory, NOTEBOOK)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.evaluate("async () => { await jupyterapp.serviceManager.sessions.shutdownAll(); }")
    page.close()
    assert [error for error in errors if error not in UPSTREAM_ERRORS] == []


def mark_and_watch(page: Any) -> None:
    """Tag the two batch cells; record every state a batch cell of the first grid shows."""
    page.evaluate(
        """() => {
            const panel = jupyterapp.shell.currentWidget;
            for (const cell of panel.content.widgets) {
                const source = cell.model.sharedModel.getSource();
                if (source.startsWith('%%pointy --pipeline SquaresBatch --input "numbers=[1, 2'))
                    cell.node.dataset.test = source.includes('--executor dask') ? 'dask' : 'grid';
            }
            window.seen = new Set();
            new MutationObserver((mutations) => {
                for (const m of mutations) {
                    const b = m.target;
                    if (b.matches && b.matches('[data-test="grid"] .pointy-batch-cell'))
                        window.seen.add(b.dataset.state);
                }
            }).observe(document.body, {
                subtree: true, attributes: true, attributeFilter: ['data-state'],
            });
        }"""
    )


def run_cells_one_by_one(page: Any) -> None:
    """Run every code cell in order (run-all would stop at the cell that raises on purpose)."""
    page.evaluate(
        """async () => {
            const panel = jupyterapp.shell.currentWidget;
            const cells = panel.content.widgets;
            for (let i = 0; i < cells.length; i++) {
                if (cells[i].model.type !== 'code') continue;
                panel.content.activeCellIndex = i;
                await jupyterapp.commands.execute('notebook:run-cell');
            }
        }""",
    )


def shoot(page: Any, cell: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f'[data-test="{cell}"] .jp-Cell-outputWrapper').screenshot(
        path=str(SHOTS / f"{name}.png")
    )


def test_the_batch_grid_is_live_and_opens_a_batchs_graph(page: Any, server: str) -> None:
    open_tour(page, f"{server}/lab?reset", NOTEBOOK.name)
    mark_and_watch(page)
    run_cells_one_by_one(page)

    cells = page.locator(f"{FIRST_GRID} .pointy-batch-cell")
    assert cells.count() == 8
    states = [cells.nth(i).get_attribute("data-state") for i in range(8)]
    assert states == ["succeeded"] * 3 + ["failed"] + ["succeeded"] * 4
    seen = page.evaluate("() => [...window.seen]")
    assert "running" in seen  # drawn while the batches ran, not only at the end
    assert page.get_attribute(FIRST_GRID, "data-status") == "failed"
    assert page.text_content(f"{FIRST_GRID} .pointy-batch-counts") == (
        "8 batches: 7 succeeded, 1 failed"
    )
    assert cells.nth(3).get_attribute("title").endswith("; Check: ValueError: -4 is negative")
    assert page.is_hidden(f"{FIRST_GRID} .pointy-batch-dashboard")  # processes: no dashboard
    graph = '[data-test="grid"] .pointy-widget'
    assert page.is_hidden(graph)  # no graph until a batch is clicked

    cells.nth(3).click()
    page.wait_for_selector(f'{graph} g.pointy-node[data-node="Check"][data-state="failed"]')
    assert page.get_attribute(f"{graph} .pointy-status", "data-status") == "failed"
    assert "pointy-batch-selected" in cells.nth(3).get_attribute("class")
    shoot(page, "grid", "batch-grid-light")
    light = page.evaluate(CONTRAST, STATES)
    assert {k: round(v, 2) for k, v in light.items() if v < 4.5} == {}  # WCAG AA

    link = page.locator(f"{DASK_GRID} .pointy-batch-dashboard")
    assert link.is_visible()
    assert link.get_attribute("href").startswith("http://127.0.0.1:")
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(11, 92, 173)"  # a link's blue
    dask_cells = page.locator(f"{DASK_GRID} .pointy-batch-cell")
    assert [dask_cells.nth(i).get_attribute("data-state") for i in range(4)] == ["succeeded"] * 4
    shoot(page, "dask", "batch-grid-dask-light")

    switch_theme(page, "JupyterLab Dark")
    cells.nth(0).click()  # another batch: its own graph replaces the first
    page.wait_for_selector(f'{graph} g.pointy-node[data-node="Square"][data-state="succeeded"]')
    fill = cells.nth(3).evaluate("b => getComputedStyle(b).backgroundColor")
    assert fill == "rgb(127, 0, 0)"  # the dark theme's failed fill
    shoot(page, "grid", "batch-grid-dark")
    dark = page.evaluate(CONTRAST, STATES)
    assert {k: round(v, 2) for k, v in dark.items() if v < 4.5} == {}
    print("contrast light", {k: round(v, 1) for k, v in light.items()})
    print("contrast dark", {k: round(v, 1) for k, v in dark.items()})
    shoot(page, "dask", "batch-grid-dask-dark")
    switch_theme(page, "JupyterLab Light")
