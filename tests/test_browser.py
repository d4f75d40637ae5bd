"""The tour notebook in a real JupyterLab and Notebook 7, driven by Chromium (Playwright).

A module fixture starts `jupyter lab` on a free 127.0.0.1 port, in a temporary root holding a
copy of notebooks/01-tour.ipynb, with every Jupyter directory isolated, and stops it by PID.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "notebooks" / "01-tour.ipynb"
STARTUP = 60.0  # seconds the server may take to answer
TIMEOUT = 30_000  # milliseconds for anything in the page
SETTINGS = {
    # No news toast over the page; every cell stays in the DOM (no virtual scrolling).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# Thrown by Notebook 7.6.5's keyboard-shortcut settings on every page, /tree included.
UPSTREAM_ERRORS = {
    "Cannot read properties of undefined (reading 'schema')",
    # JupyterLab asks a new kernel for a subshell; a test that shuts its kernel down before the
    # reply comes gets this from JupyterLab's kernel connection, not from Pointy.
    "Error: Canceled future for create_subshell_request message before replies were done",
}
# Cells of the tour the test looks into, found by how their source starts.
CELLS = {
    "run": "%%pointy -o run",
    "rerun": "server_up = True",
    "runs": "runs = %pointy runs",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from lab_server(tmp_path_factory, TOUR)


def lab_server(tmp_path_factory: pytest.TempPathFactory, notebook: Path) -> Iterator[str]:
    """A module fixture's body: JupyterLab serving a root that holds a copy of `notebook`."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    shutil.copy(notebook, root / notebook.name)
    settings = base / "settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTEST_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        IPYTHONDIR=str(base / "ipython"),
    )
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.extension_manager=readonly",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (base / "lab.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, base / "lab.log")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                return
        except OSError:
            time.sleep(0.25)  # polling the server's own status endpoint
    pytest.fail(f"jupyter lab did not answer within {STARTUP:g} s:\n{log.read_text()}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    errors: list[Any] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    page.evaluate("async () => { await jupyterapp.serviceManager.sessions.shutdownAll(); }")
    page.close()
    unexpected = [error for error in errors if str(error) not in UPSTREAM_ERRORS]
    # The stack says whose code threw: the message alone rarely does.
    assert [str(error) for error in unexpected] == [], "\n\n".join(
        error.stack or str(error) for error in unexpected
    )


def switch_theme(page: Any, theme: str) -> None:
    """Change JupyterLab's theme and wait until it shows, its splash overlay included.

    A theme change shows JupyterLab's splash and removes it 200 ms later; a second change within
    that time makes JupyterLab remove it twice, a page error of its own ("Failed to execute
    'removeChild'"). People do not switch twice in 200 ms; tests wait for the splash to go.
    """
    page.evaluate(
        "async theme => { await jupyterapp.commands.execute('apputils:change-theme', {theme}); }",
        theme,
    )
    light = "false" if "Dark" in theme else "true"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    # The attribute changes before the theme's stylesheet applies (late on a busy machine):
    # wait for its colours, then for a frame drawn with them, so nothing moves after this.
    background = "#111" if light == "false" else "white"
    page.wait_for_function(
        "colour => getComputedStyle(document.body)"
        ".getPropertyValue('--jp-layout-color0').trim() === colour",
        arg=background,
    )
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done)))")


def open_tour(page: Any, url: str, name: str = TOUR.name) -> None:
    """Load the app at `url`, with no kernel left from before, and open the notebook `name`."""
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.serviceManager")
    page.evaluate(
        "async () => { await jupyterapp.restored;"
        " await jupyterapp.serviceManager.sessions.shutdownAll(); }"
    )
    if "/lab" in url:
        page.evaluate(
            "async path => { await jupyterapp.commands.execute('docmanager:open', {path}); }",
            name,
        )
    page.wait_for_function(
        "() => { const w = jupyterapp.shell.currentWidget; return w && w.sessionContext; }"
    )
    page.evaluate(
        """async () => {
            const panel = jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            await panel.sessionContext.session.kernel.info;
        }"""
    )


def mark_cells_and_watch(page: Any, cells: dict[str, str] = CELLS) -> None:
    """Tag the cells the test looks into; record every node state the widgets show."""
    page.evaluate(
        """cells => {
            const panel = jupyterapp.shell.currentWidget;
            for (const cell of panel.content.widgets) {
                const source = cell.model.sharedModel.getSource();
                for (const [name, start] of Object.entries(cells)) {
                    if (source.startsWith(start)) cell.node.dataset.test = name;
                }
            }
            window.seen = [];
            new MutationObserver((mutations) => {
                for (const m of mutations) {
                    const g = m.target;
                    if (!g.matches || !g.matches('g.pointy-node')) continue;
                    const cell = g.closest('[data-test]');
                    const where = cell ? cell.dataset.test : '';
                    window.seen.push(`${where}:${g.dataset.node}:${g.dataset.state}`);
                }
            }).observe(document.body, {
                subtree: true, attributes: true, attributeFilter: ['data-state'],
            });
        }""",
        cells,
    )


