"""The critical path, from the run's graph: in the layout, the figure and as a DataFrame."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from engine_support import run_flow
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from telemetry_support import mixed_run

from pointy_engine import Outcome
from pointy_engine.graph import build_graph
from pointy_engine.records import Record
from pointy_engine.telemetry import Timeline, critical_path, critical_steps, timeline_layout
from pointy_engine.telemetry.timeline_figure import CRITICAL


def _ran(node: str, start: float, end: float, worker: str) -> list[Record]:
    return [
        Record("r1", node, node, 1, "running", start, ""),
        Record("r1", node, node, 1, "succeeded", end, worker),
    ]


# `(A -> B) || C -> D` on a pool of one thread: B waited for the worker C held, not for C.
WAITED_FOR_A_WORKER = [
    Record("r1", "", "", 0, "running", 0.0, ""),
    *_ran("A", 0.0, 1.0, "t1"),
    *_ran("C", 0.0, 3.0, "t2"),
    *_ran("B", 3.0, 4.0, "t2"),
    *_ran("D", 4.0, 5.0, "t1"),
    Record("r1", "", "", 0, "succeeded", 5.0, ""),
]


def test_the_path_follows_the_graph_not_whatever_ended_just_before():
    graph = build_graph("(A -> B) || C -> D")
    steps = critical_steps(WAITED_FOR_A_WORKER, graph)
    assert [(s.node, s.start, s.end, s.gap) for s in steps] == [
        ("A", 0.0, 1.0, None),
        ("B", 3.0, 4.0, 2.0),  # two seconds between A's end and B's start: no free worker
        ("D", 4.0, 5.0, 0.0),
    ]
    # From times alone, C (which ended just before B started) would look like B's cause.
    assert [s.node for s in critical_steps(WAITED_FOR_A_WORKER)] == ["C", "B", "D"]
    layout = timeline_layout(WAITED_FOR_A_WORKER, graph=graph)
    assert layout["critical_path"] == ["A", "B", "D"]
    assert layout["critical_steps"] == [
        {"node": "A", "start": 0.0, "end": 1.0, "gap": None},
        {"node": "B", "start": 3.0, "end": 4.0, "gap": 2.0},
        {"node": "D", "start": 4.0, "end": 5.0, "gap": 0.0},
    ]
    figure = Timeline(layout, "pool of one").figure()
    bars = [
        b for b in figure.findobj(Rectangle) if (b.get_gid() or "").startswith("pointy-attempt-")
    ]
    outline = to_rgba(CRITICAL)
    marks = {bar.get_gid(): bar.get_edgecolor() == outline for bar in bars}
    nodes = [bar["node"] for bar in layout["bars"]]  # A, C, B, D: in the order they started
    assert {nodes[int(gid.rsplit("-", 1)[1])]: on for gid, on in marks.items()} == {
        "A": True, "B": True, "C": False, "D": True,
    }  # fmt: skip
    links = figure.findobj(lambda a: (a.get_gid() or "").startswith("pointy-critical-link-"))
    # A (lane t1) ends at 1 s, B (lane t2) starts at 3 s; B to D goes back to lane t1 at 4 s.
    assert [(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in links] == [
        ((1.0, 3.0), (0, 1)),
        ((4.0, 4.0), (1, 0)),
    ]


def test_an_arm_that_was_taken_is_on_the_path_and_the_skipped_one_is_not():
    run = run_flow("A (0 -> B, 1 -> C) -> D", {"A": lambda: 1, "B": lambda: 2, "C": lambda: 3,
                                               "D": lambda: 4})  # fmt: skip
    assert run.nodes["B"].state == "skipped"
    assert list(run.critical_path["node"]) == ["A", "C", "D"]


def test_an_outcome_with_no_arm_goes_from_the_head_to_the_sink():
    run = run_flow(
        "A (0 -> B, 1 -> C) -> D",
        {"A": lambda: Outcome(descriptor=5, value=1), "B": lambda: 2, "C": lambda: 3,
         "D": lambda: 4},
    )  # fmt: skip
    assert [run.nodes[n].state for n in "BC"] == ["skipped", "skipped"]
    assert list(run.critical_path["node"]) == ["A", "D"]


def test_the_critical_path_frame_of_a_run_with_retries_a_timeout_and_a_branch():
    run = mixed_run()  # on a fake clock from 100.0: exact times
    frame = run.critical_path
    assert list(frame.columns) == [
        "node", "event", "attempts", "start", "end", "duration", "retry_wait", "gap",
    ]  # fmt: skip
    assert dict(frame.dtypes.astype(str)) == {
        "node": "string",
        "event": "string",
        "attempts": "int64",
        "start": "datetime64[ns, UTC]",
        "end": "datetime64[ns, UTC]",
        "duration": "float64",
        "retry_wait": "float64",
        "gap": "float64",
    }
    rows = [
        (r.node, r.attempts, r.start.timestamp(), r.end.timestamp(), round(r.duration, 6),
         round(r.retry_wait, 6), None if math.isnan(r.gap) else round(r.gap, 6))
        for r in frame.itertuples()
    ]  # fmt: skip
    assert rows == [
        ("Fetch", 3, 100.0, 101.5, 1.5, 1.5, None),  # two failed attempts, 0.5 + 1.0 s waits
        ("Slowpoke", 1, 101.5, 101.7, 0.2, 0.0, 0.0),  # timed out after 0.2 s
        ("Check", 1, 101.7, 101.7, 0.0, 0.0, 0.0),
        ("Alert", 1, 101.7, 101.7, 0.0, 0.0, 0.0),  # the failure arm
    ]
    pd.testing.assert_frame_equal(critical_path(run), frame)


def test_a_run_that_never_started_has_an_empty_critical_path():
    from engine_support import make_run

    frame = make_run("A -> B", {"A": lambda: 1, "B": lambda: 2}).critical_path
    assert frame.empty
    assert list(frame.columns)[:3] == ["node", "event", "attempts"]
    assert str(frame["duration"].dtype) == "float64"


@pytest.mark.parametrize("width", [3, 40])
def test_every_member_of_a_group_waits_for_every_member_of_the_group_before(width):
    # `A1 || ... || An -> B1 || ... || Bn`: the Bs share one predecessor list (no n x m edges).
    names = [f"A{i}" for i in range(width)], [f"B{i}" for i in range(width)]
    graph = build_graph(" || ".join(names[0]) + " -> " + " || ".join(names[1]))
    records = [Record("r1", "", "", 0, "running", 0.0, "")]
    for index, name in enumerate(names[0]):
        records += _ran(name, 0.0, 1.0 + index, "t")
    for index, name in enumerate(names[1]):
        records += _ran(name, width + 0.0, width + 1.0 + index / 10, "t")
    steps = critical_steps(records, graph)
    assert [s.node for s in steps] == [names[0][-1], names[1][-1]]
