"""The widget's ESM in a real Chromium, with a stub anywidget model (no Jupyter server).

The page loads static/widget.js and widget.css from a 127.0.0.1 server; the model is a plain object
with get/set/on/off/send/save_changes, seeded from a real `RunWidget`'s traits; `deliver` hands
the views a custom message (a delta) the way the widget manager does.
"""

from __future__ import annotations

import functools
import http.server
import json
import pathlib
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from widget_fixtures import (
    EXAMPLE_GRAPH,
    FakeClock,
    FakeRun,
    FakeTicker,
    example_records,
    graph_json,
    step,
    wide_group_root,
)

from pointy_jupyter.widget import RunWidget

pytestmark = pytest.mark.browser

STATIC = pathlib.Path(__file__).resolve().parents[1] / "pointy_jupyter" / "static"
TRAITS = (
    "graph_json",
    "nodes_json",
    "status",
    "run_id",
    "selected",
    "detail",
    "controls",
    "message",
    "dashboard",
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="widget.css"></head>
<body><div id="root" style="width: 1100px"></div>
<script type="module">
import widget from "./widget.js";
const data = {};
const handlers = {};
window.sent = [];
window.model = {
  get: (key) => data[key],
  set(key, value) {
    data[key] = value;
    for (const fn of [...(handlers["change:" + key] || [])]) fn();
  },
  on(name, fn) { (handlers[name] = handlers[name] || []).push(fn); },
  off(name, fn) { handlers[name] = (handlers[name] || []).filter((f) => f !== fn); },
  send(message) { window.sent.push(message); },
  save_changes() {},
};
window.deliver = (content) => {
  for (const fn of [...(handlers["msg:custom"] || [])]) fn(content, []);
};
window.handlerCount = () => Object.values(handlers).reduce((n, list) => n + list.length, 0);
window.mount = (state) => {
  Object.assign(data, state);
  const el = document.getElementById("root");
  el.replaceChildren();
  window.cleanup = widget.render({ model: window.model, el });
};
window.pageReady = true;
</script></body></html>
"""


def widget_state(widget: RunWidget) -> dict[str, Any]:
    return {name: getattr(widget, name) for name in TRAITS}


class Example:
    """A widget following the example run, keeping the deltas it sends."""

    def __init__(self, finished: bool = False) -> None:
        self.run = FakeRun.of(EXAMPLE_GRAPH)
        self.ticker = FakeTicker()
        self.widget = RunWidget(on_command=lambda _c: None, clock=FakeClock(), ticker=self.ticker)
        self.deltas: list[dict[str, Any]] = []
        original = self.widget._send

        def keep(msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
            if msg["method"] == "custom":
                self.deltas.append(msg["content"])
            original(msg, buffers)

        self.widget._send = keep  # type: ignore[method-assign]
        self.widget.attach(self.run)
        if finished:
            self.emit(example_records())

    def emit(self, records: list[Any]) -> None:
        """The run goes on, the follower looks."""
        self.run.emit_all(records)
        self.ticker.fire()


def example_widget(finished: bool = False) -> RunWidget:
    return Example(finished).widget


def table(ids: list[str], state: str, attempts: int = 0, run: str | None = None) -> dict:
    size = len(ids)
    return {
        "run": run,
        "ids": ids,
        "state": [state] * size,
        "attempts": [attempts] * size,
        "duration_us": [None] * size,
        "descriptor": [None] * size,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("widget-page")
    for name in ("widget.js", "widget.css"):
        shutil.copy(STATIC / name, root / name)
    (root / "index.html").write_text(PAGE, encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server)
    page.wait_for_function("window.pageReady === true")
    yield page
    page.close()
    assert errors == []


def mount(page: Any, state: dict[str, Any]) -> None:
    page.evaluate("state => window.mount(state)", json.loads(json.dumps(state)))


def states(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.pointy-widget g.pointy-node')]
            .map(g => [g.dataset.node, g.dataset.state]))"""
    )


