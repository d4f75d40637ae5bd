"""The JupyterLab extension in a real JupyterLab and Notebook 7, driven by Chromium (Playwright).

Reuses the Lab server and page fixtures of test_browser.py; the notebook and the `.pty` file the
tests look into are written through the server's contents API. Screenshots of the highlighting in
the light and dark themes land in ci-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_browser import page, server, switch_theme  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("POINTY_SHOTS", ROOT / "ci-artifacts")) / "labextension"
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
    switch_theme(page, "JupyterLab Dark")
    page.locator('[data-test="cell2"]').screenshot(path=str(SHOTS / "cell-dark.png"))
    switch_theme(page, "JupyterLab Light")

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


def set_cell(pg: Any, index: int, source: str) -> None:
    pg.evaluate(
        "([index, source]) => jupyterapp.shell.currentWidget.content.widgets[index]"
        ".model.sharedModel.setSource(source)",
        [index, source],
    )


CELL2 = '[data-test="cell2"]'
DIAGNOSTIC = f"{CELL2} .cm-pointy-diagnostic"
EDITOR2 = f"{CELL2} .cm-editor"


def checks_done(pg: Any, editor: str = EDITOR2) -> int:
    return int(pg.get_attribute(editor, "data-pointy-checks") or 0)


def set_and_check(pg: Any, source: str, *, kernel: bool = False) -> None:
    """Give cell 2 `source` and wait for its next check (and the kernel's answer, if asked)."""
    before = checks_done(pg)
    set_cell(pg, 2, source)
    pg.wait_for_function(
        "([selector, before, kernel]) => { const el = document.querySelector(selector);"
        " return Number(el.dataset.pointyChecks || 0) > before && !el.dataset.pointyPending"
        " && (!kernel || el.dataset.pointyKernel !== 'asking'); }",
        arg=[EDITOR2, before, kernel],
    )


def underlined(pg: Any) -> list[tuple[str, str]]:
    """(underlined text, its message) for each problem of cell 2."""
    pairs = pg.eval_on_selector_all(
        DIAGNOSTIC, "els => els.map(el => [el.textContent, el.dataset.message])"
    )
    return [tuple(pair) for pair in pairs]


def hover_message(pg: Any, mark: Any) -> str:
    tip = pg.locator(".cm-pointy-diagnostic-tooltip")
    for _ in range(2):  # a pointer that landed while the page still moved: move it again
        mark.hover()
        try:
            tip.wait_for(timeout=5000)
            return tip.text_content()
        except Exception:  # Playwright's TimeoutError
            pg.mouse.move(0, 0)
    mark.hover()
    tip.wait_for()
    return tip.text_content()


def kernel_says(body: str, namespace: dict[str, Any] | None = None) -> list[str]:
    """The problem lines the kernel prints for a cell with this body (no caret lines)."""
    from pointy_engine.errors import PointyError
    from pointy_engine.graph import build_graph
    from pointy_engine.plan import Plan
    from pointy_jupyter.errors import cell_message

    try:
        graph = build_graph(body)
        if namespace is not None:
            Plan(graph, namespace)
    except PointyError as error:
        lines = cell_message(error).splitlines()
        return [line.removeprefix("syntax error: ") for line in lines if " at line " in line]
    return []


def test_syntax_errors_are_underlined_as_you_type_without_a_kernel(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    # A long magic line: the underline must still land on the offending character.
    body = "Fetch -> Clean\n  -> $Score"
    set_and_check(page, f"%%pointy -o run --executor thread\n{body}")
    [message] = kernel_says(body)
    assert message == "unexpected character '$' at line 3, column 6"
    assert underlined(page) == [("$", message)]
    assert hover_message(page, page.locator(DIAGNOSTIC)) == message
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-NotebookPanel").screenshot(path=str(SHOTS / "diagnostic-light.png"))
    switch_theme(page, "JupyterLab Dark")
    page.mouse.move(0, 0)
    hover_message(page, page.locator(DIAGNOSTIC))
    page.locator(".jp-NotebookPanel").screenshot(path=str(SHOTS / "diagnostic-dark.png"))
    switch_theme(page, "JupyterLab Light")

    # The end of the text: the caret sits past it, the underline on its last character.
    set_and_check(page, "%%pointy\nFetch ->")
    assert underlined(page) == [(">", *kernel_says("Fetch ->"))]
    assert kernel_says("Fetch ->") == [
        "unexpected end of input; expected an event name, a number or '(' at line 2, column 9"
    ]

    # Check problems, all of them at once, in order.
    body = "Fetch * 1 -> Score (0 -> A, 0 -> B)"
    set_and_check(page, f"%%pointy\n{body}")
    assert underlined(page) == list(zip(["Fetch * 1", "0"], kernel_says(body), strict=True))

    # Typing the fix by hand takes the underline away at the next check.
    set_and_check(page, "%%pointy\nFetch -> ")
    assert len(underlined(page)) == 1
    before = checks_done(page)
    page.locator(f"{CELL2} .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("Score")
    page.wait_for_function(
        "([s, n]) => { const el = document.querySelector(s);"
        " return Number(el.dataset.pointyChecks) > n && !el.dataset.pointyPending; }",
        arg=[EDITOR2, before],
    )
    assert underlined(page) == []

    # A cell that stops being Pointy loses its underline.
    set_and_check(page, "%%pointy\nFetch ->")
    assert len(underlined(page)) == 1
    set_cell(page, 2, "%%time\nFetch ->")
    page.wait_for_selector(DIAGNOSTIC, state="detached")


def wait_for_kernel_answer(pg: Any, checks_before: int, state: str = "answered") -> None:
    """Wait, with no edit, for a check after `checks_before` whose kernel question ended `state`."""
    pg.wait_for_function(
        "([s, n, state]) => { const el = document.querySelector(s);"
        " return Number(el.dataset.pointyChecks) > n && !el.dataset.pointyPending"
        " && el.dataset.pointyKernel === state; }",
        arg=[EDITOR2, checks_before, state],
        timeout=30000,
    )


def test_the_kernel_underlines_unknown_names(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    page.evaluate(
        """async () => { const context = jupyterapp.shell.currentWidget.sessionContext;
            await context.ready; await context.session.kernel.info; }"""
    )
    set_and_check(page, "%%pointy\nFetch -> Fetc", kernel=True)
    assert page.get_attribute(EDITOR2, "data-pointy-kernel") == "silent"
    assert underlined(page) == []  # no pointy_jupyter in the kernel: it cannot tell
    checks_before_load = checks_done(page)
    page.evaluate(
        """async () => {
            const panel = jupyterapp.shell.currentWidget;
            await panel.sessionContext.ready;
            const code = '%load_ext pointy_jupyter\\ndef Fetch():\\n    return 1';
            await panel.sessionContext.session.kernel.requestExecute({code}).done;
        }"""
    )
    namespace = {"Fetch": lambda: 1}
    # No edit since: the kernel turning idle after the cell ran makes the editor ask again.
    wait_for_kernel_answer(page, checks_before_load)
    assert underlined(page) == [("Fetc", kernel_says("Fetch -> Fetc", namespace)[0])]
    # A letter outside the BMP before the names: offsets count UTF-16 units on both sides.
    body = "\U00010400 -> Fetch -> Fetc"
    set_and_check(page, f"%%pointy -o run --executor thread\n{body}", kernel=True)
    assert page.get_attribute(EDITOR2, "data-pointy-kernel") == "answered"
    expected = kernel_says(body, namespace)
    assert expected[1] == "unknown event 'Fetc' (did you mean 'Fetch'?) at line 2, column 15"
    assert underlined(page) == list(zip(["\U00010400", "Fetc"], expected, strict=True))
    assert hover_message(page, page.locator(DIAGNOSTIC).nth(1)) == expected[1]
    page.locator(".jp-NotebookPanel").screenshot(path=str(SHOTS / "unknown-name-light.png"))
    switch_theme(page, "JupyterLab Dark")
    page.mouse.move(0, 0)
    page.locator(CELL2).scroll_into_view_if_needed()
    hover_message(page, page.locator(DIAGNOSTIC).nth(1))
    page.locator(".jp-NotebookPanel").screenshot(path=str(SHOTS / "unknown-name-dark.png"))
    switch_theme(page, "JupyterLab Light")

    # Typing the missing letter and defining the other name: nothing left to underline.
    page.evaluate(
        """async () => {
            const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            await kernel.requestExecute({code: '\U00010400 = Fetch'}).done; }"""
    )
    before = checks_done(page)
    page.locator(f"{CELL2} .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("h")
    page.wait_for_function(
        "([s, n]) => { const el = document.querySelector(s);"
        " return Number(el.dataset.pointyChecks) > n && !el.dataset.pointyPending"
        " && el.dataset.pointyKernel === 'answered'; }",
        arg=[EDITOR2, before],
    )
    assert underlined(page) == []

    # A restarted kernel (no pointy_jupyter loaded yet) is asked again without an edit: the old
    # kernel's underline must go, and comes back once the new kernel can tell.
    set_and_check(page, "%%pointy\nFetch -> Fetc", kernel=True)
    assert [text for text, _ in underlined(page)] == ["Fetc"]
    before = checks_done(page)
    page.evaluate(
        """async () => {
            const context = jupyterapp.shell.currentWidget.sessionContext;
            await context.session.kernel.restart(); }"""
    )
    wait_for_kernel_answer(page, before, state="silent")
    assert underlined(page) == []
    before = checks_done(page)
    page.evaluate(
        """async () => {
            const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const code = '%load_ext pointy_jupyter\\ndef Fetch():\\n    return 1';
            await kernel.requestExecute({code}).done; }"""
    )
    wait_for_kernel_answer(page, before)
    assert [text for text, _ in underlined(page)] == ["Fetc"]


def test_a_pty_file_is_checked_as_you_type(page: Any, server: str) -> None:  # noqa: F811
    write_files(page, server)
    page.evaluate(
        "async () => { await jupyterapp.commands.execute('docmanager:open', {path: 'flow.pty'}); }"
    )
    page.wait_for_selector(".jp-FileEditor .cm-pointy-event")
    page.evaluate(
        "() => jupyterapp.shell.currentWidget.content.model.sharedModel"
        ".setSource('# a file pipeline\\nA -> (B')"
    )
    mark = page.locator(".jp-FileEditor .cm-pointy-diagnostic")
    mark.wait_for()
    assert mark.text_content() == "B"
    assert mark.get_attribute("data-message") == (
        "unexpected end of input; expected ',' or ')' at line 2, column 8"
    )
    # A file has no kernel behind it: only the editor's own check runs, never a question.
    assert page.get_attribute(".jp-FileEditor .cm-editor", "data-pointy-kernel") is None
    page.locator(".jp-FileEditor").screenshot(path=str(SHOTS / "pty-diagnostic-light.png"))


def big_body(lines: int) -> str:
    step = "Fetch{i} -> Clean{i} || Enrich{i} |-> Score{i} (0 -> Alert, 1 -> Save) * 3 ->"
    return "\n".join(step.format(i=i) for i in range(lines - 1)) + "\nReport"


KEYSTROKES_JS = """([samples]) => {
    const cells = jupyterapp.shell.currentWidget.content.widgets;
    const views = {pointy: cells[2].editor.editor, python: cells[3].editor.editor};
    const times = {pointy: [], python: []};
    document.activeElement.blur();  // neither editor has focus: the same work for both
    for (let i = 0; i < samples; i++) {
        for (const name of i % 2 ? ['pointy', 'python'] : ['python', 'pointy']) {
            const view = views[name];
            const at = view.state.doc.line(500).to - 2;  // inside `->`... on line 499 of the body
            const change = i % 4 < 2 ? {from: at, insert: 'x'} : {from: at, to: at + 1};
            const began = performance.now();
            view.dispatch({changes: change});
            times[name].push(performance.now() - began);
        }
    }
    return times;
}"""


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle] + ordered[~middle]) / 2


def test_a_1000_line_cell_is_checked_within_50_ms_per_keystroke(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    body = big_body(1000)
    set_and_check(page, f"%%pointy\n{body}")
    set_cell(page, 3, f"%%time\n{body}")  # the same text as a Python cell: the baseline
    assert underlined(page) == []

    # The check after a pause, timed inside the page: real keystrokes, one check each.
    check_ms = []
    page.locator(f"{CELL2} .cm-content").click()
    page.keyboard.press("Control+End")
    for letter in "ing_to_everyone!":
        before = checks_done(page)
        page.keyboard.type(letter)
        page.wait_for_function(
            "([s, n]) => { const el = document.querySelector(s);"
            " return Number(el.dataset.pointyChecks) > n && !el.dataset.pointyPending; }",
            arg=[EDITOR2, before],
        )
        parse_ms = float(page.get_attribute(EDITOR2, "data-pointy-check-ms"))
        show_ms = float(page.get_attribute(EDITOR2, "data-pointy-show-ms"))
        check_ms.append(parse_ms + show_ms)
    # The last letter made a syntax error at the end of 1,000 lines: found and underlined.
    assert underlined(page) == [("!", "unexpected character '!' at line 1001, column 22")]

    # Each keystroke's own work (highlighting included), beside a Python cell of the same text.
    times = page.evaluate(KEYSTROKES_JS, [40])
    pointy, python = median(times["pointy"]), median(times["python"])
    load = os.getloadavg()[0]
    print(
        f"\n1,000-line %%pointy cell ({len(body):,} chars), load average {load:.2f}:"
        f"\n  check after a pause (parse, checks, underline): median {median(check_ms):.2f} ms,"
        f" max {max(check_ms):.2f} ms over {len(check_ms)} keystrokes (limit 50 ms):"
        f" {', '.join(f'{ms:.1f}' for ms in check_ms)}"
        f"\n  keystroke dispatch: %%pointy {pointy:.2f} ms, Python cell {python:.2f} ms,"
        f" ratio {pointy / python:.2f} (medians of {len(times['pointy'])})"
    )
    # Wall-clock in a shared browser: a single sample can include the machine's other work,
    # so the limit holds for the typical keystroke and every sample is printed above.
    assert median(check_ms) <= 50


def test_ctrl_slash_comments_with_a_hash_in_cells_and_pty_files(page: Any, server: str) -> None:  # noqa: F811
    open_notebook(page, server)
    set_cell(page, 2, "%%pointy\nFetch -> Clean")
    page.locator(f"{CELL2} .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Control+/")
    # The notebook has no kernel language yet (cells are text/plain): the `#` is Pointy's own.
    assert (
        page.evaluate("() => jupyterapp.shell.currentWidget.content.widgets[2].model.mimeType")
        == "text/plain"
    )
    page.wait_for_function(
        "() => jupyterapp.shell.currentWidget.content.widgets[2].model.sharedModel"
        ".getSource() === '%%pointy\\n# Fetch -> Clean'"
    )

    page.evaluate(
        "async () => { await jupyterapp.commands.execute('docmanager:open', {path: 'flow.pty'}); }"
    )
    page.wait_for_selector(".jp-FileEditor .cm-pointy-event")
    page.locator(".jp-FileEditor .cm-pointy-event", has_text="Clean").click()
    page.keyboard.press("Control+/")
    page.wait_for_function(
        "() => jupyterapp.shell.currentWidget.content.model.sharedModel.getSource()"
        ".split('\\n')[1].startsWith('# Fetch')"
    )
