"""The jobs widget of `%pointy jobs` in a real JupyterLab (Chromium, Playwright): a scheduled
job's printing shows in the widget and nowhere else; Pause works; light and dark screenshots.

Reuses the Lab server and page fixtures of test_browser.py. Screenshots land in
ci-artifacts/scheduling/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_browser import page, server, switch_theme  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "ci-artifacts" / "scheduling"
CELLS = [
    "%load_ext pointy_jupyter\nticks = []\ndef tick():\n    ticks.append(1)\n"
    "    print(f'tick {len(ticks)}')",
    "%%pointy --every 0.3\ntick",
    "%pointy jobs",
    "import time\ntime.sleep(1.5)\nprint('busy cell done')",
]


def notebook_json() -> str:
    cells = [
        {"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
        for s in CELLS
    ]
    kernel = {"name": "python3", "display_name": "Python 3"}
    return json.dumps(
        {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    )


def open_jobs_notebook(pg: Any, url: str) -> None:
    pg.goto(f"{url}/lab?reset")
    pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.serviceManager")
    pg.evaluate(
        """async nb => {
            await jupyterapp.restored;
            await jupyterapp.serviceManager.sessions.shutdownAll();
            await jupyterapp.serviceManager.contents.save('jobs.ipynb',
                {type: 'notebook', format: 'json', content: JSON.parse(nb)});
            await jupyterapp.commands.execute('docmanager:open', {path: 'jobs.ipynb'});
        }""",
        notebook_json(),
    )
    pg.wait_for_function(
        "() => { const w = jupyterapp.shell.currentWidget; return w && w.sessionContext"
        " && w.content.widgets.length === 4; }"
    )
    pg.evaluate(
        """async () => {
            const panel = jupyterapp.shell.currentWidget;
            await panel.sessionContext.ready;
            await panel.sessionContext.session.kernel.info;
            panel.content.widgets.forEach((cell, i) => { cell.node.dataset.test = `cell${i}`; });
        }"""
    )


def output_text(pg: Any, cell: int) -> str:
    return pg.locator(f'[data-test="cell{cell}"] .jp-OutputArea').first.inner_text()


def test_the_jobs_widget_shows_its_jobs_output_and_pauses(page: Any, server: str) -> None:  # noqa: F811
    open_jobs_notebook(page, server)
    page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
    jobs = page.locator('[data-test="cell2"]')
    page.wait_for_function(
        "() => (document.querySelector('[data-test=\"cell3\"] .jp-OutputArea') || {})"
        ".innerText?.includes('busy cell done')",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-test=\"cell2\"]').innerText.includes('tick 3')"
    )
    assert "tick — every 0.3 s; next run: " in jobs.inner_text()
    # The job printed only into its widget: not under the cell that scheduled it, nor the busy one.
    assert "tick 1" not in output_text(page, 1)
    assert "tick 1" not in output_text(page, 3)
    assert output_text(page, 3).strip() == "busy cell done"
    jobs.get_by_role("button", name="Pause").click()
    page.wait_for_function(
        "() => document.querySelector('[data-test=\"cell2\"]').innerText"
        ".includes('next run: paused')"
    )
    # Screenshots once paused: no output updates while the theme changes.
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    jobs.locator(".jp-OutputArea").first.screenshot(path=str(SHOTS / "jobs-light.png"))
    switch_theme(page, "JupyterLab Dark")
    page.mouse.move(0, 0)
    jobs.locator(".jp-OutputArea").first.screenshot(path=str(SHOTS / "jobs-dark.png"))
    switch_theme(page, "JupyterLab Light")
