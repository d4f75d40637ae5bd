"""The widget's remaining issue-8 points in a real Chromium: one attempt notation in the live
widget, the saved snapshot and the text progress; the group toggle as a real button; elapsed
time from the kernel's start time. Reuses test_widget_browser's page and stub model.
"""

from __future__ import annotations

import json
import math
import pathlib
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
import test_widget_browser
from test_widget_browser import Example, mount, table, widget_state
from test_widget_look import LUMINANCE, shoot
from widget_fixtures import FakeClock, FakeTicker, example_records, graph_json, rec, wide_group_root

from pointy_engine import RetryPolicy, event
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.records import CacheOrigin, Record
from pointy_engine.run import Run
from pointy_jupyter.progress import node_line
from pointy_jupyter.widget import RunWidget

pytestmark = pytest.mark.browser

server = test_widget_browser.server
page = test_widget_browser.page


def retried_example() -> Example:
    """The example run where Score (`Score * 3` in the flow) failed on its second attempt."""
    example = Example()
    records = example_records()
    first, failed = records[9], records[10]  # Score running, Score failed (attempt 1)
    retried = [
        first,
        rec("Score", "retrying", 101.75, 1),
        rec("Score", "running", 101.5, 2),
        rec("Score", "failed", 102.0, 2, error=failed.error, descriptor=0),
    ]
    example.emit(records[:9] + retried + records[11:])
    return example


def test_attempts_read_the_same_in_the_widget_the_snapshot_and_the_text(page: Any) -> None:
    widget = retried_example().widget
    mount(page, widget_state(widget))
    box = page.text_content('g.pointy-node[data-node="Score"] .pointy-sub')
    assert box == "↻2/3 · 500 ms"
    enrich = page.text_content('g.pointy-node[data-node="Enrich"] .pointy-sub')
    assert enrich == "↻2 · 250 ms"  # no `* N` in the flow: the most is not known
    page.hover('g.pointy-node[data-node="Score"]')
    assert page.locator(".pointy-tooltip > div").nth(1).text_content() == "failed · ↻2/3 · 500 ms"
    # the saved picture, as a viewer without a kernel shows it
    page.evaluate(
        """html => { const d = document.createElement('div'); d.id = 'snapshot';
                     d.innerHTML = html; document.body.appendChild(d); }""",
        widget.snapshot_html(),
    )
    attempts = page.eval_on_selector_all(
        "#snapshot .pointy-node .pointy-attempts", "spans => spans.map(s => s.textContent.trim())"
    )
    assert attempts == ["↻2", "↻2/3"]
    score = SimpleNamespace(node="Score", state="failed", attempt=2, error=None)
    assert node_line(score, 3) == "Score: failed ↻2/3"


def wide_group(page: Any) -> None:
    ids = [f"member_{i}" for i in range(13)]
    all_ids = ["Start", *ids]
    nodes = table(all_ids, "succeeded", 1, run="r1")
    nodes["state"][13] = "failed"
    mount(
        page,
        {
            "graph_json": json.dumps(graph_json(wide_group_root(ids), all_ids)),
            "nodes_json": json.dumps(nodes),
            "run_id": "r1",
            "status": "failed",
        },
    )


FOCUSED = """() => { const e = document.activeElement;
    const s = getComputedStyle(e);
    return {tag: e.tagName, cls: e.className, expanded: e.getAttribute('aria-expanded'),
            outline: [s.outlineStyle, s.outlineWidth]}; }"""


def test_the_group_toggle_is_a_real_button_with_a_focus_ring(page: Any) -> None:
    wide_group(page)
    toggle = 'button.pointy-group-toggle[data-group="g1"]'
    assert page.get_attribute(toggle, "aria-expanded") == "false"
    assert page.text_content(f"{toggle} .pointy-label") == "13 in parallel ▸"
    assert page.text_content(f"{toggle} .pointy-sub") == "12 succeeded, 1 failed"
    # reach it with the keyboard: Tab from the node before it
    page.focus('g.pointy-node[data-node="Start"]')
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUSED)
    assert focused == {
        "tag": "BUTTON",
        "cls": "pointy-group-toggle",
        "expanded": "false",
        "outline": ["solid", "2px"],
    }
    shoot(page, "group-toggle-focus-light")
    page.evaluate("() => { document.body.dataset.jpThemeLight = 'false'; }")
    shoot(page, "group-toggle-focus-dark")
    page.evaluate("() => { document.body.dataset.jpThemeLight = 'true'; }")
    page.keyboard.press("Enter")
    assert page.locator('g.pointy-node[data-node="member_12"]').count() == 1
    focused = page.evaluate(FOCUSED)  # still on the group's toggle, now "collapse"
    assert (focused["tag"], focused["expanded"]) == ("BUTTON", "true")
    assert page.text_content(toggle) == "▾ 13 in parallel · collapse"
    page.keyboard.press("Space")
    assert page.locator('g.pointy-node[data-node="member_12"]').count() == 0
    assert page.get_attribute(toggle, "aria-expanded") == "false"


