"""The JupyterLab extension in a real JupyterLab and Notebook 7, driven by Chromium (Playwright).

Reuses the Lab server and page fixtures of test_browser.py; the notebook and the `.pty` file the
tests look into are written through the server's contents API. Screenshots of the highlighting in
the light and dark themes land in ci-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_browser import page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "ci-artifacts" / "labextension"
VERSION = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]

POINTY_CELL = (
    "%%pointy -o run\n"
    "# the nightly job\n"
    "@recursive-depth:50 Fetch -> Clean || Enrich |-> Score (0 -> Alert, 1 -> Save) -> 2 * Report"
)
CELLS = [
    "def Fetch():\n    return 1\n\n\nclass Enrich:\n    pass",
    "Clean = 2\nFetch = 3",
    POINTY_CELL,
    "def Report():\n    return 4",
]
PTY_FILE = "# a file pipeline\nFetch -> Clean * 3 |-> Score (0 -> Alert)\n"
# Every highlighted token of POINTY_CELL, per class, in document order.
CELL_TOKENS = {
    "magic": ["%%pointy"],
    "option": ["-o run"],
    "comment": ["# the nightly job"],
    "directive": ["@recursive-depth:50"],
    "event": ["Fetch", "Clean", "Enrich", "Score", "Alert", "Save", "Report"],
    "operator": ["->", "||", "|->", "->", "->", "->", "*"],
    "arm": ["0", "1"],
    "retry": ["2"],
    "bracket": ["(", ")"],
    "punctuation": [","],
}
PTY_TOKENS = {
    "comment": ["# a file pipeline"],
    "event": ["Fetch", "Clean", "Score", "Alert"],
    "operator": ["->", "*", "|->", "->"],
    "retry": ["3"],
    "arm": ["0"],
    "bracket": ["(", ")"],
}

TOKENS_JS = """root => {
    const found = {};
    for (const el of root.querySelectorAll('[class*="cm-pointy-"]')) {
        for (const name of el.classList) {
            if (!name.startsWith('cm-pointy-')) continue;
            (found[name.slice(10)] ||= []).push(el.textContent);
        }
    }
    return found;
}"""


def notebook_json() -> str:
    cells = [
        {
            "cell_type": "code",
            "source": source,
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
        for source in CELLS
    ]
    kernel = {"name": "python3", "display_name": "Python 3"}
    return json.dumps(
        {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    )


def write_files(pg: Any, url: str) -> None:
    pg.goto(f"{url}/lab?reset")
    pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.serviceManager")
    pg.evaluate(
        """async ([nb, pty]) => {
            await jupyterapp.restored;
            const contents = jupyterapp.serviceManager.contents;
            await contents.save('editor.ipynb', {type: 'notebook', format: 'json',
                                                 content: JSON.parse(nb)});
            await contents.save('flow.pty', {type: 'file', format: 'text', content: pty});
        }""",
        [notebook_json(), PTY_FILE],
    )


def open_notebook(pg: Any, base: str, notebook7: bool = False) -> None:
    write_files(pg, base)
    if notebook7:
        pg.goto(f"{base}/notebooks/editor.ipynb")
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget")
    else:
        pg.evaluate(
            "async () => { await jupyterapp.commands.execute('docmanager:open',"
            " {path: 'editor.ipynb'}); }"
        )
    pg.wait_for_function(
        "() => { const w = jupyterapp.shell.currentWidget; return w && w.content"
        " && w.content.widgets && w.content.widgets.length === 4; }"
    )
    pg.evaluate(
        """() => jupyterapp.shell.currentWidget.content.widgets.forEach(
            (cell, index) => { cell.node.dataset.test = `cell${index}`; })"""
    )
    pg.wait_for_selector('[data-test="cell2"] .cm-pointy-event')


def tokens_of(pg: Any, selector: str) -> dict[str, list[str]]:
    return pg.locator(selector).evaluate(TOKENS_JS)


def active_cell(pg: Any) -> int:
    return pg.evaluate("() => jupyterapp.shell.currentWidget.content.activeCellIndex")


def test_a_pointy_cell_gets_a_class_per_token_kind(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    assert tokens_of(page, '[data-test="cell2"]') == CELL_TOKENS
    assert tokens_of(page, '[data-test="cell3"]') == {}  # a Python cell stays Python
    assert page.evaluate("() => document.body.dataset.pointyLabextension") == VERSION
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator('[data-test="cell2"]').screenshot(path=str(SHOTS / "cell-light.png"))
    page.evaluate(
        "async () => { await jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'}); }"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.locator('[data-test="cell2"]').screenshot(path=str(SHOTS / "cell-dark.png"))
    page.evaluate(
        "async () => { await jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Light'}); }"
    )

    # Typing the magic away turns the cell back into Python on the next edit.
    page.evaluate(
        """() => jupyterapp.shell.currentWidget.content.widgets[2].model.sharedModel
                   .setSource('%%time\\nFetch -> Clean')"""
    )
    page.wait_for_function(
        """() => !document.querySelector('[data-test="cell2"] [class*="cm-pointy-"]')"""
    )


def test_a_pty_file_is_highlighted_and_new_ones_can_be_made(page: Any, server: str) -> None:  # noqa: F811
    write_files(page, server)
    page.evaluate(
        "async () => { await jupyterapp.commands.execute('docmanager:open', {path: 'flow.pty'}); }"
    )
    page.wait_for_selector(".jp-FileEditor .cm-pointy-event")
    assert tokens_of(page, ".jp-FileEditor") == PTY_TOKENS
    assert (
        page.evaluate("() => jupyterapp.shell.currentWidget.content.model.mimeType") == "text/x-pty"
    )
    page.locator(".jp-FileEditor").screenshot(path=str(SHOTS / "pty-light.png"))

    page.evaluate("async () => { await jupyterapp.commands.execute('pointy:new-file', {}); }")
    page.wait_for_function("() => jupyterapp.shell.currentWidget.context.path.endsWith('.pty')")
    assert page.evaluate("() => jupyterapp.commands.label('pointy:new-file')") == "New Pointy file"


def test_the_widget_event_selects_the_last_defining_cell_above(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    dispatch = """name => {
        const output = document.createElement('div');
        document.querySelector('[data-test="cell2"] .jp-Cell-outputWrapper').append(output);
        output.dispatchEvent(new CustomEvent('pointy:goto-definition',
            {bubbles: true, composed: true, detail: {name}}));
        output.remove();
    }"""
    page.evaluate(dispatch, "Enrich")
    assert active_cell(page) == 0
    page.evaluate(dispatch, "Fetch")  # defined in cells 0 and 1: the last one wins
    assert active_cell(page) == 1
    page.evaluate(dispatch, "Report")  # defined only below: nothing moves
    assert active_cell(page) == 1


def test_ctrl_click_on_an_event_jumps_to_its_definition(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    page.evaluate("() => { jupyterapp.shell.currentWidget.content.activeCellIndex = 3; }")
    page.locator('[data-test="cell2"] .cm-pointy-event', has_text="Enrich").click(
        modifiers=["Control"]
    )
    page.wait_for_function("() => jupyterapp.shell.currentWidget.content.activeCellIndex === 0")
    page.locator('[data-test="cell2"] .cm-pointy-event', has_text="Clean").click(
        modifiers=["Control"]
    )
    page.wait_for_function("() => jupyterapp.shell.currentWidget.content.activeCellIndex === 1")


def test_notebook7_highlights_with_the_same_extension(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server, notebook7=True)
    assert tokens_of(page, '[data-test="cell2"]') == CELL_TOKENS
    assert page.evaluate("() => document.body.dataset.pointyLabextension") == VERSION
