"""Stale steps and cache hits in a real JupyterLab, driven by Chromium (Playwright).

notebooks/05-iterate.ipynb runs cell by cell: a later cell redefines `Clean`, and the widget
of the earlier `%%pointy` cell outlines `Clean` and `Total` as stale within a second; its
"Re-run stale" button runs just those two (the kernel's own list of what ran says so) and the
same picture updates. Then the cached runs: a cached step's details say when it was computed.
Screenshots of both, light and dark, go to artifacts/stale/ (git-ignored) for a look by eye.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_browser
from test_browser import lab_server, mark_cells_and_watch, node, open_tour

pytestmark = pytest.mark.browser

page = test_browser.page  # the page fixture: console errors fail the test

ROOT = Path(__file__).resolve().parents[1]
ITERATE = ROOT / "notebooks" / "05-iterate.ipynb"
SHOTS = ROOT / "artifacts" / "stale"
CELLS = {
    "run": "%%pointy -o run",
    "redefine": 'def Clean(previous_result):\n    ran.append("Clean")\n'
    "    return sorted(previous_result)",
    "second": "%%pointy --cache -o second",
    "third": "%%pointy --cache -o third",
}
STALE_WITHIN_MS = 1000  # the issue: stale within a second of the defining cell finishing


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from lab_server(tmp_path_factory, ITERATE)


def cell_index(page: Any, name: str) -> int:
    return page.evaluate(
        """name => jupyterapp.shell.currentWidget.content.widgets
                .findIndex(cell => cell.node.dataset.test === name)""",
        name,
    )


def run_cells(page: Any, command: str, index: int) -> float:
    """Make cell `index` active and run `command` (a notebook command); wait for the kernel to
    be idle. Returns the page's clock (ms) when the command's cells had finished."""
    return page.evaluate(
        """async ([command, index]) => {
            const panel = jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = index;
            await jupyterapp.commands.execute(command);
            const finished = performance.now();
            const kernel = panel.sessionContext.session.kernel;
            while (kernel.status !== 'idle') await new Promise(r => setTimeout(r, 20));
            return finished;
        }""",
        [command, index],
    )


def kernel_says(page: Any, code: str) -> str:
    """What `code` prints in the notebook's kernel (a silent execute request: no cell)."""
    return page.evaluate(
        """async code => {
            const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({code, silent: false, store_history: false});
            let text = '';
            future.onIOPub = msg => {
                if (msg.header.msg_type === 'stream') text += msg.content.text;
            };
            await future.done;
            return text;
        }""",
        code,
    )


def watch_stale(page: Any) -> None:
    """Note when each node of the run cell's widget gains or loses its stale outline."""
    page.evaluate(
        """() => {
            window.staleAt = {};
            window.staleSeen = [];
            new MutationObserver(mutations => {
                for (const m of mutations) {
                    const g = m.target;
                    if (!g.matches || !g.matches('[data-test="run"] g.pointy-node')) continue;
                    const on = g.getAttribute('data-stale') === 'true';
                    window.staleSeen.push(`${g.dataset.node}:${on}`);
                    if (on && !(g.dataset.node in window.staleAt))
                        window.staleAt[g.dataset.node] = performance.now();
                }
            }).observe(document.body, {
                subtree: true, attributes: true, attributeFilter: ['data-stale'],
            });
        }"""
    )


def stale_nodes(page: Any, cell: str) -> list[str]:
    return page.evaluate(
        """cell => [...document.querySelectorAll(
                `[data-test="${cell}"] g.pointy-node[data-stale="true"]`)]
            .map(g => g.dataset.node).sort()""",
        cell,
    )


def shoot(page: Any, cell: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f'[data-test="{cell}"] .pointy-widget').screenshot(path=str(SHOTS / name))


def in_both_themes(page: Any, cell: str, name: str) -> None:
    """Screenshots of the cell's widget in JupyterLab Light and Dark; back to light after."""
    shoot(page, cell, f"{name}-light.png")
    for theme, light in (("JupyterLab Dark", "false"), ("JupyterLab Light", "true")):
        test_browser.switch_theme(page, theme)
        if light == "false":
            shoot(page, cell, f"{name}-dark.png")