def test_elapsed_time_counts_from_the_kernels_start_time(page: Any) -> None:
    page.clock.install(time=1_000_000)
    page.reload()
    page.wait_for_function("window.pageReady === true")
    page.clock.pause_at(2_000_000)  # from here on the page's time moves only when told to
    example = Example()
    state = widget_state(example.widget)
    nodes = json.loads(state["nodes_json"])
    # The kernel's clock said 1000.0 when it read the table; Fetch started there at 930.0.
    # The page's own clock is far off (the kernel may run elsewhere): only the difference counts.
    nodes["now"] = 1000.0
    nodes["state"][0] = "running"
    nodes["attempts"][0] = 1
    nodes["started"][0] = 930.0
    state["nodes_json"] = json.dumps(nodes)
    state["status"] = "running"
    mount(page, state)
    sub = 'g.pointy-node[data-node="Fetch"] .pointy-sub'
    assert page.text_content(sub) == "1m 10s"  # at once, not "0 s" from when the page saw it
    page.clock.run_for(4000)
    assert page.text_content(sub) == "1m 14s"
    # a delta with the kernel's clock again: the start time still rules
    page.evaluate(
        """() => window.deliver({type: 'delta', run: 'r1', now: 1090.0,
              nodes: {ids: ['Fetch'], state: ['running'], attempts: [2], duration_us: [null],
                      descriptor: [null], started: [930.0]}})"""
    )
    assert page.text_content(sub) == "↻2 · 2m 40s"  # 1090 - 930 on the kernel clock


