"""The timeline: a pure JSON-shaped layout, and the static SVG drawn from it."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import pytest
from engine_support import WAIT, run_flow
from telemetry_support import mixed_run

from pointy_engine.run.submit import STILL_RUNNING
from pointy_engine.telemetry import Timeline, timeline_layout

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


def test_the_static_svg_draws_every_bar_wait_and_the_critical_path(tmp_path):
    run = mixed_run()
    timeline = run.timeline()
    assert repr(timeline) == "<Timeline 'Nightly': 6 attempts on 2 workers, 1.700 s>"
    root = ET.fromstring(timeline._repr_svg_())
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("data-node")]
    assert [(r.get("data-node"), r.get("data-state")) for r in rects] == [
        ("Fetch", "retrying"),
        ("Fetch", "retrying"),
        ("Fetch", "succeeded"),
        ("Slowpoke", "failed"),
        ("Check", "failed"),
        ("Alert", "succeeded"),
    ]
    assert [r.get("data-critical") for r in rects] == ["true"] * 6  # a chain: all of it
    assert rects[3].find(f"{SVG}title").text == (
        "Slowpoke attempt 1: failed, 0.200 s (TimeoutError: event 'Slowpoke' timed out after "
        f"0.2 s{STILL}), on the critical path"
    )
    summary = root.find(f"{SVG}text[@class='pointy-critical-summary']")
    assert summary.text == "critical path (1.7 s): Fetch → Slowpoke → Check → Alert"
    waits = [line for line in root.iter(f"{SVG}line") if line.get("data-wait")]
    assert [w.find(f"{SVG}title").text for w in waits] == [
        "waited 0.500 s before retrying",
        "waited 1.000 s before retrying",
    ]
    assert timeline._repr_html_().startswith('<div class="pointy-timeline"><svg ')
    saved = timeline.save(tmp_path / "run.svg")
    assert saved.read_text() == timeline.to_svg()
    page = timeline.save(tmp_path / "run.html")
    assert page.read_text() == timeline._repr_html_()


def test_an_empty_run_has_an_empty_timeline():
    assert timeline_layout([]) == {
        "version": 1,
        "origin": 0.0,
        "end": 0.0,
        "lanes": [],
        "bars": [],
        "waits": [],
        "critical_path": [],
        "critical_steps": [],
    }
    assert ET.fromstring(Timeline(timeline_layout([]), "nothing").to_svg()).tag == f"{SVG}svg"


def test_instant_attempts_in_a_row_are_set_side_by_side_so_none_is_hidden():
    from pointy_engine.records import Record

    records = [Record("r1", "", "", 0, "running", 0.0, "")]
    for node, state, at in (("A", "succeeded", 0.0), ("B", "failed", 0.0), ("C", "succeeded", 0.0),
                            ("Long", "succeeded", 10.0)):  # fmt: skip
        records.append(Record("r1", node, node, 1, "running", at, "MainThread"))
        records.append(Record("r1", node, node, 1, state, at + (1.0 if node == "Long" else 0.0),
                              "MainThread"))  # fmt: skip
    root = ET.fromstring(Timeline(timeline_layout(records), "instants").to_svg())
    rects = {r.get("data-node"): r for r in root.iter(f"{SVG}rect") if r.get("data-node")}
    assert [(n, rects[n].get("x"), rects[n].get("width")) for n in "ABC"] == [
        ("A", "150.0", "6.0"),
        ("B", "157.0", "6.0"),  # one pixel apart, not drawn over A
        ("C", "162.0", "6.0"),  # at most two widths past where it fell
    ]
    assert rects["Long"].get("x") == "677.3"  # a bar with a real width stays where it is
