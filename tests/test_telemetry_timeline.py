"""The timeline: a pure JSON-shaped layout, and the static figure matplotlib draws from it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from engine_support import WAIT, run_flow
from telemetry_support import mixed_run

from pointy_engine.errors import PointyError
from pointy_engine.records import CacheOrigin, Record
from pointy_engine.run.submit import STILL_RUNNING
from pointy_engine.telemetry import Timeline, timeline_layout
from pointy_engine.telemetry import timeline_figure as drawing

STILL = f"; {STILL_RUNNING}"  # a timed-out thread body goes on: the error says so

SVG = "{http://www.w3.org/2000/svg}"


def test_the_layout_of_a_run_with_retries_a_timeout_and_a_branch():
    run = mixed_run()
    layout = timeline_layout(run.stream.records)
    assert json.loads(json.dumps(layout)) == layout  # JSON-shaped
    assert layout["origin"] == 100.0
    assert layout["end"] == pytest.approx(1.7)
    assert layout["lanes"] == ["MainThread", "?"]  # a timed-out attempt never said where it ran
    bars = [
        (b["node"], b["attempt"], b["state"], b["lane"], round(b["start"], 6), round(b["end"], 6))
        for b in layout["bars"]
    ]
    assert bars == [
        ("Fetch", 1, "retrying", 0, 0.0, 0.0),
        ("Fetch", 2, "retrying", 0, 0.5, 0.5),
        ("Fetch", 3, "succeeded", 0, 1.5, 1.5),
        ("Slowpoke", 1, "failed", 1, 1.5, 1.7),
        ("Check", 1, "failed", 0, 1.7, 1.7),
        ("Alert", 1, "succeeded", 0, 1.7, 1.7),
    ]
    assert (
        layout["bars"][3]["error"] == "TimeoutError: event 'Slowpoke' timed out after 0.2 s" + STILL
    )
    assert layout["waits"] == [
        {"node": "Fetch", "lane": 0, "start": 0.0, "end": 0.5, "delay": 0.5},
        {"node": "Fetch", "lane": 0, "start": 0.5, "end": 1.5, "delay": 1.0},
    ]
    assert layout["critical_path"] == ["Fetch", "Slowpoke", "Check", "Alert"]
    assert layout["cached"] == []


def test_parallel_members_get_their_own_lanes_and_the_longer_one_is_critical():
    both = threading.Barrier(2, timeout=WAIT)
    long_done = threading.Event()

    def Short():
        both.wait()

    def Long():
        both.wait()
        long_done.wait(0.05)  # outlives Short: nothing sets it

    run = run_flow("Short || Long -> After", {"Short": Short, "Long": Long, "After": lambda: 1})
    layout = timeline_layout(run.stream.records)
    lanes = {bar["node"]: layout["lanes"][bar["lane"]] for bar in layout["bars"]}
    assert lanes["Short"] != lanes["Long"]
    assert layout["critical_path"] == ["Long", "After"]


def test_a_running_attempt_ends_at_now():
    run = mixed_run()
    records = [r for r in run.stream.records if not (r.node == "Alert" and r.state != "running")]
    layout = timeline_layout(records[:-1], now=105.0)
    assert layout["bars"][-1]["state"] == "running"
    assert layout["bars"][-1]["end"] == 5.0


def artists(figure: Any, prefix: str) -> list[Any]:
    """The figure's artists whose gid is `prefix` followed by a number, in that number's order."""
    found = figure.findobj(
        lambda a: (a.get_gid() or "").startswith(prefix) and a.get_gid()[len(prefix) :].isdigit()
    )
    return sorted(found, key=lambda a: int(a.get_gid()[len(prefix) :]))


def text_artists(figure: Any) -> list[Any]:
    from matplotlib.text import Text

    return [t for t in figure.findobj(Text) if t.get_text() and t.get_visible()]


def texts(figure: Any) -> list[str]:
    return [t.get_text() for t in text_artists(figure)]


def legend_labels(figure: Any) -> list[str]:
    (legend,) = figure.legends
    return [text.get_text() for text in legend.get_texts()]


def test_the_figure_has_a_lane_per_worker_a_bar_per_attempt_and_the_waits_labelled():
    run = mixed_run()
    timeline = run.timeline()
    assert repr(timeline) == "<Timeline 'Nightly': 6 attempts on 2 workers, 1.700 s>"
    figure = timeline.figure()
    (axes,) = figure.axes
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "MainThread",
        "(worker not known)",  # the timed-out attempt never said where it ran
    ]
    fills = {state: colours[0] for state, colours in drawing.STATE_COLOURS.items()}
    bars = [
        (round(r.get_x(), 6), round(r.get_y() + r.get_height() / 2), r.get_facecolor())
        for r in artists(figure, "pointy-attempt-")
    ]
    span = 1.7
    smallest = drawing.MIN_BAR * span
    from matplotlib.colors import to_rgba

    assert bars == [
        (0.0, 0, to_rgba(fills["retrying"])),
        (0.5, 0, to_rgba(fills["retrying"])),
        (1.5, 0, to_rgba(fills["succeeded"])),
        (1.5, 1, to_rgba(fills["failed"])),  # Slowpoke, in the other lane
        (1.7, 0, to_rgba(fills["failed"])),  # Check
        (round(1.7 + smallest + smallest / 6, 6), 0, to_rgba(fills["succeeded"])),  # Alert
    ]
    slowpoke = artists(figure, "pointy-attempt-")[3]
    assert slowpoke.get_width() == pytest.approx(0.2)
    assert "Slowpoke" in [t.get_text() for t in artists(figure, "pointy-attempt-label-")]
    # The retry waits: a dashed line across each gap, its delay written above it.
    waits = artists(figure, "pointy-wait-")
    assert [tuple(line.get_xdata()) for line in waits] == [(0.0, 0.5), (0.5, 1.5)]
    assert {line.get_linestyle() for line in waits} == {"--"}
    labels = artists(figure, "pointy-wait-label-")
    assert [(t.get_text(), t.get_position()[0]) for t in labels] == [
        ("wait 500 ms", 0.25),
        ("wait 1 s", 1.0),
    ]
    assert legend_labels(figure) == ["succeeded", "retrying", "failed", "critical path",
                                     "retry wait"]  # fmt: skip
    assert "critical path (1.7 s): Fetch → Slowpoke → Check → Alert" in texts(figure)
    assert axes.get_xlabel() == "seconds from the run's start"
    assert axes.get_xlim()[0] == 0


def test_the_critical_path_is_outlined_and_linked_across_lanes():
    run = mixed_run()
    figure = run.timeline().figure()
    rectangles = artists(figure, "pointy-attempt-")
    from matplotlib.colors import to_rgba

    outline = to_rgba(drawing.CRITICAL)
    assert [r.get_edgecolor() == outline for r in rectangles] == [True] * 6  # a chain: all of it
    # Fetch (lane 0) to Slowpoke (lane 1) at 1.5 s, back to Check (lane 0) at 1.7 s.
    links = artists(figure, "pointy-critical-link-")
    assert [tuple(link.get_ydata()) for link in links] == [(0, 1), (1, 0)]
    assert [link.get_xdata()[1] for link in links] == [pytest.approx(1.5), pytest.approx(1.7)]


def test_the_svg_keeps_text_as_text_with_a_tooltip_per_bar_and_wait():
    run = mixed_run()
    svg = run.timeline()._repr_svg_()
    assert svg.startswith("<svg ")  # no XML prolog: it can sit inside HTML
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    tips = [groups[f"pointy-attempt-{i}"].find(f"{SVG}title").text for i in range(6)]
    assert tips[3] == (
        "Slowpoke attempt 1: failed, 0.200 s (TimeoutError: event 'Slowpoke' timed out after "
        f"0.2 s{STILL}), on the critical path"
    )
    assert tips[0] == "Fetch attempt 1: retrying, 0.000 s (ConnectionError: refused 1), on the " \
        "critical path"  # fmt: skip
    assert [groups[f"pointy-wait-{i}"].find(f"{SVG}title").text for i in range(2)] == [
        "Fetch waited 0.500 s before retrying",
        "Fetch waited 1.000 s before retrying",
    ]
    words = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"Nightly", "MainThread", "Slowpoke", "wait 500 ms", "wait 1 s", "succeeded",
            "retrying", "failed", "critical path", "retry wait"} <= words  # fmt: skip
    assert "critical path (1.7 s): Fetch → Slowpoke → Check → Alert" in words
    assert not list(root.iter(f"{SVG}image"))  # nothing rasterised
    assert "<dc:date>" not in svg
    assert "Matplotlib v" not in svg  # no creator line: a new matplotlib does not change it


def test_the_same_run_draws_the_same_svg_bytes():
    layout = timeline_layout(mixed_run().stream.records)
    first = Timeline(layout, "Nightly").to_svg()
    again = Timeline(json.loads(json.dumps(layout)), "Nightly").to_svg()
    assert first == again


def test_save_writes_svg_png_pdf_or_html_by_suffix_and_names_a_wrong_one(tmp_path):
    timeline = mixed_run().timeline()
    assert timeline._repr_html_() == f'<div class="pointy-timeline">{timeline.to_svg()}</div>'
    assert timeline.save(tmp_path / "run.svg").read_text(encoding="utf-8") == timeline.to_svg()
    assert timeline.save(tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert timeline.save(tmp_path / "run.PDF").read_bytes()[:5] == b"%PDF-"
    page = timeline.save(tmp_path / "run.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert timeline._repr_html_() in page
    with pytest.raises(PointyError) as caught:
        timeline.save(tmp_path / "run.jpg")
    assert str(caught.value) == (
        "cannot save a timeline as 'run.jpg': the suffix must be one of .svg, .png, .pdf or .html"
    )
    assert not (tmp_path / "run.jpg").exists()


def test_an_empty_run_has_an_empty_timeline():
    assert timeline_layout([]) == {
        "version": 1,
        "origin": 0.0,
        "end": 0.0,
        "lanes": [],
        "bars": [],
        "waits": [],
        "cached": [],
        "critical_path": [],
        "critical_steps": [],
    }
    timeline = Timeline(timeline_layout([]), "nothing")
    assert ET.fromstring(timeline.to_svg()).tag == f"{SVG}svg"
    assert legend_labels(timeline.figure()) == []


def test_instant_attempts_in_a_row_are_set_side_by_side_so_none_is_hidden():
    records = [Record("r1", "", "", 0, "running", 0.0, "")]
    for node, state, at in (("A", "succeeded", 0.0), ("B", "failed", 0.0), ("C", "succeeded", 0.0),
                            ("Long", "succeeded", 10.0)):  # fmt: skip
        records.append(Record("r1", node, node, 1, "running", at, "MainThread"))
        records.append(Record("r1", node, node, 1, state, at + (1.0 if node == "Long" else 0.0),
                              "MainThread"))  # fmt: skip
    figure = Timeline(timeline_layout(records), "instants").figure()
    a, b, c, long = ((r.get_x(), r.get_width()) for r in artists(figure, "pointy-attempt-"))
    smallest = drawing.MIN_BAR * 11.0
    assert a == (0.0, pytest.approx(smallest))
    assert b[0] == pytest.approx(a[0] + a[1] + smallest / 6)  # just past A, not drawn over it
    assert c[0] == pytest.approx(2 * smallest)  # at most two widths past where it fell
    assert long == (10.0, 1.0)  # a bar with a real width stays where it is


def test_cached_steps_show_in_their_own_lane_hatched_with_what_they_took_when_they_ran():
    records = [
        Record("r1", "", "", 0, "running", 50.0, ""),
        Record("r1", "Load", "Load", 0, "cached", 50.1, "cache", origin=CacheOrigin(2.5, 10.0)),
        Record("r1", "Sum", "Sum", 1, "running", 50.1, ""),
        Record("r1", "Sum", "Sum", 1, "succeeded", 50.4, "MainThread"),
        Record("r1", "", "", 0, "succeeded", 50.4, ""),
    ]
    layout = timeline_layout(records)
    assert layout["cached"] == [
        {"node": "Load", "event": "Load", "at": pytest.approx(0.1), "original_duration": 2.5}
    ]
    assert [bar["node"] for bar in layout["bars"]] == ["Sum"]
    timeline = Timeline(layout, "warm")
    figure = timeline.figure()
    (axes,) = figure.axes
    assert [t.get_text() for t in axes.get_yticklabels()] == ["MainThread", "cache (not run)"]
    (hit,) = artists(figure, "pointy-cached-")
    assert hit.get_hatch() == "////"
    assert round(hit.get_y() + hit.get_height() / 2) == 1
    assert legend_labels(figure) == ["succeeded", "cached (not run)", "critical path"]
    root = ET.fromstring(timeline.to_svg())
    (group,) = (g for g in root.iter(f"{SVG}g") if g.get("id") == "pointy-cached-0")
    assert group.find(f"{SVG}title").text == "Load: cached (took 2.500 s when it ran)"


def test_a_real_warm_run_draws_its_cache_hits(tmp_path):
    events = {"A": lambda: 1, "B": lambda previous_result=None: 2}
    run_flow("A -> B", events, cache=tmp_path)
    warm = run_flow("A -> B", events, cache=tmp_path)
    assert {n: r.state for n, r in warm.nodes.items()} == {"A": "cached", "B": "cached"}
    figure = warm.timeline().figure()
    hits = artists(figure, "pointy-cached-")
    assert len(hits) == 2
    assert [t.get_text() for t in artists(figure, "pointy-cached-label-")] == ["A", "B"]


def _luminance(colour: Any) -> float:
    from matplotlib.colors import to_rgb

    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(front: Any, back: Any) -> float:
    one, two = sorted((_luminance(front), _luminance(back)))
    return (two + 0.05) / (one + 0.05)


def test_every_text_and_the_critical_outline_are_readable_on_what_is_behind_them():
    figure = mixed_run().timeline().figure()
    figure.draw_without_rendering()  # the time axis makes its tick labels when drawn
    labels = {t.get_gid(): t for t in text_artists(figure)}
    fills = {r.get_gid(): r.get_facecolor() for r in artists(figure, "pointy-attempt-")}
    checked = []
    for text in text_artists(figure):
        gid = text.get_gid() or ""
        back = (
            fills[gid.replace("-label", "")]
            if gid.startswith("pointy-attempt-label-")
            else drawing.BACKGROUND  # the card is opaque: the page behind does not matter
        )
        assert contrast(text.get_color(), back) >= 4.5, (text.get_text(), text.get_color())
        checked.append(text.get_text())
    assert {"0.0", "1.6", "MainThread", "Slowpoke", "wait 1 s", "retry wait", "Nightly"} <= set(
        checked
    )
    assert labels["pointy-critical-summary"].get_text().startswith("critical path")
    # Bar labels in every state, and the outline (a non-text mark: 3:1) against every fill.
    for fill, _line, text in drawing.STATE_COLOURS.values():
        assert contrast(text, fill) >= 4.5
        assert contrast(drawing.CRITICAL, fill) >= 3.0
    assert contrast(drawing.CRITICAL, drawing.BACKGROUND) >= 3.0
    assert contrast(drawing.WAIT_LINE, drawing.BACKGROUND) >= 3.0
    assert figure.get_facecolor()[3] == 1.0  # opaque


def test_a_twenty_node_run_draws_a_small_svg():
    names = [f"Step{i:02d}" for i in range(20)]
    # Five blocks of three parallel steps and one after them: lanes, links and labels enough.
    source = " -> ".join(
        f"({' || '.join(names[i : i + 3])}) -> {names[i + 3]}" for i in range(0, 20, 4)
    )
    events = {name: (lambda: 1) for name in names}
    run = run_flow(source, events)
    assert len(run.nodes) == 20
    svg = run.timeline().to_svg()
    size = len(svg.encode("utf-8"))
    print(f"20-node run: {size / 1024:.1f} KB of SVG")
    assert size < 60 * 1024


ONE_EVENT_PIPELINE = """
from pointy_engine import EventBase, Pipeline