def run_all_and_wait(page: Any) -> None:
    # No `return`: Playwright would wait for the whole run (pitfall 5 of JUPYTER_STACK.md).
    page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(
        """() => {
            const panel = jupyterapp.shell.currentWidget;
            const code = panel.content.widgets.filter(c => c.model.type === 'code');
            const last = code[code.length - 1];
            return last.model.executionCount !== null
                && panel.sessionContext.session.kernel.status === 'idle';
        }""",
        timeout=60_000,
    )


SHOTS = ROOT / "artifacts" / "widget"


def shot(page: Any, selector: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(selector).screenshot(path=str(SHOTS / f"{name}.png"))


def node(cell: str, node_id: str) -> str:
    return f'[data-test="{cell}"] .pointy-widget g.pointy-node[data-node="{node_id}"]'


def test_lab_runs_the_tour_live_and_reruns_the_failed_node(page: Any, server: str) -> None:
    open_tour(page, f"{server}/lab?reset")
    mark_cells_and_watch(page)
    run_all_and_wait(page)

    seen = page.evaluate("() => window.seen")
    assert "run:stats:running" in seen  # the blocking run was drawn live
    assert "run:stats:succeeded" in seen
    publish = page.locator(node("run", "publish"))
    assert publish.get_attribute("data-state") == "failed"
    assert page.get_attribute('[data-test="run"] .pointy-status', "data-status") == "failed"
    fill = publish.locator("rect").evaluate("rect => getComputedStyle(rect).fill")
    assert fill == "rgb(255, 205, 210)"  # --pointy-failed-fill

    publish.click()
    traceback = page.locator('[data-test="run"] .pointy-detail pre.pointy-traceback')
    traceback.wait_for()
    assert "RuntimeError: the report server is down" in traceback.text_content()
    # the event is defined in a notebook cell: named as IPython names it, not by its temp file
    assert re.search(r"Cell In\[\d+\], line \d+, in publish", traceback.text_content())
    assert "ipykernel_" not in traceback.text_content()

    page.evaluate("() => { window.seen = []; }")
    page.click('[data-test="run"] button.pointy-rerun-failed')
    page.wait_for_selector(f'{node("run", "publish")}[data-state="succeeded"]')
    page.wait_for_selector('[data-test="run"] .pointy-status[data-status="succeeded"]')
    states = [
        entry.split(":")[2]
        for entry in page.evaluate("() => window.seen")
        if entry.startswith("run:publish:")
    ]
    assert states[-1] == "succeeded"
    assert set(states[:-1]) - {"failed", "succeeded"}  # it went pending or running again
    # What the re-run printed lands under the cell that started the run, not under a later one.
    page.wait_for_function(
        """() => document.querySelector('[data-test="run"] .jp-OutputArea')
                    .textContent.includes('report published')"""
    )
    assert "report published" not in page.text_content('[data-test="runs"] .jp-OutputArea')
    assert "report published" in page.text_content('[data-test="rerun"] .jp-OutputArea')
    # ... under a small header naming the re-run, above what it printed
    header = page.locator('[data-test="run"] .pointy-output-header')
    assert re.fullmatch(r"re-run failed · \d\d:\d\d:\d\d", header.text_content())
    order = page.evaluate(
        """() => { const area = document.querySelector('[data-test="run"] .jp-OutputArea');
                   const text = area.textContent;
                   return [text.indexOf('re-run failed ·'),
                           text.lastIndexOf('report published')]; }"""
    )
    assert 0 <= order[0] < order[1]

    # The timeline tab of the same widget, drawn from the kernel's layout of the re-run
    page.click('[data-test="run"] button.pointy-tab-timeline')
    page.wait_for_selector('[data-test="run"] g.pointy-bar[data-node="publish"]')
    assert not page.is_visible('[data-test="run"] .pointy-canvas')
    shot(page, '[data-test="run"] .jp-Cell-outputWrapper', "lab-rerun-output-light")
    for theme in ("light", "dark"):
        if theme == "dark":
            switch_theme(page, "JupyterLab Dark")
        shot(page, '[data-test="run"] .pointy-widget', f"lab-timeline-{theme}")
    page.click('[data-test="run"] button.pointy-tab-graph')
    shot(page, '[data-test="run"] .jp-Cell-outputWrapper', "lab-rerun-output-dark")
    switch_theme(page, "JupyterLab Light")

    # Saved, the notebook keeps no `Output()` text for the output areas under the widgets
    page.evaluate("async () => { await jupyterapp.commands.execute('docmanager:save'); }")
    saved = page.evaluate(
        "async name => (await (await fetch('/api/contents/' + name)).json()).content", TOUR.name
    )
    plain = [
        output["data"]["text/plain"]
        for cell in saved["cells"]
        for output in cell.get("outputs", [])
        if "text/plain" in output.get("data", {})
    ]
    assert plain
    assert [text for text in plain if "Output()" in text] == []


def test_notebook7_renders_the_tour_with_the_widget(page: Any, server: str) -> None:
    open_tour(page, f"{server}/notebooks/{TOUR.name}")
    mark_cells_and_watch(page)
    run_all_and_wait(page)
    page.wait_for_selector(f'{node("run", "publish")}[data-state="failed"]')
    assert page.locator(".pointy-widget").count() == 3  # the plan, the run, the background run
    assert page.get_attribute(node("run", "save"), "data-state") == "succeeded"
    assert page.get_attribute(node("run", "alert"), "data-state") == "skipped"
