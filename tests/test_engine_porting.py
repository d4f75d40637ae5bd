"""What an event returns, which event a name means, and the errors a porting user meets."""

from __future__ import annotations

import importlib
import resource
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import run_flow

import pointy_engine
from pointy_engine import (
    AmbiguousEventError,
    EventBase,
    MissingArgumentError,
    Outcome,
    Pipeline,
    PointyError,
    RetryPolicy,
    UnknownEventError,
    event,
)
from pointy_engine.errors import PipelineFlowError
from pointy_engine.graph import build_graph
from pointy_engine.plan import Plan
from pointy_engine.registry import default_registry

# ---- 4. What an event returns ------------------------------------------------------------


def _function_event(result: Any) -> Any:
    def Fetch():
        return result

    return event(Fetch, retry_policy=RetryPolicy(max_attempts=3, backoff_factor=0))


def _class_event(result: Any) -> Any:
    class Fetch(EventBase, register=False):
        retry_policy = RetryPolicy(max_attempts=3, backoff_factor=0)

        def process(self):
            return result

    return Fetch


@pytest.mark.parametrize("make", [_function_event, _class_event], ids=["function", "class"])
@pytest.mark.parametrize(
    ("result", "shown"),
    [
        ("text", "'text'"),
        (42, "42"),
        (None, "None"),
        ((1, 2, 3), "(1, 2, 3)"),
        ((0, "x"), "(0, 'x')"),
        ((True, 1, 2), "(True, 1, 2)"),
        ([True, 1], "[True, 1]"),
    ],
)
def test_a_wrong_shape_fails_once_naming_the_event_and_what_it_returned(make, result, shown):
    run = run_flow("Fetch", {"Fetch": make(result)})
    node = run.nodes["Fetch"]
    assert (run.status, node.state, node.attempts, node.value) == ("failed", "failed", 1, None)
    where = "Fetch.process" if make is _class_event else "Fetch"
    assert node.error.type == "ReturnShapeError"
    assert node.error.message == (
        f"{where} returned {shown}; return (ok, value), e.g. (True, result)"
    )


@pytest.mark.parametrize("make", [_function_event, _class_event], ids=["function", "class"])
@pytest.mark.parametrize(
    ("result", "state", "value", "arm"),
    [
        (False, "failed", None, "Alert"),  # a bare False is a failure, never a success
        (True, "succeeded", None, "Next"),
        ((True, [1]), "succeeded", [1], "Next"),
        ((False, "why"), "failed", "why", "Alert"),
        (Outcome(1, "v"), "succeeded", "v", "Next"),
    ],
)
def test_the_shapes_an_event_may_return(make, result, state, value, arm):
    events = {"Fetch": make(result), "Alert": lambda: "a", "Next": lambda: "n"}
    run = run_flow("Fetch (0 -> Alert, 1 -> Next)", events)
    node = run.nodes["Fetch"]
    assert (node.state, node.attempts) == (state, 1)
    if state == "succeeded":
        assert node.value == value
    taken = {name for name, result in run.nodes.items() if result.state == "succeeded"}
    assert arm in taken
    assert ({"Alert", "Next"} - {arm}).isdisjoint(taken)


def test_plain_functions_keep_returning_their_value():
    run = run_flow("A |-> B", {"A": lambda: "text", "B": lambda previous_result: None})
    assert run.status == "succeeded"
    assert (run.nodes["A"].value, run.nodes["B"].value) == ("text", None)


# ---- 5. Which event a name means ----------------------------------------------------------

MODULE = """\
from pointy_engine import EventBase, Pipeline, event

class PortFetch(EventBase):
    def process(self):
        return True, {origin!r}
"""