class A(EventBase):
    def process(self):
        return True, 1

class P(Pipeline):
    class Meta:
        pointy = "A"

"""

BLOCK_MATPLOTLIB = """
import sys

class NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMatplotlib())
"""


def test_without_matplotlib_a_timeline_says_what_to_install_and_the_layout_still_works():
    code = BLOCK_MATPLOTLIB + (
        "from pointy_engine.errors import PointyError\n"
        "from pointy_engine.telemetry import timeline_layout\n"
        + ONE_EVENT_PIPELINE
        + "run = P().start()\n"
        "print(len(timeline_layout(run.stream.records)['bars']))\n"
        "try:\n"
        "    run.timeline()\n"
        "except PointyError as error:\n"
        "    print(type(error).__name__, error)\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [
        "1",
        "PointyError a static timeline is drawn with matplotlib, which is not installed: "
        "pip install 'pointy[telemetry]' (the live widget's Timeline tab needs nothing more)",
        "False",
    ], done.stderr


def test_a_run_and_its_layout_import_no_matplotlib():
    code = (
        "import sys, pointy_engine, pointy_engine.telemetry as t\n"
        + ONE_EVENT_PIPELINE
        + "run = P().start()\n"
        "t.timeline_layout(run.stream.records)\n"
        "print('matplotlib' in sys.modules)\n"
        "run.timeline()\n"  # asking for the picture is what loads it
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "False\nTrue False\n", done.stderr


def test_the_users_own_matplotlib_style_does_not_change_the_timeline():
    import matplotlib

    layout = timeline_layout(mixed_run().stream.records)
    plain = Timeline(layout, "Nightly").to_svg()
    with matplotlib.rc_context(
        {"lines.linewidth": 4, "font.size": 20, "axes.grid": False, "hatch.color": "red",
         "svg.fonttype": "path", "font.family": "serif"}
    ):  # fmt: skip
        styled = Timeline(layout, "Nightly").to_svg()
        assert matplotlib.rcParams["lines.linewidth"] == 4  # and the user's style is left alone
    assert styled == plain


def test_names_and_titles_are_plain_text_never_tex():
    records = [
        Record("r1", "", "", 0, "running", 0.0, ""),
        Record("r1", "A", "A", 1, "running", 0.0, ""),
        Record("r1", "A", "A", 1, "succeeded", 1.0, "pool$1$ <&>"),
    ]
    root = ET.fromstring(Timeline(timeline_layout(records), "costs $5 and $^{6").to_svg())
    words = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"costs $5 and $^{6", "pool$1$ <&>"} <= words


def test_a_big_run_draws_one_artist_per_state_with_every_bar_in_it():
    records = [Record("r1", "", "", 0, "running", 0.0, "")]
    count = drawing.MANY_BARS + 50
    for index in range(count):
        node = f"N{index}"
        state = "failed" if index % 10 == 0 else "succeeded"
        records.append(Record("r1", node, node, 1, "running", index * 0.01, f"t{index % 3}"))
        records.append(Record("r1", node, node, 1, state, index * 0.01 + 0.005, f"t{index % 3}"))
    figure = Timeline(timeline_layout(records), "big").figure()
    assert artists(figure, "pointy-attempt-") == []  # no artist per bar
    groups = {
        c.get_gid(): len(c.get_paths())
        for c in figure.findobj(lambda a: (a.get_gid() or "").startswith("pointy-attempts-"))
    }
    assert groups == {"pointy-attempts-failed": count // 10, "pointy-attempts-succeeded": count
                      - count // 10}  # fmt: skip
    assert legend_labels(figure) == ["succeeded", "failed", "critical path"]
