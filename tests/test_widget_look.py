"""How the widget looks and behaves to a user, in a real Chromium (issue 8).

Reuses the page, server and stub model of test_widget_browser. Screenshots go to
`artifacts/widget/` (git-ignored), kept by CI for a look by eye.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import pytest
import test_widget_browser
from test_widget_browser import (
    Example,
    example_widget,
    mount,
    states,
    table,
    widget_state,
)
from widget_fixtures import example_records, graph_json, step, wide_group_root

from pointy_jupyter.widget_state import controls_for

pytestmark = pytest.mark.browser

# the page and its server, shared with test_widget_browser
server = test_widget_browser.server
page = test_widget_browser.page

ARTIFACTS = pathlib.Path(__file__).resolve().parents[1] / "artifacts" / "widget"


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".pointy-widget").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def chain(ids: list[str], status: str = "succeeded", run: str | None = "r1") -> dict[str, Any]:
    root = {"kind": "sequence", "items": [step(i) for i in ids], "links": ["then"] * (len(ids) - 1)}
    return {
        "graph_json": json.dumps(graph_json(root, ids)),
        "nodes_json": json.dumps(table(ids, status, 1, run=run)),
        "run_id": run,
        "status": status,
    }


def boxes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('g.pointy-node')].map(g => {
            const r = g.querySelector('rect').getBoundingClientRect();
            const t = g.querySelector('.pointy-label').getBoundingClientRect();
            return {id: g.dataset.node, label: g.querySelector('.pointy-label').textContent,
                    rect: [r.left, r.top, r.right, r.bottom],
                    text: [t.left, t.top, t.right, t.bottom]};
        })"""
    )


NAMES = [
    "A",
    "fetch_measurements",
    "fetch_measurements_from_the_station",
    "x" * 60,
    "W" * 40,
    "測定値を取得する測定値を取得する",
    "データ" * 20,
    "Ünïcödé_naïve_résumé_Ωmega",
]


def test_every_label_lies_inside_its_box_and_long_ones_are_elided(page: Any) -> None:
    mount(page, chain(NAMES))
    for box in boxes(page):
        left, top, right, bottom = box["rect"]
        t_left, t_top, t_right, t_bottom = box["text"]
        assert left + 2 <= t_left, box
        assert t_right <= right - 2, box
        assert top <= t_top, box
        assert t_bottom <= bottom, box
    labels = {b["id"]: b["label"] for b in boxes(page)}
    assert labels["fetch_measurements"] == "fetch_measurements"
    assert labels["x" * 60] == "x" * len(labels["x" * 60][:-1]) + "…"
    assert labels["データ" * 20].endswith("…")
    page.hover('g.pointy-node[data-node="' + "x" * 60 + '"]')
    assert page.text_content(".pointy-tooltip .pointy-tooltip-name") == "x" * 60
    shoot(page, "long-names")