PIPELINE = """\
class Nightly(Pipeline):
    class Meta:
        pointy = "PortFetch"
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Writes and imports modules from a temporary folder; forgets them and their events."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def make(name: str, text: str) -> Any:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        written.append(name)
        return importlib.import_module(name)

    yield make
    for name in written:
        sys.modules.pop(name, None)
    default_registry.unregister("PortFetch")


def test_each_module_s_pipeline_runs_its_own_event(modules):
    first = modules("port_first", MODULE.format(origin="first") + PIPELINE)
    second = modules("port_second", MODULE.format(origin="second") + PIPELINE)
    assert first.Nightly().start().nodes["PortFetch"].value == "first"
    assert second.Nightly().start().nodes["PortFetch"].value == "second"


def test_an_event_imported_into_the_pipeline_s_module_is_the_one_meant(modules):
    modules("port_first", MODULE.format(origin="first"))
    modules("port_second", MODULE.format(origin="second"))
    chooser = modules(
        "port_chooser",
        "from pointy_engine import Pipeline\nfrom port_first import PortFetch\n" + PIPELINE,
    )
    assert chooser.Nightly().start().nodes["PortFetch"].value == "first"


def test_a_name_defined_in_two_other_modules_is_an_error_before_anything_runs(modules):
    modules("port_first", MODULE.format(origin="first"))
    modules("port_second", MODULE.format(origin="second"))
    plain = modules("port_plain", "from pointy_engine import Pipeline\n" + PIPELINE)
    with pytest.raises(AmbiguousEventError) as caught:
        plain.Nightly().start()
    assert str(caught.value) == (
        "pipeline Nightly: event 'PortFetch' is defined in modules 'port_first' and "
        "'port_second', and Nightly's module 'port_plain' defines none; pass "
        "events={'PortFetch': ...} to start(), or import the one you mean into 'port_plain'"
    )
    assert caught.value.modules == ("port_first", "port_second")
    chosen = plain.Nightly().start(events={"PortFetch": sys.modules["port_second"].PortFetch})
    assert chosen.nodes["PortFetch"].value == "second"


def test_one_module_defining_the_name_is_found_from_any_module(modules):
    modules("port_first", MODULE.format(origin="first"))
    plain = modules("port_plain", "from pointy_engine import Pipeline\n" + PIPELINE)
    assert plain.Nightly().start().nodes["PortFetch"].value == "first"


def test_in_a_notebook_the_latest_definition_wins(modules):
    modules("port_first", MODULE.format(origin="first"))
    modules("port_second", MODULE.format(origin="second"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec("from pointy_engine import Pipeline\n" + PIPELINE, namespace)
    run = namespace["Nightly"]().start()
    assert run.nodes["PortFetch"].value == "second"


# ---- 6. Errors that say what and where ----------------------------------------------------


def _flow_error(**body: Any) -> str:
    pipeline = type("Flowless", (Pipeline,), body)
    with pytest.raises(PointyError) as caught:
        pipeline().start()
    return str(caught.value)


@pytest.mark.parametrize("flow", ["", "   "])
def test_an_empty_meta_pointy_says_the_flow_is_empty(flow):
    meta = type("Meta", (), {"pointy": flow})
    assert _flow_error(Meta=meta) == (
        "the flow of pipeline Flowless (Flowless.Meta.pointy) is empty; expected an event name "
        f"at line 1, column 1\n  {flow}\n  ^"
    )


def test_a_comment_only_meta_dict_flow_says_it_is_empty_where_parse_does():
    assert _flow_error(meta={"pointy": "\n# nothing yet\n"}) == (
        "the flow of pipeline Flowless (Flowless.meta.pointy) is empty; expected an event name "
        "at line 2, column 14\n  # nothing yet\n               ^"
    )


def test_a_syntax_error_in_a_flow_file_is_in_compiler_form(tmp_path):
    path = tmp_path / "nightly.pty"
    path.write_text("Fetch ->\n  Save ->> Done\n")
    meta = type("Meta", (), {"file": str(path)})
    with pytest.raises(PipelineFlowError) as caught:
        type("Flowless", (Pipeline,), {"Meta": meta})().start()
    assert str(caught.value) == (
        f"{path}:2:10: unexpected character '>'\n"
        "    Save ->> Done\n"
        "           ^\n"
        "(the flow of pipeline Flowless)"
    )
    assert (caught.value.line, caught.value.column, caught.value.pipeline) == (2, 10, "Flowless")


def test_an_empty_flow_file_names_the_file(tmp_path):
    path = tmp_path / "empty.pty"
    path.write_text("")
    meta = type("Meta", (), {"file": str(path)})
    assert _flow_error(Meta=meta) == (
        f"{path}:1:1: the flow of pipeline Flowless ({path}) is empty; expected an event name\n"
        "  \n  ^\n(the flow of pipeline Flowless)"
    )


def test_an_unknown_event_names_the_pipeline_class():
    meta = type("Meta", (), {"pointy": "PortSave -> PortSaev"})
    with pytest.raises(UnknownEventError) as caught:
        type("Flowless", (Pipeline,), {"Meta": meta})().start(events={"PortSave": lambda: 1})
    assert str(caught.value) == (
        "1 problem in pipeline Flowless:\n"
        "unknown event 'PortSaev' (did you mean 'PortSave'?) at line 1, column 13\n"
        "  PortSave -> PortSaev\n"
        "              ^^^^^^^^"
    )


def test_event_on_a_lambda_without_a_name_asks_for_one():
    with pytest.raises(PointyError) as caught:
        event(lambda: (True, 1))
    assert str(caught.value) == (
        "@event on a lambda needs a name: event(lambda ..., name='Fetch') or "
        "event(name='Fetch')(...)"
    )
    named = event(lambda: (True, 1), name="PortLambda")
    try:
        assert run_flow("PortLambda", {"PortLambda": named}).nodes["PortLambda"].value == 1
    finally:
        default_registry.unregister("PortLambda")


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("proces", " (did you mean 'process'?)"),
        ("Thread", " (did you mean 'thread'?)"),
        ("gpu", ""),
    ],
)
def test_an_unknown_executor_name_gets_a_did_you_mean(given, hint):
    Slow = event(lambda: (True, 1), name="PortSlow", executor=given)
    try:
        with pytest.raises(PointyError) as caught:
            run_flow("PortSlow", {"PortSlow": Slow})
    finally:
        default_registry.unregister("PortSlow")
    assert str(caught.value) == (
        f"event 'PortSlow': unknown executor {given!r}{hint}; known: dask, inline, process, thread"
    )


def test_missing_argument_error_is_importable_from_the_package():
    assert pointy_engine.MissingArgumentError is MissingArgumentError
    assert "MissingArgumentError" in pointy_engine.__all__
    with pytest.raises(MissingArgumentError) as caught:
        run_flow("Load", {"Load": lambda path: path})
    assert caught.value.missing == {"Load": ("path",)}


# ---- Unknown names at scale (issue 9/13: a 10,000-name error was killed for its memory) --------


def _returns_one():
    return 1


def test_an_unknown_event_error_for_10_000_names_is_cheap_and_bounded():
    source = " -> ".join(f"Step{i}" for i in range(10_000))
    known = dict.fromkeys((f"Stop{i}" for i in range(10_000)), _returns_one)
    graph = build_graph(source)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(UnknownEventError) as caught:
        Plan(graph, known)
    text = str(caught.value)
    took = time.perf_counter() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    error = caught.value
    assert len(error.problems) == len(error.names) == 10_000
    assert len(error.located()) == 10_000
    # Suggestions for the first 20 distinct names only; every problem is still there.
    assert error.problems[0].message == (
        "unknown event 'Step0' (did you mean 'Stop0' or 'Stop90' or 'Stop80'?)"
    )
    assert error.problems[19].message.startswith("unknown event 'Step19' (did you mean 'Stop19'")
    assert error.problems[20].message == "unknown event 'Step20'"
    lines = text.splitlines()
    assert lines[0] == "10000 problems in the pipeline:"
    assert lines[-1] == "... and 9980 more (all of them: error.located())"
    assert len(lines) == 1 + 20 * 3 + 1
    assert max(len(line) for line in lines) <= 140  # a window of the one-line chain
    assert lines[2] == "  " + source[:65] + "..."
    assert lines[3] == "  ^^^^^"
    assert took < 10, took  # was quadratic: minutes at 2,000 names, and 1.7 GB of text
    assert grown_mib < 100, grown_mib


def test_a_long_line_s_excerpt_keeps_the_caret_under_the_problem():
    source = " -> ".join(f"Step{i}" for i in range(200)) + " -> Typo"
    with pytest.raises(UnknownEventError) as caught:
        Plan(build_graph(source), dict.fromkeys((f"Step{i}" for i in range(200)), _returns_one))
    excerpt, caret = str(caught.value).splitlines()[2:4]
    assert excerpt.startswith("  ...")
    assert excerpt.endswith("Step199 -> Typo")
    assert caret.index("^") == excerpt.index("Typo")
    assert caret.endswith("^^^^")
