"""A saved notebook with Pointy runs, reopened in JupyterLab and Notebook 7 (Chromium).

Reopened with the widgets' kernel gone, each run shows its saved picture and summary (the lab
extension's saved-view renderer), never "Error displaying widget: model not found"; a plain
ipywidgets slider in the same notebook still gets ipywidgets' own message, so other widgets
render as before. With the kernel still alive (a page reload), the live widgets come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import test_browser
from test_browser import lab_server, open_tour, run_all_and_wait

from pointy_jupyter.saved_view import SAVED_VIEW_MIME

pytestmark = pytest.mark.browser

NAME = "saved-runs.ipynb"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "widget"
CELLS = [
    "%load_ext pointy_jupyter",
    "def load():\n    return 21\n\n\n"
    "def double(previous_result):\n    return previous_result * 2\n\n\n"
    "def publish():\n    raise RuntimeError('the report server is down')\n\n\n"
    "def shout():\n    print('shouted from the background')\n    return True",
    "%%pointy -o run\nload |-> double -> publish",
    "%%pointy --background -o bg\nshout",
    "bg.wait(30).status",
    "import ipywidgets\n\nipywidgets.IntSlider(3, description='plain')",
]
MISSING = "model not found"
page = test_browser.page  # the page fixture: console errors fail the test
SAVED = '.pointy-saved-view[data-pointy-showing="saved"]'
LIVE = '.pointy-saved-view[data-pointy-showing="live"]'


def notebook_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, cells: list[str]
) -> Iterator[str]:
    """A JupyterLab server holding one new notebook made of `cells`."""
    notebook = tmp_path_factory.mktemp("nb") / name
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, notebook)
    yield from lab_server(tmp_path_factory, notebook)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from notebook_server(tmp_path_factory, NAME, CELLS)


def outputs_text(page: Any) -> str:
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea')].map(a => a.textContent).join('|')"
    )


def wait_for_the_manager(page: Any) -> None:
    """ipywidgets has restored its state: the plain slider is drawn, or says its model is gone."""
    page.wait_for_function(
        """() => { const c = [...document.querySelectorAll('.jp-CodeCell')].pop();
                   const text = c.querySelector('.jp-OutputArea').textContent;
                   return c.querySelector('.widget-slider') || text.includes('not found'); }"""
    )


def wait_until_settled(page: Any) -> None:
    """Every Pointy output shows the live widget or its saved picture, with no view pending."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('.pointy-saved-view')].every(view => {
                   const showing = view.dataset.pointyShowing;
                   const pending = view.querySelector('.pointy-live-view');
                   return showing === 'live' || (showing === 'saved' && !pending); })"""
    )


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        if theme == "dark":
            set_theme(page, "JupyterLab Dark")
        page.locator(".jp-Notebook").screenshot(path=str(SHOTS / f"{name}-{theme}.png"))
    set_theme(page, "JupyterLab Light")


def set_theme(page: Any, theme: str) -> None:
    test_browser.switch_theme(page, theme)


def test_a_saved_notebook_reopened_without_its_kernel_shows_the_pictures(
    page: Any, server: str
) -> None:
    # Run it live: each run's widget is the live one, with its buttons.
    open_tour(page, f"{server}/lab?reset", NAME)
    run_all_and_wait(page)
    page.wait_for_selector(".pointy-widget .pointy-status[data-status='failed']")
    page.wait_for_selector(".pointy-widget .pointy-status[data-status='succeeded']")
    assert page.locator(f"{LIVE} .pointy-widget").count() == 2
    assert page.locator(f"{LIVE} button.pointy-rerun-failed").count() == 2
    assert page.locator(SAVED).count() == 0
    page.evaluate("async () => { await jupyterapp.commands.execute('docmanager:save'); }")
    saved = page.evaluate(
        "async name => (await (await fetch('/api/contents/' + name)).json()).content", NAME
    )
    marked = [
        output["data"]
        for cell in saved["cells"]
        for output in cell.get("outputs", [])
        if SAVED_VIEW_MIME in output.get("data", {})
    ]
    # two run widgets (text/html snapshot) and the two output areas under them (text/plain)
    assert sorted("text/html" in data for data in marked) == [False, False, True, True]
    assert all("application/vnd.jupyter.widget-view+json" in data for data in marked)

    # Reload the page with the kernel alive: the widgets come back live from the kernel.
    open_again(page, f"{server}/lab?reset")
    wait_for_the_manager(page)
    page.wait_for_selector(".widget-slider")
    page.wait_for_function(
        "live => document.querySelectorAll(live + ' .pointy-widget').length === 2", arg=LIVE
    )
    assert page.locator(f"{LIVE} button.pointy-rerun-failed").count() == 2
    assert MISSING not in outputs_text(page)
    shoot(page, "lab-reloaded-live")

    # Reopen with the kernel gone (JupyterLab starts a new, empty one): the saved pictures.
    open_tour(page, f"{server}/lab?reset", NAME)  # shuts every kernel down first
    wait_for_the_manager(page)
    wait_until_settled(page)
    slider = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea")
    assert "Error displaying widget: model not found" in slider.text_content()  # as before
    assert page.locator(".pointy-widget").count() == 0
    assert page.locator(f"{SAVED} .pointy-snapshot").count() == 2
    run_text = page.locator(".jp-CodeCell").nth(2).locator(".jp-OutputArea").inner_text()
    assert "Pointy run" in run_text
    assert "failed: 2 succeeded, 1 failed" in run_text
    bg_text = page.locator(".jp-CodeCell").nth(3).locator(".jp-OutputArea").inner_text()
    assert "shouted from the background" in bg_text
    assert "succeeded" in bg_text
    pointy_text = "".join(
        page.locator(".jp-CodeCell").nth(i).locator(".jp-OutputArea").inner_text() for i in (2, 3)
    )
    assert MISSING not in pointy_text
    assert "Loading widget" not in pointy_text
    shoot(page, "lab-reopened-saved")

    # Notebook 7 uses the same widget manager and extension.
    page.evaluate("async () => { await jupyterapp.serviceManager.sessions.shutdownAll(); }")
    open_again(page, f"{server}/notebooks/{NAME}")
    wait_for_the_manager(page)
    wait_until_settled(page)
    assert page.locator(f"{SAVED} .pointy-snapshot").count() == 2
    assert page.locator(".pointy-widget").count() == 0
    nb7_text = "".join(
        page.locator(".jp-CodeCell").nth(i).locator(".jp-OutputArea").inner_text() for i in (2, 3)
    )
    assert MISSING not in nb7_text
    assert "shouted from the background" in nb7_text
    page.locator(".jp-Notebook").screenshot(path=str(SHOTS / "nb7-reopened-saved-light.png"))


def open_again(page: Any, url: str) -> None:
    """Load the app again and open the notebook, keeping its kernel session."""
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.serviceManager")
    if "/lab" in url:
        page.evaluate(
            "async path => { await jupyterapp.restored;"
            " await jupyterapp.commands.execute('docmanager:open', {path}); }",
            NAME,
        )
    page.wait_for_function(
        "() => { const w = jupyterapp.shell.currentWidget; return w && w.sessionContext; }"
    )
    page.evaluate(
        """async () => { const panel = jupyterapp.shell.currentWidget;
            await panel.context.ready; await panel.sessionContext.ready; }"""
    )
