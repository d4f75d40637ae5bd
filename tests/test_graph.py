"""Lowering to the graph, its JSON form, and the drawings."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from pointy_engine.drawing import ascii_graph, dot_source, render_graphviz
from pointy_engine.errors import PointyError, UnknownEventError
from pointy_engine.graph import Arm, Branch, Node, Parallel, Sequence, build_graph

SNAPSHOTS = Path(__file__).parent / "fixtures" / "drawings.txt"


def test_lowering_gives_stable_ids_and_explicit_groups() -> None:
    graph = build_graph("A -> B || C |-> D (0 -> A, 1 -> E) -> A * 3")
    a, b, c, d, a2, e, a3 = graph.nodes
    assert [n.id for n in graph.nodes] == ["A", "B", "C", "D", "A#2", "E", "A#3"]
    assert a3 == Node("A#3", "A", 3, (38, 39))
    assert graph.root == Sequence(
        (a, Parallel("g1", (b, c)), Branch(d, (Arm(0, "then", a2), Arm(1, "then", e))), a3),
        ("then", "pipe", "then"),
    )
    assert build_graph("A -> B || C |-> D (0 -> A, 1 -> E) -> A * 3") == graph


def test_groups_splice_into_sequences_and_retry_reaches_their_events() -> None:
    graph = build_graph("A |-> (B -> C * 5) * 2 -> D (0 -> E) * 4")
    assert [(n.id, n.retry) for n in graph.nodes] == [
        ("A", None),
        ("B", 2),
        ("C", 5),
        ("D", 4),
        ("E", None),
    ]
    assert graph.root.links == ("pipe", "then", "then")


def test_edges_are_labelled_and_meet_groups_not_their_members() -> None:
    graph = build_graph("A -> B || C |-> D (0 -> E, 1 -> F) -> G")
    assert [tuple(edge) for edge in graph.edges] == [
        ("A", "g1", "then", None),
        ("D", "E", "arm", 0),
        ("D", "F", "arm", 1),
        ("g1", "D", "pipe", None),
        ("E", "G", "sink", None),
        ("F", "G", "sink", None),
    ]


def test_an_outcome_without_an_arm_goes_on_to_the_sink() -> None:
    graph = build_graph("A (0 -> Alert) -> B")
    assert [tuple(edge) for edge in graph.edges] == [
        ("A", "Alert", "arm", 0),
        ("Alert", "B", "sink", None),
        ("A", "B", "sink", None),
    ]


def test_json_form_is_plain_data() -> None:
    graph = build_graph("A (1 |-> B || C) -> D")
    data = graph.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["root"] == {
        "kind": "sequence",
        "items": [
            {
                "kind": "branch",
                "head": {"kind": "step", "node": "A"},
                "arms": [
                    {
                        "descriptor": 1,
                        "link": "pipe",
                        "body": {
                            "kind": "parallel",
                            "group": "g1",
                            "members": [
                                {"kind": "step", "node": "B"},
                                {"kind": "step", "node": "C"},
                            ],
                        },
                    }
                ],
            },
            {"kind": "step", "node": "D"},
        ],
        "links": ["then"],
    }
    assert data["nodes"][0] == {"id": "A", "name": "A", "retry": None, "span": [0, 1]}


def test_build_graph_checks_names() -> None:
    with pytest.raises(UnknownEventError, match="unknown event 'Bee'"):
        build_graph("A -> Bee", known_events={"A", "B"})


@pytest.mark.parametrize("separator", [" -> ", " || "])
def test_hundred_thousand_events_lower_without_recursion(separator: str) -> None:
    source = separator.join(f"E{i}" for i in range(100_000))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        graph = build_graph(source)
        edges = graph.edges
    finally:
        sys.setrecursionlimit(limit)
    assert len(graph.nodes) == 100_000
    assert len(edges) == (99_999 if separator == " -> " else 0)


def _snapshot_cases() -> list[tuple[str, str]]:
    text = SNAPSHOTS.read_text(encoding="utf-8")
    cases = []
    for chunk in text.split("### ")[1:]:
        source, _, drawing = chunk.partition("\n")
        cases.append((source, drawing.rstrip("\n")))
    return cases


@pytest.mark.parametrize(("source", "drawing"), _snapshot_cases(), ids=lambda value: value[:40])
def test_ascii_drawing_matches_snapshot(source: str, drawing: str) -> None:
    assert ascii_graph(build_graph(source)) == drawing


def test_dot_source_draws_clusters_pipes_arms_and_sinks() -> None:
    dot = dot_source(build_graph("A || B |-> C (0 -> D) -> E * 2"))
    assert 'subgraph "cluster_g1" {' in dot
    assert '"A" -> "C" [style=dashed, label="|->"];' in dot
    assert '"C" -> "D" [label="0"];' in dot
    assert '"D" -> "E" [style=dotted];' in dot
    assert '"E" [label="E ×2"];' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_image_is_written(tmp_path: Path) -> None:
    path = render_graphviz(build_graph("A -> B"), directory=tmp_path, format="svg")
    assert path == tmp_path / "pipeline.svg"
    assert "<svg" in path.read_text()


def test_graphviz_missing_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PointyError) as caught:
        render_graphviz(build_graph("A"), directory=tmp_path)
    assert str(caught.value) == (
        "Graphviz's 'dot' program was not found on PATH; install Graphviz: "
        "'sudo apt-get install graphviz' on Debian/Ubuntu, 'brew install graphviz' on macOS, "
        "or 'conda install graphviz'"
    )
    assert os.listdir(tmp_path) == []