def test_a_later_cell_makes_an_earlier_widget_stale_and_rerun_stale_runs_only_those(
    page: Any, server: str
) -> None:
    open_tour(page, f"{server}/lab?reset", ITERATE.name)
    mark_cells_and_watch(page, CELLS)
    redefine = cell_index(page, "redefine")
    assert redefine > cell_index(page, "run")

    run_cells(page, "notebook:run-all-above", redefine)
    page.wait_for_selector('[data-test="run"] .pointy-status[data-status="succeeded"]')
    assert stale_nodes(page, "run") == []
    assert page.is_disabled('[data-test="run"] button.pointy-rerun-stale')

    watch_stale(page)
    finished = run_cells(page, "notebook:run-cell", redefine)  # the cell that redefines Clean
    page.wait_for_function(
        "() => ['Clean', 'Total'].every(id => id in window.staleAt)", timeout=5_000
    )
    stale_at = page.evaluate("() => window.staleAt")
    assert sorted(stale_at) == ["Clean", "Total"]  # Load does not depend on Clean
    late = max(stale_at.values()) - finished
    assert late <= STALE_WITHIN_MS, f"stale {late:.0f} ms after the cell finished"
    assert stale_nodes(page, "run") == ["Clean", "Total"]
    clean = page.locator(node("run", "Clean"))
    outline = clean.locator("rect").evaluate(
        """rect => {
            const style = getComputedStyle(rect);
            const id = style.stroke.match(/url\\("?#([^")]+)/)[1];
            const band = document.getElementById(id).querySelector('.pointy-stale-band');
            return [style.strokeDasharray, getComputedStyle(band).fill];
        }"""
    )
    # Striped, not dashed like the pipe edge: bands of --pointy-stale-line in the pattern stroke
    assert outline == ["none", "rgb(142, 36, 170)"]
    assert page.is_visible('[data-test="run"] .pointy-legend-stale')
    assert page.is_enabled('[data-test="run"] button.pointy-rerun-stale')
    in_both_themes(page, "run", "stale")

    page.evaluate("() => { window.seen = []; window.staleSeen = []; }")
    page.click('[data-test="run"] button.pointy-rerun-stale')
    page.wait_for_function(
        """() => {
            const q = s => document.querySelector(`[data-test="run"] ${s}`);
            return q('.pointy-status').dataset.status === 'succeeded'
                && !q('g.pointy-node[data-stale="true"]')
                && window.seen.includes('run:Total:succeeded');
        }"""
    )
    seen = page.evaluate("() => window.seen")
    assert "run:Clean:succeeded" in seen
    # Load was not run again: the picture shows its kept value throughout, never pending.
    assert {entry for entry in seen if entry.startswith("run:Load:")} <= {"run:Load:succeeded"}
    assert "run:Clean:running" in seen or "run:Clean:pending" in seen  # Clean did go again
    states = {
        step: page.get_attribute(node("run", step), "data-state")
        for step in ("Load", "Clean", "Total")
    }
    assert states == dict.fromkeys(("Load", "Clean", "Total"), "succeeded")
    assert page.is_disabled('[data-test="run"] button.pointy-rerun-stale')
    printed = kernel_says(page, "print(ran, run.value, run.tags['mode'], run.stale)")
    # The first run ran all three; the re-run only Clean (its new code: duplicates kept) and Total.
    assert printed == "['Load', 'Clean', 'Total', 'Clean', 'Total'] 31 stale []\n"
    in_both_themes(page, "run", "rerun-stale")


def test_cached_steps_are_drawn_as_cached_and_say_when_they_ran(page: Any, server: str) -> None:
    open_tour(page, f"{server}/lab?reset", ITERATE.name)
    mark_cells_and_watch(page, CELLS)
    run_cells(page, "notebook:run-all-cells", 0)
    page.wait_for_selector('[data-test="third"] .pointy-status[data-status="succeeded"]')

    second = {
        step: page.get_attribute(node("second", step), "data-state")
        for step in ("Load", "Clean", "Total")
    }
    assert second == dict.fromkeys(("Load", "Clean", "Total"), "cached")
    third = {
        step: page.get_attribute(node("third", step), "data-state")
        for step in ("Load", "Clean", "Total")
    }
    assert third == {"Load": "cached", "Clean": "cached", "Total": "succeeded"}
    fill = (
        page.locator(node("second", "Clean"))
        .locator("rect")
        .evaluate("rect => getComputedStyle(rect).fill")
    )
    assert fill == "rgb(224, 242, 241)"  # --pointy-cached-fill

    page.click(node("second", "Load"))
    where = page.locator('[data-test="second"] .pointy-detail[data-node="Load"] .pointy-where')
    where.wait_for()
    computed = kernel_says(
        page,
        "import time; print(time.strftime('%Y-%m-%d %H:%M:%S',"
        " time.localtime(second.nodes['Load'].cached_at)))",
    ).strip()
    assert where.text_content() == f"from the cache: the event did not run; computed {computed}"
    facts = page.text_content('[data-test="second"] .pointy-detail .pointy-facts')
    took = json.loads(kernel_says(page, "print(second.nodes['Load'].duration * 1000)"))
    assert took >= 300  # Load sleeps 0.3 s: the time it took when it ran, not now
    assert facts == f"took {math.floor(took + 0.5)} ms when it ran"  # as Math.round
    status = page.text_content('[data-test="second"] .pointy-status-text')
    assert status.endswith(" · succeeded · 3/3 done")  # cache hits count as done
    in_both_themes(page, "second", "cached-details")
    in_both_themes(page, "third", "cached-and-run")