def test_nodes_render_with_their_state(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    assert states(page) == {
        "Fetch": "succeeded",
        "Clean": "succeeded",
        "Enrich": "succeeded",
        "Score": "failed",
        "Alert": "succeeded",
        "Save": "skipped",
        "Report": "succeeded",
    }
    assert page.get_attribute(".pointy-status", "data-status") == "failed"
    assert page.get_attribute('.pointy-arm[data-descriptor="0"]', "data-arm") == "taken"
    assert page.get_attribute('.pointy-arm[data-descriptor="1"]', "data-arm") == "not-taken"
    assert page.locator("path.pointy-link-pipe").count() == 1
    assert (
        page.text_content('g.pointy-node[data-node="Enrich"] .pointy-sub') == "↻2 · 250 ms"
    )  # the last attempt's time
    assert page.is_enabled("button.pointy-rerun-all")
    assert page.is_enabled("button.pointy-rerun-failed")
    assert page.is_disabled("button.pointy-rerun-from")
    assert page.is_disabled("button.pointy-cancel")


def test_a_delta_repaints_the_same_element(page: Any) -> None:
    example = Example()
    mount(page, widget_state(example.widget))
    assert states(page)["Fetch"] == "pending"
    assert page.evaluate("() => window.sent") == [{"type": "hello"}]  # the run is under way
    page.evaluate("() => { document.querySelector('g[data-node=\"Fetch\"]').marker = 1; }")
    example.emit(example_records()[:1])  # the run starts: status only
    example.emit(example_records()[1:3])
    (delta,) = example.deltas
    page.evaluate("delta => window.deliver(delta)", delta)
    assert states(page)["Fetch"] == "succeeded"
    assert page.evaluate("() => document.querySelector('g[data-node=\"Fetch\"]').marker") == 1
    fill = page.evaluate(
        """() => getComputedStyle(document.querySelector('g[data-node="Fetch"] rect')).fill"""
    )
    assert fill == "rgb(200, 230, 201)"  # --pointy-succeeded-fill
    assert page.text_content('g.pointy-node[data-node="Fetch"] .pointy-sub') == "500 ms"
    assert page.text_content(".pointy-status-text") == "Run r1 · running · 1/7 done"


def test_a_delta_brings_the_message_and_the_selected_detail(page: Any) -> None:
    example = Example()
    example.widget.command({"type": "select", "node": "Score"})
    mount(page, widget_state(example.widget))
    example.emit(example_records()[:1])
    example.emit(example_records()[1:11])
    (delta,) = example.deltas
    page.evaluate("delta => window.deliver(delta)", delta)
    assert states(page)["Score"] == "failed"
    assert page.text_content(".pointy-message") == "Score failed: ValueError: score < 0"
    assert page.text_content(".pointy-detail .pointy-error") == "ValueError: score < 0"
    assert page.get_attribute(".pointy-detail", "data-node") == "Score"


def test_a_delta_of_another_run_is_ignored(page: Any) -> None:
    mount(page, widget_state(example_widget()))
    delta = {"type": "delta", "run": "old", "nodes": table(["Fetch"], "failed", 1)}
    page.evaluate("delta => window.deliver(delta)", delta)
    assert states(page)["Fetch"] == "pending"


def test_the_full_state_replaces_what_the_deltas_said(page: Any) -> None:
    example = Example()
    mount(page, widget_state(example.widget))
    page.evaluate(
        "delta => window.deliver(delta)",
        {"type": "delta", "run": "r1", "nodes": table(["Fetch"], "running", 1)},
    )
    assert states(page)["Fetch"] == "running"
    example.emit(example_records())  # the end: a full sync of the traits
    page.evaluate(
        "state => { for (const [k, v] of Object.entries(state)) model.set(k, v); }",
        widget_state(example.widget),
    )
    assert states(page)["Fetch"] == "succeeded"
    assert page.get_attribute(".pointy-status", "data-status") == "failed"
    assert page.text_content(".pointy-message") == "Score failed: ValueError: score < 0"


def test_a_finished_run_says_no_hello(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    assert page.evaluate("() => window.sent") == []


def test_click_selects_and_detail_shows(page: Any) -> None:
    widget = example_widget(finished=True)
    mount(page, widget_state(widget))
    page.click('g.pointy-node[data-node="Score"]')
    assert page.evaluate("() => window.sent") == [{"type": "select", "node": "Score"}]
    assert page.get_attribute('g.pointy-node[data-node="Score"]', "data-selected") == "true"
    widget.command({"type": "select", "node": "Score"})
    page.evaluate("detail => model.set('detail', detail)", widget.detail)
    assert page.text_content(".pointy-detail pre.pointy-traceback") == widget.detail["traceback"]
    assert page.text_content(".pointy-detail .pointy-error") == "ValueError: score < 0"
    page.evaluate("controls => model.set('controls', controls)", widget.controls)
    page.click("button.pointy-rerun-from")
    assert page.evaluate("() => window.sent")[-1] == {"type": "rerun", "mode": "from", "node": None}


def test_cleanup_removes_the_model_listeners(page: Any) -> None:
    mount(page, widget_state(example_widget()))
    assert page.evaluate("() => window.handlerCount()") > 0
    page.evaluate("() => window.cleanup()")
    assert page.evaluate("() => window.handlerCount()") == 0


def test_a_wide_group_is_collapsed_until_clicked(page: Any) -> None:
    ids = [f"W{i}" for i in range(30)]
    root = wide_group_root(ids)
    ids_all = ["Start", *ids]
    nodes = table(ids_all, "succeeded", 1)
    nodes["state"][5] = "failed"  # W4
    mount(
        page,
        {
            "graph_json": json.dumps(graph_json(root, ids_all)),
            "nodes_json": json.dumps(nodes),
            "status": "failed",
        },
    )
    assert list(states(page)) == ["Start"]
    group = '.pointy-group-collapsed[data-group="g1"]'
    assert page.get_attribute(group, "data-state") == "failed"
    assert page.text_content(f"{group} .pointy-label") == "30 in parallel ▸"  # words, not `g1`
    assert page.text_content(f"{group} .pointy-sub") == "29 succeeded, 1 failed"
    page.click(group)
    assert len(states(page)) == 31
    assert (
        page.text_content('.pointy-group-toggle[data-group="g1"]') == "▾ 30 in parallel · collapse"
    )
    page.click('.pointy-group-toggle[data-group="g1"]')
    assert list(states(page)) == ["Start"]


def test_a_2000_node_chain_renders_and_updates_one_node(page: Any) -> None:
    ids = [f"E{i}" for i in range(2000)]
    chain = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * 1999}
    state = {
        "graph_json": json.dumps(graph_json(chain, ids)),
        "nodes_json": json.dumps(table(ids, "pending", run="r1")),
        "run_id": "r1",
        "status": "running",
    }
    mount(page, state)
    assert page.locator("g.pointy-node").count() == 2000
    width = page.evaluate(
        "() => document.querySelector('svg.pointy-graph').getBoundingClientRect().width"
    )
    assert width < 1200  # the long chain wraps into rows instead of one 270,000-pixel line
    delta = {"type": "delta", "run": "r1", "nodes": table(["E1500"], "running", 1)}
    elapsed = page.evaluate(
        """delta => { const t = performance.now(); window.deliver(delta);
                      return performance.now() - t; }""",
        delta,
    )
    assert page.get_attribute('g.pointy-node[data-node="E1500"]', "data-state") == "running"
    assert elapsed < 100  # repaints one node, does not rebuild 2,000
    full = table(ids, "succeeded", 1, run="r1")
    elapsed = page.evaluate(
        """text => { const t = performance.now(); model.set('nodes_json', text);
                     return performance.now() - t; }""",
        json.dumps(full),
    )
    assert set(states(page).values()) == {"succeeded"}
    assert elapsed < 500  # the final full state: every node repainted, nothing rebuilt