def test_a_retried_node_counts_its_elapsed_time_from_the_current_attempt(page: Any) -> None:
    page.clock.install(time=1_000_000)
    page.reload()
    page.wait_for_function("window.pageReady === true")
    page.clock.pause_at(2_000_000)
    second_attempt = threading.Event()
    gate = threading.Event()
    tries = []

    @event(retry_policy=RetryPolicy(max_attempts=2, backoff_factor=0.5))  # 0.5 s before retry 2
    def flaky() -> tuple[bool, int]:
        tries.append(1)
        if len(tries) == 1:
            time.sleep(1.0)  # the first attempt takes a second, then fails
            raise OSError("busy")
        gate.wait(10)
        return True, 1

    def watch(record: Any) -> None:
        if record.node == "flaky" and record.attempt == 2 and record.state == "running":
            second_attempt.set()

    plan = Plan(build_graph("flaky * 2"), {"flaky": flaky})
    run = Run(plan, listeners=[watch])
    widget = RunWidget(clock=FakeClock(), ticker=FakeTicker())
    deltas: list[dict[str, Any]] = []
    original = widget._send

    def keep(msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        if msg["method"] == "custom" and msg["content"].get("type") == "delta":
            deltas.append(msg["content"])
        original(msg, buffers)

    widget._send = keep  # type: ignore[method-assign]
    widget.attach(run)
    mount(page, widget_state(widget))
    run.start(background=True)
    try:
        assert second_attempt.wait(10), "the second attempt never started"
        widget.tick()  # pending -> running
        widget.tick()  # the delta with flaky's second attempt
    finally:
        gate.set()
    run.wait(10)
    delta = deltas[-1]
    assert delta["nodes"]["attempts"] == [2]
    page.evaluate("d => window.deliver(d)", delta)
    page.clock.run_for(3000)
    starts = [r.time for r in run.records() if r.node == "flaky" and r.state == "running"]
    assert len(starts) == 2
    since_attempt = math.floor(round((delta["now"] - starts[1] + 3) * 1000) / 1000)
    since_first = math.floor(round((delta["now"] - starts[0] + 3) * 1000) / 1000)
    assert since_first - since_attempt >= 1  # the first attempt and the wait took 1.5 s
    sub = 'g.pointy-node[data-node="flaky"] .pointy-sub'
    assert page.text_content(sub) == f"↻2/2 · {since_attempt} s"


def show_timeline(page: Any, example: Example) -> None:
    mount(page, widget_state(example.widget) | {"timeline_json": example.widget.timeline_json})
    page.click("button.pointy-tab-timeline")
    sent = page.evaluate("() => window.sent")
    assert sent[-1] == {"type": "view", "view": "timeline"}
    example.widget.command(sent[-1])  # what the kernel does with it
    page.evaluate("t => model.set('timeline_json', t)", example.widget.timeline_json)


def bars(page: Any) -> list[list[Any]]:
    return page.eval_on_selector_all(
        "g.pointy-bar",
        "gs => gs.map(g => [g.dataset.node, g.dataset.attempt, g.dataset.state,"
        " g.querySelector('rect').getBoundingClientRect().width])",
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_timeline_tab_shows_a_bar_per_attempt_readable_in_both_themes(
    page: Any, theme: str
) -> None:
    page.evaluate(
        "light => { document.body.dataset.jpThemeLight = light; }",
        "true" if theme == "light" else "false",
    )
    example = Example()
    # Enrich ran beside Clean, on a second worker thread
    example.emit(
        [
            r._replace(worker="pointy-worker-1") if r.node == "Enrich" else r
            for r in example_records()
        ]
    )
    example.widget.command({"type": "select", "node": "Score"})
    show_timeline(page, example)
    assert not page.is_visible(".pointy-canvas")  # the graph is hidden, not gone
    assert page.get_attribute("button.pointy-tab-timeline", "aria-selected") == "true"
    drawn = bars(page)
    assert [(node, attempt, state) for node, attempt, state, _ in drawn] == [
        ("Fetch", "1", "succeeded"),
        ("Clean", "1", "succeeded"),
        ("Enrich", "1", "retrying"),
        ("Enrich", "2", "succeeded"),
        ("Score", "1", "failed"),
        ("Alert", "1", "succeeded"),
        ("Report", "1", "succeeded"),
    ]
    widths = {(node, attempt): width for node, attempt, _, width in drawn}
    assert widths[("Report", "1")] == pytest.approx(4 * widths[("Alert", "1")], rel=0.02)
    assert page.locator(".pointy-lane-label").all_text_contents() == [
        "thread pointy-worker-0",
        "thread pointy-worker-1",
    ]
    assert page.locator("line.pointy-wait").count() == 1  # Enrich's wait before its retry
    critical = page.eval_on_selector_all(
        "g.pointy-bar[data-critical=true]", "gs => gs.map(g => g.dataset.node)"
    )
    assert critical[-1] == "Report"
    ratios = page.evaluate(
        bar_contrast(),
    )
    assert len(ratios) >= 5  # most bars are wide enough for their name
    assert min(ratios.values()) >= 4.5, ratios
    shoot(page, f"timeline-{theme}")
    page.click("button.pointy-tab-graph")
    assert page.is_visible(".pointy-canvas")
    assert not page.is_visible(".pointy-timeline")
    assert page.evaluate("() => window.sent")[-1] == {"type": "view", "view": "graph"}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_timeline_tab_marks_cache_hits_in_a_lane_of_their_own(page: Any, theme: str) -> None:
    page.evaluate(
        "light => { document.body.dataset.jpThemeLight = light; }",
        "true" if theme == "light" else "false",
    )
    example = Example()
    # Fetch and Enrich came from the cache (Fetch took 2.5 s when it ran); the rest ran.
    hit = Record(
        "r1", "Fetch", "Fetch", 0, "cached", 100.0, "cache", None, 1, CacheOrigin(2.5, 1.0)
    )
    records = [r for r in example_records() if r.node not in ("Fetch", "Enrich")]
    records.insert(1, hit)
    records.insert(4, hit._replace(node="Enrich", event="Enrich", time=100.5, origin=None))
    example.emit(records)
    show_timeline(page, example)
    assert [node for node, *_ in bars(page)] == ["Clean", "Score", "Alert", "Report"]
    assert page.locator(".pointy-lane-label").all_text_contents() == [
        "thread pointy-worker-0",
        "cache (not run)",
    ]
    hits = page.locator("g.pointy-cache-hit")
    assert hits.evaluate_all("gs => gs.map(g => [g.dataset.node, g.dataset.state])") == [
        ["Fetch", "cached"],
        ["Enrich", "cached"],
    ]
    assert hits.nth(0).locator("title").text_content() == (
        "Fetch · from the cache, not run · took 2.50 s when it ran"
    )
    assert hits.nth(1).locator("title").text_content() == "Enrich · from the cache, not run"
    assert "a step taken from the cache" in page.text_content(".pointy-timeline-key")
    # The mark sits in the cache lane, at the time the step settled, left of the later bars.
    lanes = page.locator("rect.pointy-lane")
    lane, mark = lanes.nth(1).bounding_box(), hits.nth(1).locator("rect").bounding_box()
    assert lane["y"] <= mark["y"]
    assert mark["y"] + mark["height"] <= lane["y"] + lane["height"]
    report = page.locator('g.pointy-bar[data-node="Report"] rect').bounding_box()
    assert mark["x"] < report["x"]
    # Its name beside it reads on the lane in either theme.
    ratio = page.evaluate(
        """() => { const lum = """
        + LUMINANCE
        + """;
        const label = document.querySelector('g.pointy-cache-hit .pointy-bar-label');
        const behind = document.querySelector('.pointy-widget');  // lanes are transparent
        const [x, y] = [lum(getComputedStyle(label).fill),
                        lum(getComputedStyle(behind).backgroundColor)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05); }"""
    )
    assert ratio >= 4.5
    shoot(page, f"timeline-cached-{theme}")


def test_a_run_taken_whole_from_the_cache_still_has_a_timeline(page: Any) -> None:
    example = Example()
    hit = Record("r1", "Fetch", "Fetch", 0, "cached", 100.0, "cache", None, 1, None)
    example.emit([rec("", "running", 100.0), hit, rec("", "succeeded", 100.0)])
    show_timeline(page, example)
    assert page.locator(".pointy-empty").count() == 0
    assert page.locator("g.pointy-cache-hit").count() == 1
    assert bars(page) == []


def bar_contrast() -> str:
    """Browser code: the contrast of each bar label against its bar (WCAG, computed styles)."""
    return (
        """() => { const lum = """
        + LUMINANCE
        + """;
        const ratio = (a, b) => {
            const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
            return (x + 0.05) / (y + 0.05); };
        const out = {};
        for (const g of document.querySelectorAll('g.pointy-bar')) {
            const label = g.querySelector('.pointy-bar-label');
            if (!label) continue;
            out[g.dataset.node + '#' + g.dataset.attempt] = ratio(
                getComputedStyle(label).fill, getComputedStyle(g.querySelector('rect')).fill);
        }
        return out; }"""
    )


def test_a_running_bar_grows_live_between_layouts(page: Any) -> None:
    page.clock.install(time=1_000_000)
    page.reload()
    page.wait_for_function("window.pageReady === true")
    page.clock.pause_at(2_000_000)
    example = Example()
    now = time.time()  # a live run's records carry the kernel's clock
    example.emit(
        [
            rec("", "running", now - 2.0),
            rec("Fetch", "running", now - 2.0),
            rec("Fetch", "succeeded", now - 1.5, descriptor=1),
            rec("Clean", "running", now - 1.5),
        ]
    )
    show_timeline(page, example)
    before = {(n, a): w for n, a, _, w in bars(page)}
    page.clock.run_for(3000)
    after = {(n, a): w for n, a, _, w in bars(page)}
    assert after[("Clean", "1")] > before[("Clean", "1")] + 20  # it grew with the page's clock
    assert after[("Fetch", "1")] < before[("Fetch", "1")]  # the scale stretched: done bars shrink
    sent = page.evaluate("() => window.sent")
    assert sent == [{"type": "hello"}, {"type": "view", "view": "timeline"}]  # nothing per tick


def test_a_picture_of_a_collapsed_group_keeps_its_words_as_svg_text(page: Any) -> None:
    wide_group(page)
    with page.expect_download() as svg_download:
        page.click("button.pointy-zoom-svg")
    svg_text = pathlib.Path(svg_download.value.path()).read_text(encoding="utf-8")
    assert "foreignObject" not in svg_text  # a canvas drawing HTML in SVG would be tainted
    assert "13 in parallel ▸ · 12 succeeded, 1 failed</text>" in svg_text
    with page.expect_download() as png_download:
        page.click("button.pointy-zoom-png")
    png = pathlib.Path(png_download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_tabs_answer_the_arrow_keys(page: Any) -> None:
    example = Example()
    example.emit(example_records())
    mount(page, widget_state(example.widget))
    page.focus("button.pointy-tab-graph")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.dataset.view") == "timeline"
    assert page.is_visible(".pointy-timeline")
    assert not page.is_visible(".pointy-canvas")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("button.pointy-tab-graph", "aria-selected") == "true"
    assert page.is_visible(".pointy-canvas")
    assert [m for m in page.evaluate("() => window.sent") if m["type"] == "view"] == [
        {"type": "view", "view": "timeline"},
        {"type": "view", "view": "graph"},
    ]