def positions(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const at = (el) => {
                const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
            return {
                nodes: [...document.querySelectorAll('g.pointy-node')].map(g => at(g)),
                buttons: [...document.querySelectorAll('.pointy-buttons button')].map(b => at(b)),
                canvas: at(document.querySelector('.pointy-canvas')),
            };
        }"""
    )


def test_nothing_moves_when_the_status_changes(page: Any) -> None:
    ids = ["Fetch", "Clean", "Report"]
    mount(page, chain(ids, "running"))
    running = positions(page)
    long = "Clean failed: ValueError: " + "the station sent a malformed reading " * 6
    page.evaluate(
        "m => { model.set('status', 'failed'); model.set('message', m); }",
        long,
    )
    failed = positions(page)
    assert page.get_attribute(".pointy-message", "title") == long  # elided, whole on hover
    page.evaluate("() => { model.set('status', 'succeeded'); model.set('message', ''); }")
    again = positions(page)
    assert running == failed == again


def test_an_expanded_13_wide_group_shows_whole_without_inner_scrollbar(page: Any) -> None:
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
    group = '.pointy-group-collapsed[data-group="g1"]'
    assert page.text_content(f"{group} .pointy-label") == "13 in parallel ▸"
    assert page.text_content(f"{group} .pointy-sub") == "12 succeeded, 1 failed"
    page.click(group)
    scroll = page.evaluate(
        """() => { const c = document.querySelector('.pointy-canvas');
                   return [c.scrollHeight, c.clientHeight]; }"""
    )
    assert scroll[0] == scroll[1]  # no inner scrollbar
    last = page.evaluate(
        """() => { const c = document.querySelector('.pointy-canvas').getBoundingClientRect();
                   const n = document.querySelector('g[data-node="member_12"] rect')
                       .getBoundingClientRect();
                   return n.bottom <= c.bottom && n.top >= c.top; }"""
    )
    assert last is True
    shoot(page, "wide-group-expanded")


def test_a_tall_graph_scrolls_and_zooms(page: Any) -> None:
    ids = [f"E{i}" for i in range(400)]
    mount(page, chain(ids))
    height = page.evaluate("() => document.querySelector('.pointy-canvas').clientHeight")
    assert height == 1000
    assert page.is_visible("button.pointy-zoom-fit")
    width = "() => document.querySelector('svg.pointy-graph').getBoundingClientRect().width"
    before = page.evaluate(width)
    page.click("button.pointy-zoom-out")
    assert page.evaluate(width) == pytest.approx(before / 1.25, abs=1)
    page.hover("g.pointy-node[data-node='E0']")
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    assert page.evaluate(width) == pytest.approx(before / 1.25 * 1.1, abs=1)
    page.click("button.pointy-zoom-reset")
    assert page.evaluate(width) == pytest.approx(before, abs=1)


def test_a_small_graph_has_no_zoom_buttons(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    assert not page.is_visible("button.pointy-zoom-fit")
    assert page.is_visible("button.pointy-zoom-svg")


def edge_paths(page: Any) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('svg.pointy-graph path.pointy-edge')]"
        ".map(p => p.getAttribute('d'))"
    )


def test_a_parallel_group_that_ends_the_flow_has_no_dangling_join(page: Any) -> None:
    root = {
        "kind": "sequence",
        "items": [
            step("Start"),
            {"kind": "parallel", "group": "g1", "members": [step("A"), step("B")]},
        ],
        "links": ["then"],
    }
    ids = ["Start", "A", "B"]
    mount(
        page,
        {
            "graph_json": json.dumps(graph_json(root, ids)),
            "nodes_json": json.dumps(table(ids, "pending")),
        },
    )
    # the fork into A and B, and no join line running off to the right of them
    assert edge_paths(page) == ["M98 67H128", "M128 67H136V43H144M128 67H136V91H144"]


def test_the_example_flow_edges(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    assert edge_paths(page) == [
        "M98 67H128",  # Fetch -> the group
        "M128 67H136V43H144M228 43H236V67H244M128 67H136V91H144M228 91H236V67H244",  # fork, join
        "M244 67H274",  # the group |-> Score
        "M358 67H378V43H398",  # Score -> arm 0
        "M482 43H490V67H498",  # arm 0 joins
        "M358 67H378V91H398",  # Score -> arm 1
        "M482 91H490V67H498",  # arm 1 joins at the same point
        "M498 67H528",  # -> Report
    ]


def test_the_details_speak_plain_words(page: Any) -> None:
    widget = example_widget(finished=True)
    mount(page, widget_state(widget))
    widget.command({"type": "select", "node": "Score"})
    page.evaluate(
        "detail => model.set('detail', detail)",
        {**widget.detail, "descriptor": 0, "worker": "pid:1234"},
    )
    facts = ".pointy-detail .pointy-facts"
    assert page.text_content(facts) == "1 attempt · 500 ms · took arm 0 (failure)"
    assert page.text_content(".pointy-detail .pointy-where") == "ran in process 1234"
    for descriptor, words in [(1, "arm 1 (success)"), (3, "arm 3 (chosen by the event)")]:
        page.evaluate(
            "detail => model.set('detail', detail)", {**widget.detail, "descriptor": descriptor}
        )
        assert page.text_content(facts) == f"1 attempt · 500 ms · took {words}"
    arm_titles = page.eval_on_selector_all(
        "g.pointy-arm .pointy-descriptor title", "titles => titles.map(t => t.textContent)"
    )
    assert arm_titles == ["arm 0 (failure)", "arm 1 (success)"]
    widget.command({"type": "select", "node": "Fetch"})
    page.evaluate("detail => model.set('detail', detail)", {**widget.detail, "descriptor": 0})
    facts = page.text_content(".pointy-detail .pointy-facts")
    assert facts == "1 attempt · 500 ms"
    assert page.text_content(".pointy-detail .pointy-where") == "ran on a thread (pointy-worker-0)"
    # A retried node: its last attempt, and the whole time from its first start, waits included.
    widget.command({"type": "select", "node": "Enrich"})
    assert widget.detail["total"] == 1.0  # 100.5 (first start) to 101.5 (the end)
    page.evaluate("detail => model.set('detail', detail)", widget.detail)
    facts = page.text_content(".pointy-detail .pointy-facts")
    assert facts == "↻2 attempts · last attempt 250 ms · 1.00 s in all, waits included"


def test_a_running_node_ticks_its_elapsed_time_in_the_page(page: Any) -> None:
    page.clock.install()
    page.reload()
    page.wait_for_function("window.pageReady === true")
    example = Example()
    mount(page, widget_state(example.widget))
    sent = len(page.evaluate("() => window.sent"))
    page.evaluate(
        "delta => window.deliver(delta)",
        {"type": "delta", "run": "r1", "nodes": table(["Fetch"], "running", 1)},
    )
    page.clock.run_for(4000)
    assert page.text_content('g.pointy-node[data-node="Fetch"] .pointy-sub') == "3 s"
    page.clock.run_for(62000)
    assert page.text_content('g.pointy-node[data-node="Fetch"] .pointy-sub') == "1m 05s"
    assert len(page.evaluate("() => window.sent")) == sent  # no kernel messages


def test_a_cancelled_run_says_so_once(page: Any) -> None:
    ids = [f"S{i}" for i in range(8)]
    state = chain(ids, "cancelled")
    nodes = table(ids, "cancelled", 0, run="r1")
    for i in range(3):
        nodes["state"][i] = "succeeded"
    state["nodes_json"] = json.dumps(nodes)
    state["message"] = "cancelled"
    state["controls"] = controls_for("cancelled", {"succeeded": 3, "cancelled": 5}, None, True)
    mount(page, state)
    assert page.is_enabled("button.pointy-rerun-all")
    assert page.is_disabled("button.pointy-rerun-failed")  # nothing failed
    assert page.text_content(".pointy-status-text") == "Run r1 · cancelled after 3 of 8 steps"
    assert page.text_content(".pointy-message") == ""


LUMINANCE = """(color) => {
    const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""

CONTRAST = (
    """() => { const lum = """
    + LUMINANCE
    + """;
    const ratio = (a, b) => {
        const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const out = {};
    for (const g of document.querySelectorAll('g.pointy-node')) {
        const fill = getComputedStyle(g.querySelector('rect')).fill;
        for (const cls of ['pointy-label', 'pointy-sub']) {
            const t = g.querySelector('.' + cls);
            if (!t) continue; // a node with nothing to say on its second line has none
            out[g.dataset.state + ' ' + cls] = ratio(getComputedStyle(t).fill, fill);
        }
        out[g.dataset.state + ' opacity'] = Number(getComputedStyle(g).opacity);
    }
    for (const item of document.querySelectorAll('.pointy-legend-item')) {
        const s = getComputedStyle(item);
        out['legend ' + item.dataset.state] = ratio(s.color, s.backgroundColor);
    }
    return out; }"""
)

STATES = ["pending", "running", "retrying", "succeeded", "failed", "skipped", "cancelled"]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_state_meets_wcag_aa_contrast(page: Any, theme: str) -> None:
    page.evaluate(
        "light => { document.body.dataset.jpThemeLight = light; "
        "document.body.style.background = light === 'true' ? '#fff' : '#111'; }",
        "true" if theme == "light" else "false",
    )
    state = chain(STATES, "failed")
    nodes = table(STATES, "pending", 2, run="r1")
    nodes["state"] = STATES
    nodes["duration_us"] = [250000] * len(STATES)
    state["nodes_json"] = json.dumps(nodes)
    mount(page, state)
    ratios = page.evaluate(CONTRAST)
    assert {f"{state} pointy-sub" for state in STATES} <= ratios.keys()  # every second line
    shoot(page, f"states-{theme}")
    low = {k: round(v, 2) for k, v in ratios.items() if not k.endswith("opacity") and v < 4.5}
    assert low == {}
    assert {k: v for k, v in ratios.items() if k.endswith("opacity") and v != 1} == {}
    dash = page.evaluate(
        "() => getComputedStyle(document.querySelector('g[data-state=skipped] rect'))"
        ".strokeDasharray"
    )
    assert dash == "3px, 3px"


def test_the_legend_explains_the_edges(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    assert page.locator(".pointy-legend-edge").all_text_contents() == [
        "then (->)",
        "pipe (|->)",
        "arm taken",
        "arm not taken",
    ]


def test_a_plan_has_no_run_buttons_nor_state_legend(page: Any) -> None:
    mount(page, chain(["Fetch", "Clean"], "pending", run=None))
    assert page.text_content(".pointy-status-text") == "Plan · 2 nodes · nothing runs"
    assert not page.is_visible(".pointy-buttons")
    assert not page.is_visible(".pointy-legend-states")
    assert page.is_visible(".pointy-legend-edges")
    centred = page.evaluate(
        """() => { const g = document.querySelector('g[data-node="Fetch"]');
                   const r = g.querySelector('rect').getBoundingClientRect();
                   const t = g.querySelector('.pointy-label').getBoundingClientRect();
                   return Math.abs((r.top + r.bottom) / 2 - (t.top + t.bottom) / 2); }"""
    )
    assert centred < 1.5
    shoot(page, "plan")


def test_hover_shows_a_tooltip_with_the_first_error_line(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    page.hover('g.pointy-node[data-node="Score"]')
    assert page.locator(".pointy-tooltip > div").all_text_contents() == [
        "Score",
        "failed · 500 ms",
        "ValueError: score < 0",
    ]
    page.hover(".pointy-status")
    assert not page.is_visible(".pointy-tooltip")


def test_arrow_keys_move_the_selection_and_enter_opens_it(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    page.focus('g.pointy-node[data-node="Fetch"]')
    focused = "() => document.activeElement.dataset.node"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "Clean"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "Enrich"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "Score"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "Alert"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "Save"
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.sent") == [{"type": "select", "node": "Save"}]


def test_go_to_definition_only_with_the_lab_extension(page: Any) -> None:
    widget = example_widget(finished=True)
    widget.command({"type": "select", "node": "Score"})
    mount(page, widget_state(widget))
    assert page.locator(".pointy-goto").count() == 0
    page.evaluate("() => { document.body.dataset.pointyLabextension = '1'; }")
    page.evaluate("detail => model.set('detail', detail)", widget.detail)
    page.evaluate(
        """() => { window.gotos = []; document.addEventListener('pointy:goto-definition',
            e => window.gotos.push([e.detail, e.target.className, e.composed])); }"""
    )
    page.click(".pointy-goto")
    assert page.evaluate("() => window.gotos") == [[{"name": "Score"}, "pointy-widget", True]]


def test_save_picture_exports_svg_and_png_with_the_states(page: Any) -> None:
    mount(page, widget_state(example_widget(finished=True)))
    with page.expect_download() as svg_download:
        page.click("button.pointy-zoom-svg")
    svg_text = pathlib.Path(svg_download.value.path()).read_text(encoding="utf-8")
    assert svg_download.value.suggested_filename == "pointy-r1.svg"
    assert svg_text.startswith("<svg")
    assert 'data-node="Score" data-state="failed"' in svg_text
    assert "fill:rgb(255, 205, 210)" in svg_text  # the failed fill, inlined
    with page.expect_download() as png_download:
        page.click("button.pointy-zoom-png")
    png = pathlib.Path(png_download.value.path()).read_bytes()
    assert png_download.value.suggested_filename == "pointy-r1.png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_2000_node_graph_draws_its_first_frame_within_500_ms(page: Any) -> None:
    ids = [f"E{i}" for i in range(2000)]
    state = chain(ids, "pending")
    # The widget marks its build's phases (performance.mark): print where the time went.
    # Three mounts, the median judged: one slow frame on a busy machine is not the widget's.
    runs = [
        page.evaluate(
            """state => new Promise(resolve => { performance.clearMarks();
                  const t = performance.now(); window.mount(state);
                  requestAnimationFrame(() => setTimeout(() => {
                    const at = Object.fromEntries(performance.getEntriesByType('mark')
                        .map(m => [m.name, m.startTime - t]));
                    resolve({frame: performance.now() - t, ...at}); })); })""",
            json.loads(json.dumps(state)),
        )
        for _ in range(3)
    ]
    runs.sort(key=lambda run: run["frame"])
    timings = runs[1]
    elapsed = timings["frame"]
    phases = {
        "set-up": timings["pointy-build"],
        "sizes": timings["pointy-measured"] - timings["pointy-build"],
        "elements": timings["pointy-drawn"] - timings["pointy-measured"],
        "states": timings["pointy-painted"] - timings["pointy-drawn"],
        "attach": timings["pointy-built"] - timings["pointy-painted"],
        "style, layout, paint": elapsed - timings["pointy-built"],
    }
    print(
        f"2,000-node first frame: {elapsed:.0f} ms ("
        + ", ".join(f"{name} {ms:.0f}" for name, ms in phases.items())
        + f"; load average {os.getloadavg()[0]:.1f}; all three: "
        + ", ".join(f"{run['frame']:.0f}" for run in runs)
        + " ms)"
    )
    assert page.locator("g.pointy-node").count() == 2000
    assert elapsed <= 500


def test_a_finished_example_looks_right(page: Any) -> None:
    for theme in ("true", "false"):
        page.evaluate("light => { document.body.dataset.jpThemeLight = light; }", theme)
        example = Example()
        example.emit(example_records())
        example.widget.command({"type": "select", "node": "Score"})
        mount(page, widget_state(example.widget))
        shoot(page, f"example-{'light' if theme == 'true' else 'dark'}")
    assert states(page)["Score"] == "failed"


def test_the_dask_dashboard_link_shows_in_the_header_only_when_there_is_one(page: Any) -> None:
    ids = ["Fetch", "Clean", "Report"]
    mount(page, {**chain(ids, "running"), "dashboard": ""})
    link = page.locator(".pointy-toolbar a.pointy-dashboard")
    assert link.count() == 1
    assert link.is_hidden()  # not on Dask: no link
    without = positions(page)

    address = "http://127.0.0.1:8787/status"
    page.evaluate("a => model.set('dashboard', a)", address)
    assert link.is_visible()
    assert (link.text_content(), link.get_attribute("href")) == ("Dask dashboard", address)
    assert link.get_attribute("target") == "_blank"
    assert "noopener" in (link.get_attribute("rel") or "")
    box, buttons = link.bounding_box(), page.locator(".pointy-buttons").bounding_box()
    assert box is not None
    assert buttons is not None
    assert box["x"] + box["width"] <= buttons["x"]  # beside the buttons, on the header row
    assert abs((box["y"] + box["height"] / 2) - (buttons["y"] + buttons["height"] / 2)) < 4
    assert positions(page)["canvas"] == without["canvas"]  # the graph does not move

    for theme in ("true", "false"):
        page.evaluate("light => { document.body.dataset.jpThemeLight = light; }", theme)
        name = f"dashboard-link-{'light' if theme == 'true' else 'dark'}"
        shoot(page, name)
    page.evaluate("() => model.set('dashboard', '')")  # the next run is not on Dask
    assert link.is_hidden()
    assert link.get_attribute("href") is None


STALE_LOOK = """() => {
    const rect = getComputedStyle(document.querySelector('g.pointy-node[data-stale=true] rect'));
    const fresh = getComputedStyle(document.querySelector('g.pointy-node:not([data-stale]) rect'));
    const pipe = getComputedStyle(document.querySelector('path.pointy-link-pipe'));
    const id = rect.stroke.match(/url\\("?#([^")]+)/)[1];
    const bands = [...document.getElementById(id).querySelectorAll('rect')]
        .map(r => getComputedStyle(r).fill);
    const legend = getComputedStyle(document.querySelector('.pointy-legend-stale'));
    return {stroke: rect.stroke, dash: rect.strokeDasharray, width: rect.strokeWidth,
            freshStroke: fresh.stroke, pipeDash: pipe.strokeDasharray, pipeStroke: pipe.stroke,
            bands, legendBorder: legend.borderTopStyle, legendImage: legend.backgroundImage,
            patterns: document.querySelectorAll('svg.pointy-graph pattern').length};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_stale_is_a_striped_outline_unlike_the_dashed_pipe_edge(page: Any, theme: str) -> None:
    page.evaluate(
        "light => { document.body.dataset.jpThemeLight = light; "
        "document.body.style.background = light === 'true' ? '#fff' : '#111'; }",
        "true" if theme == "light" else "false",
    )
    ids = ["Load", "Clean", "Score", "Report"]
    state = chain(ids, "succeeded")
    graph = json.loads(state["graph_json"])
    graph["root"]["links"] = ["then", "pipe", "then"]
    state["graph_json"] = json.dumps(graph)
    state["stale"] = ["Score", "Report"]
    mount(page, state)
    look = page.evaluate(STALE_LOOK)
    shoot(page, f"stale-{theme}")
    assert look["stroke"].startswith('url("#pointy-stale-stripes-')
    assert look["dash"] == "none"
    assert look["pipeDash"] == "5px, 3px"
    assert look["width"] == "4px"
    assert look["patterns"] == 1
    band, gap = look["bands"]
    assert band == look["pipeStroke"]  # the stale colour, in bands...
    assert gap != band  # ...alternating with the background: stripes, not dashes
    assert look["freshStroke"] != look["stroke"]
    assert look["legendBorder"] == "solid"
    assert "repeating-linear-gradient" in look["legendImage"]
    ratios = page.evaluate(CONTRAST)
    assert ratios["legend undefined"] >= 4.5  # the stale legend item's text on its background


def test_a_picture_and_the_tooltips_show_the_current_states_stale_and_cached_too(
    page: Any,
) -> None:
    ids = ["Load", "Clean", "Score", "Report"]
    state = chain(ids, "running")
    nodes = table(ids, "pending", 1, run="r1")
    nodes["state"] = ["cached", "succeeded", "running", "pending"]
    nodes["attempts"] = [0, 1, 2, 0]
    nodes["duration_us"] = [None, 250000, None, None]
    nodes["started"] = [None, None, 990.0, None]
    nodes["now"] = 1000.0
    state["nodes_json"] = json.dumps(nodes)
    state["stale"] = ["Clean"]
    page.clock.install(time=1_000_000)
    page.reload()
    page.wait_for_function("window.pageReady === true")
    page.clock.pause_at(2_000_000)
    mount(page, state)

    page.hover('g.pointy-node[data-node="Score"]')
    assert page.locator(".pointy-tooltip > div").all_text_contents() == [
        "Score",
        "running · ↻2 · 10 s",  # the current attempt's time, as the box says it
    ]
    page.hover('g.pointy-node[data-node="Clean"]')
    assert page.locator(".pointy-tooltip > div").all_text_contents() == [
        "Clean",
        "succeeded · 250 ms · stale",
    ]
    page.hover('g.pointy-node[data-node="Load"]')
    assert page.locator(".pointy-tooltip > div").all_text_contents() == ["Load", "cached"]

    with page.expect_download() as svg_download:
        page.click("button.pointy-zoom-svg")
    picture = pathlib.Path(svg_download.value.path()).read_text(encoding="utf-8")
    looks = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('g.pointy-node')].map(g => {
              const rect = getComputedStyle(g.querySelector('rect'));
              return [g.dataset.node, {fill: rect.fill, stroke: rect.stroke}]; }))"""
    )
    # In the picture, each node's rect is drawn as the widget draws it, stale stripes included.
    drawn = page.evaluate(
        """text => { const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
              const out = {};
              for (const g of doc.querySelectorAll('g[data-node]')) {
                  const style = g.querySelector('rect').getAttribute('style');
                  const value = name => style.split(';').find(s => s.startsWith(name + ':'))
                      .slice(name.length + 1);
                  out[g.getAttribute('data-node')] = {fill: value('fill'), stroke: value('stroke'),
                      state: g.getAttribute('data-state')};
              }
              const stripes = doc.querySelector('pattern[id^="pointy-stale-stripes-"]');
              out.stripes = stripes ? '#' + stripes.id : null;
              return out; }""",
        picture,
    )
    assert {node: drawn[node]["state"] for node in ids} == dict(
        zip(ids, ["cached", "succeeded", "running", "pending"], strict=True)
    )
    for node in ids:
        assert drawn[node]["fill"] == looks[node]["fill"]
    assert looks["Clean"]["stroke"].startswith('url("#pointy-stale-stripes-')
    assert drawn["stripes"] is not None
    assert drawn["Clean"]["stroke"] == f'url("{drawn["stripes"]}")'
    assert looks["Load"]["fill"] != looks["Report"]["fill"]  # cached reads unlike pending

    with page.expect_download() as png_download:
        page.click("button.pointy-zoom-png")
    png = pathlib.Path(png_download.value.path()).read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "picture-stale-cached-export.png").write_bytes(png)
    # The PNG, decoded in the page: the stale outline has stripes of two colours.
    colours = page.evaluate(
        """async bytes => {
            const blob = new Blob([new Uint8Array(bytes)], {type: 'image/png'});
            const image = await createImageBitmap(blob);
            const canvas = document.createElement('canvas');
            canvas.width = image.width; canvas.height = image.height;
            const context = canvas.getContext('2d');
            context.drawImage(image, 0, 0);
            const g = document.querySelector('g.pointy-node[data-node="Clean"]');
            const svgBox = document.querySelector('svg.pointy-graph').getBoundingClientRect();
            const box = g.querySelector('rect').getBoundingClientRect();
            const scale = image.width / svgBox.width;
            const y = Math.round((box.top - svgBox.top) * scale);  // the top border
            const seen = new Set();
            for (let x = box.left + 10; x < box.right - 10; x++) {
                const px = context.getImageData(Math.round((x - svgBox.left) * scale), y, 1, 1)
                    .data;
                seen.add(px.slice(0, 3).join(','));
            }
            return [...seen]; }""",
        list(png),
    )
    assert len(colours) >= 2
    shoot(page, "picture-stale-cached")


def test_hover_shows_the_first_error_line_of_any_failed_node(page: Any) -> None:
    # The run's message names Score; Fetch's error reaches its tooltip from the node table.
    state = widget_state(example_widget(finished=True))
    nodes = json.loads(state["nodes_json"])
    index = nodes["ids"].index("Fetch")
    nodes["state"][index] = "failed"
    nodes["error"][index] = "TimeoutError: the API did not answer"
    state["nodes_json"] = json.dumps(nodes)
    mount(page, state)
    page.hover('g.pointy-node[data-node="Fetch"]')
    lines = page.locator(".pointy-tooltip > div").all_text_contents()
    assert lines[0] == "Fetch"
    assert lines[-1] == "TimeoutError: the API did not answer"
