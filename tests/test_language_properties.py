"""Property tests: generated trees round-trip; any text parses or raises PointySyntaxError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointy_engine.errors import PointySyntaxError
from pointy_engine.graph import lower
from pointy_engine.language import ast, check, event_refs, parse, unparse

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
refs = names.map(ast.EventRef)
links = st.sampled_from(["then", "pipe"])


def flows(units: st.SearchStrategy) -> st.SearchStrategy[ast.Flow]:
    parallel = st.lists(units, min_size=2, max_size=3).map(lambda m: ast.Parallel(tuple(m)))
    steps = st.lists(st.one_of(units, parallel), min_size=1, max_size=4)
    return steps.flatmap(
        lambda chosen: st.lists(links, min_size=len(chosen) - 1, max_size=len(chosen) - 1).map(
            lambda joins: ast.Flow(tuple(chosen), tuple(joins))
        )
    )


def _extend(inner: st.SearchStrategy) -> st.SearchStrategy:
    inner_flows = flows(inner)
    groups = inner_flows.map(ast.Group)
    arms = st.lists(
        st.builds(ast.Arm, st.integers(0, 9), links, inner_flows),
        min_size=1,
        max_size=3,
        unique_by=lambda arm: arm.descriptor,
    )
    branched = st.builds(
        lambda target, chosen: ast.Branched(target, tuple(chosen)), st.one_of(refs, groups), arms
    )
    retried = st.builds(ast.Retry, st.one_of(refs, groups, branched), st.integers(2, 1000))
    return st.one_of(groups, branched, retried)


units = st.recursive(refs, _extend, max_leaves=10)
pipelines = flows(units).map(ast.Pipeline)


# Hypothesis warns that the recursive strategy's repr is large; that is harmless here.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=300, deadline=None)
@given(pipelines)
def test_generated_pipelines_round_trip(tree: ast.Pipeline) -> None:
    text = unparse(tree)
    parsed = parse(text)
    assert parsed == tree
    check(parsed, text)
    graph = lower(parsed, text)
    assert [node.name for node in graph.nodes] == [ref.name for ref in event_refs(parsed)]
    assert len({node.id for node in graph.nodes}) == len(graph.nodes)


pointy_alphabet = st.sampled_from([*list("AB_z09 \t\n->|*(),#@:é$"), "->", "|->", "||", "\r"])


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.lists(pointy_alphabet, max_size=40).map("".join)))
def test_any_text_parses_or_raises_a_syntax_error(text: str) -> None:
    try:
        tree = parse(text)
    except PointySyntaxError as error:
        assert 1 <= error.line <= text.count("\n") + 1
        assert 0 <= error.offset <= len(text)
        assert str(error)  # renders with its caret without failing
    else:
        assert isinstance(tree, ast.Pipeline)
