"""The Pointy language: fixtures as data, exact error messages, round trips, scale, threads."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from pointy_engine.errors import PointyCheckError, PointyError, PointySyntaxError, UnknownEventError
from pointy_engine.language import ast, check, check_names, parse, unparse

FIXTURES = Path(__file__).parent / "fixtures"


def _valid_pipelines() -> list[str]:
    lines = (FIXTURES / "valid_pipelines.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("# ")]


def _invalid_pipelines() -> list[dict]:
    lines = (FIXTURES / "invalid_pipelines.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


SEED_EXAMPLE = (FIXTURES / "seed_example.pty").read_text(encoding="utf-8")


@pytest.mark.parametrize("source", [*_valid_pipelines(), SEED_EXAMPLE])
def test_valid_pipeline_round_trips(source: str) -> None:
    tree = parse(source)
    check(tree, source)
    text = unparse(tree)
    assert parse(text) == tree
    assert unparse(parse(text)) == text  # canonical text is a fixed point


@pytest.mark.parametrize("case", _invalid_pipelines(), ids=lambda case: case["source"][:30])
def test_invalid_pipeline_reports_exact_problem(case: dict) -> None:
    source = case["source"]
    if case["error"] == "syntax":
        with pytest.raises(PointySyntaxError) as caught:
            parse(source)
        error = caught.value
        assert (error.line, error.column, error.summary) == (
            case["line"],
            case["column"],
            case["message"],
        )
    else:
        tree = parse(source)
        with pytest.raises(PointyCheckError) as caught:
            check(tree, source)
        assert caught.value.located()[0] == (case["message"], case["line"], case["column"])


def test_syntax_error_shows_the_line_with_a_caret() -> None:
    with pytest.raises(PointySyntaxError) as caught:
        parse("Fetch -> Clean\n  -> Score Report")
    assert str(caught.value) == (
        "unexpected event name 'Report'; expected '->', '|->', '||', '*', '(' or end of input"
        " at line 2, column 12\n"
        "    -> Score Report\n"
        "             ^^^^^^"
    )
    assert caught.value.offset == 26
    assert caught.value.expected == ("'->'", "'|->'", "'||'", "'*'", "'('", "end of input")
    assert isinstance(caught.value, PointyError)


def test_check_reports_every_problem_at_once() -> None:
    source = "@retries:2 A * 1 -> B (0 -> C, 0 -> D, 12 -> E) -> 3 -> F"
    with pytest.raises(PointyCheckError) as caught:
        check(parse(source), source)
    assert caught.value.located() == [
        ("unknown directive '@retries'; the known directive is @recursive-depth", 1, 1),
        ("retry factor 1 is out of range 2..1000", 1, 12),
        ("descriptor 0 appears twice in one branch group", 1, 32),
        ("descriptor 12 is out of range 0..9", 1, 40),
        (
            "descriptor 3 is outside a branch group; arms go in parentheses right after an"
            " event, as in 'A (0 -> B, 1 -> C)'",
            1,
            52,
        ),
    ]
    assert str(caught.value).startswith("5 problems in the pipeline:\nunknown directive")


def test_unknown_names_are_reported_together_with_suggestions() -> None:
    source = "Fetch -> Claen || Enrich |-> Scroe -> Fetch -> Zebra -> Claen"
    with pytest.raises(UnknownEventError) as caught:
        check_names(parse(source), source, {"Fetch", "Clean", "Enrich", "Score", "score"})
    error = caught.value
    assert error.names == ("Claen", "Scroe", "Zebra")
    assert error.located() == [
        ("unknown event 'Claen' (did you mean 'Clean'?)", 1, 10),
        ("unknown event 'Scroe' (did you mean 'Score' or 'score'?)", 1, 30),
        ("unknown event 'Zebra'", 1, 48),
        ("unknown event 'Claen' (did you mean 'Clean'?)", 1, 57),
    ]


def test_case_only_difference_is_suggested() -> None:
    with pytest.raises(UnknownEventError) as caught:
        check_names(parse("fetchdata"), "fetchdata", {"FetchData"})
    assert caught.value.located() == [
        ("unknown event 'fetchdata' (did you mean 'FetchData'?)", 1, 1)
    ]


def test_tree_shape_and_spans() -> None:
    tree = parse("A |-> 3 * B (1 -> C) || D")
    a = ast.EventRef("A")
    b = ast.EventRef("B")
    arm = ast.Arm(1, "then", ast.Flow((ast.EventRef("C"),), ()))
    member = ast.Retry(ast.Branched(b, (arm,)), 3)
    assert tree == ast.Pipeline(ast.Flow((a, ast.Parallel((member, ast.EventRef("D")))), ("pipe",)))
    parallel = tree.flow.steps[1]
    assert parallel.span == (6, 25)
    assert parallel.members[0].span == (6, 20)
    assert parallel.members[0].target.target.span == (10, 11)


def test_nodes_are_frozen_and_slotted() -> None:
    ref = parse("A").flow.steps[0]
    with pytest.raises(AttributeError):
        ref.name = "B"  # type: ignore[misc]
    assert not hasattr(ref, "__dict__")


def test_comments_and_whitespace_are_ignored() -> None:
    assert parse("A # first\r\n\t-> B # second\n") == parse("A -> B")


def test_parse_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="takes the pipeline text as str, not bytes"):
        parse(b"A -> B")  # type: ignore[arg-type]


def test_nesting_is_limited_with_a_clear_error() -> None:
    source = "(" * 101 + "A" + ")" * 101
    with pytest.raises(PointySyntaxError, match=r"parentheses nested deeper than 100 levels"):
        parse(source)
    deepest = parse("(" * 100 + "A" + ")" * 100)
    assert unparse(deepest) == "(" * 100 + "A" + ")" * 100


@pytest.mark.parametrize("separator", [" -> ", " || ", " |-> "])
def test_hundred_thousand_events_parse_without_recursion(separator: str) -> None:
    source = separator.join(f"E{i}" for i in range(100_000))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # prove no pass recurses per event
    try:
        tree = parse(source)
        check(tree, source)
    finally:
        sys.setrecursionlimit(limit)
    steps = tree.flow.steps
    count = len(steps[0].members) if separator == " || " else len(steps)
    assert count == 100_000


def test_parsing_is_thread_safe() -> None:
    sources = [" -> ".join(f"T{t}_{i}" for i in range(300)) for t in range(8)]
    expected = [parse(source) for source in sources]
    results: dict[int, bool] = {}

    def work(index: int) -> None:
        results[index] = all(parse(sources[index]) == expected[index] for _ in range(20))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(range(8), True)


def test_parse_writes_no_files_and_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pointy_engine.language.parser as parser_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parser_module, "_tables", None)
    monkeypatch.setattr(parser_module, "_table_view", None)
    parse("A -> B (0 -> C)")
    with pytest.raises(PointySyntaxError):
        parse("A ->")
    assert list(tmp_path.iterdir()) == []
    assert list(Path(parser_module.__file__).parent.glob("parse*")) == [
        Path(parser_module.__file__)
    ]
    assert capsys.readouterr() == ("", "")
