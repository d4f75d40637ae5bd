"""Pipelines: input fields, where the flow comes from, name resolution, redefined events."""

from __future__ import annotations

import importlib
import shutil
import textwrap
from pathlib import Path

import pytest
from engine_support import Log, recorder, run_flow

from pointy_engine import (
    EventBase,
    FileInputDataField,
    InputDataField,
    Pipeline,
    PointyError,
    UnknownEventError,
    event,
)
from pointy_engine.plan import MissingArgumentError
from pointy_engine.registry import default_registry

# ----- input fields ---------------------------------------------------------------------------


class Orders(Pipeline):
    customer = InputDataField(data_type=str, required=True)
    count = InputDataField(data_type=int, default=3)
    tags = InputDataField(data_type=(list, tuple), batch_size=2)

    class Meta:
        pointy = "Load |-> Total"


def _load(customer, count, tags):
    return {"customer": customer, "count": count, "tags": tags}


def _total(previous_result, count):
    return previous_result["count"] * count


ORDER_EVENTS = {"Load": _load, "Total": _total}


def test_fields_reach_events_by_parameter_name():
    run = Orders(customer="ada", tags=["x"]).start(events=ORDER_EVENTS)
    assert run.status == "succeeded"
    assert run.values["Load"] == {"customer": "ada", "count": 3, "tags": ["x"]}
    assert run.values["Total"] == 9


def test_field_values_are_attributes_of_the_pipeline():
    orders = Orders(customer="ada", count=5)
    assert (orders.customer, orders.count, orders.tags) == ("ada", 5, None)
    assert orders.inputs == {"customer": "ada", "count": 5, "tags": None}
    assert Orders.customer.required
    assert Orders.tags.batch_size == 2
    assert Orders.tags.data_type == (list, tuple)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "Orders: input field 'customer' is required"),
        ({"customer": None}, "Orders: input field 'customer' is required"),
        ({"customer": 7}, "Orders: input field 'customer' expects str, got int 7"),
        (
            {"customer": "ada", "tags": "a,b"},
            "Orders: input field 'tags' expects list or tuple, got str 'a,b'",
        ),
        (
            {"customer": "ada", "cuont": 1},
            "Orders: unknown input 'cuont' (fields: customer, count, tags)",
        ),
        (
            {"count": "many"},
            "Orders: input field 'customer' is required; "
            "input field 'count' expects int, got str 'many'",
        ),
    ],
)
def test_input_validation_names_the_field(inputs, message):
    with pytest.raises(PointyError) as caught:
        Orders(**inputs)
    assert str(caught.value) == message


def test_fields_are_inherited_and_may_be_overridden():
    class Base(Pipeline):
        first = InputDataField(data_type=int, default=1)
        second = InputDataField(data_type=int, default=2)

    class Child(Base):
        second = InputDataField(data_type=str, default="two")
        third = InputDataField(required=True)

        class Meta:
            pointy = "Show"

    assert list(Child._fields) == ["first", "second", "third"]
    assert list(Base._fields) == ["first", "second"]
    run = Child(third=[3]).start(
        events={"Show": lambda first, second, third: (first, second, third)}
    )
    assert run.value == (1, "two", [3])


def test_field_construction_errors():
    with pytest.raises(PointyError, match=r"^batch_size must be a whole number >= 1, not 0$"):
        InputDataField(batch_size=0)
    with pytest.raises(PointyError, match=r"^chunk_size must be a whole number >= 1, not -5$"):
        FileInputDataField(chunk_size=-5)


def test_file_fields_check_the_file_and_give_a_path(tmp_path):
    text = tmp_path / "book.txt"
    text.write_text("call me ishmael", encoding="utf-8")

    class Reader(Pipeline):
        book = FileInputDataField(required=True, chunk_size=1024)
        notes = FileInputDataField(default=str(text))

        class Meta:
            pointy = "Read"

    def Read(book, notes):
        return book.read_text(encoding="utf-8"), notes

    run = Reader(book=str(text)).start(events={"Read": Read})
    assert run.value == ("call me ishmael", text)
    assert Reader.book.chunk_size == 1024
    missing = tmp_path / "missing.txt"
    with pytest.raises(PointyError) as caught:
        Reader(book=missing)
    assert str(caught.value) == f"Reader: input field 'book': no file at {str(missing)!r}"
    with pytest.raises(PointyError) as caught:
        Reader()
    assert str(caught.value) == "Reader: input field 'book' is required"


# ----- where the flow comes from -------------------------------------------------------------


def _two_steps(log):
    return {"First": recorder(log, "First"), "Second": recorder(log, "Second")}


def test_flow_from_meta_pointy_and_a_meta_dict():
    class WithMeta(Pipeline):
        class Meta:
            pointy = "First -> Second"

    class WithDict(Pipeline):
        meta = {"pointy": "Second -> First"}

    log = Log()
    WithMeta().start(events=_two_steps(log))
    WithDict().start(events=_two_steps(log))
    assert log == ["First", "Second", "Second", "First"]


def test_flow_from_a_file_named_in_meta_or_the_meta_dict(tmp_path):
    flow = tmp_path / "custom.pty"
    flow.write_text("# a comment\nSecond ->\n  First\n", encoding="utf-8")

    class FromMetaFile(Pipeline):
        class Meta:
            file = str(flow)

    class FromDictFile(Pipeline):
        meta = {"file": flow}

    log = Log()
    FromMetaFile().start(events=_two_steps(log))
    FromDictFile().start(events=_two_steps(log))
    assert log == ["Second", "First", "Second", "First"]


def test_flow_from_a_pty_file_beside_the_module(tmp_path, monkeypatch):
    package = tmp_path / "beside_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "flows.py").write_text(
        textwrap.dedent(
            """
            from pointy_engine import Pipeline

            class Beside(Pipeline):
                pass
            """
        ),
        encoding="utf-8",
    )
    (package / "Beside.pty").write_text("Second -> First", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("beside_pkg.flows")
    log = Log()
    module.Beside().start(events=_two_steps(log))
    assert log == ["Second", "First"]


def test_a_pipeline_without_a_flow(tmp_path):
    class Nowhere(Pipeline):
        pass

    with pytest.raises(PointyError) as caught:
        Nowhere().start(events={})
    assert str(caught.value) == (
        "Nowhere has no flow: give Meta.pointy, Meta.file, a meta dict, "
        "or a Nowhere.pty file beside its module"
    )

    class MissingFile(Pipeline):
        class Meta:
            file = str(tmp_path / "gone.pty")

    with pytest.raises(PointyError) as caught:
        MissingFile().start(events={})
    assert str(caught.value) == (
        f"MissingFile (MissingFile.Meta.file): the Pointy file {str(tmp_path / 'gone.pty')!r} "
        "does not exist"
    )


def test_each_pipeline_class_keeps_its_own_flow():
    class One(Pipeline):
        meta = {"pointy": "First"}

    class Two(One):
        meta = {"pointy": "Second"}

    log = Log()
    One().start(events=_two_steps(log))
    Two().start(events=_two_steps(log))
    One().start(events=_two_steps(log))
    assert log == ["First", "Second", "First"]


# ----- name resolution ------------------------------------------------------------------------


def test_unknown_names_are_reported_together_before_anything_runs():
    log = Log()
    events = {
        "Fetch": recorder(log, "Fetch"),
        "Clean": recorder(log, "Clean"),
        "Save": recorder(log, "Save"),
        "Report": recorder(log, "Report"),
        "fetcher": 3,
    }
    with pytest.raises(UnknownEventError) as caught:
        run_flow("Fetch -> Clean -> Sv -> Reprot -> fetch", events)
    assert log == []
    assert caught.value.names == ("Sv", "Reprot", "fetch")
    assert str(caught.value) == textwrap.dedent(
        """\
        3 problems in the pipeline:
        unknown event 'Sv' (did you mean 'Save'?) at line 1, column 19
          Fetch -> Clean -> Sv -> Reprot -> fetch
                            ^^
        unknown event 'Reprot' (did you mean 'Report'?) at line 1, column 25
          Fetch -> Clean -> Sv -> Reprot -> fetch
                                  ^^^^^^
        unknown event 'fetch' (did you mean 'Fetch'?) at line 1, column 35
          Fetch -> Clean -> Sv -> Reprot -> fetch
                                            ^^^^^"""
    )


def test_a_name_bound_to_something_that_is_not_an_event():
    log = Log()
    with pytest.raises(UnknownEventError) as caught:
        run_flow("A -> B -> C", {"A": 42, "B": None, "C": recorder(log, "C")})
    assert log == []
    assert [message for message, _, _ in caught.value.located()] == [
        "'A' is a value of type int, not an event (a function or EventBase class)",
        "'B' is a value of type NoneType, not an event (a function or EventBase class)",
    ]


def test_a_parameter_nothing_provides_is_reported_before_the_run():
    log = Log()

    def Load(path, limit=10):
        log.add("Load")

    def Join(left, right, previous_result):
        log.add("Join")

    with pytest.raises(MissingArgumentError) as caught:
        run_flow("Load -> Join -> Load", {"Load": Load, "Join": Join}, {"count": 1})
    assert log == []
    assert str(caught.value) == (
        "event 'Load' needs 'path'; event 'Join' needs 'left' and 'right', which no input field "
        "or previous result provides (input fields: count)"
    )
    assert caught.value.missing == {"Load": ("path",), "Join": ("left", "right")}
    assert caught.value.spans == {"Load": (0, 4), "Join": (8, 12)}
    assert isinstance(caught.value, PointyError)


def test_a_class_event_parameter_nothing_provides():
    class Scale(EventBase, register=False):
        def process(self, factor):
            return True, factor

    class Scaled(Pipeline):
        meta = {"pointy": "Scale"}

    with pytest.raises(MissingArgumentError) as caught:
        Scaled().start(events={"Scale": Scale})
    assert str(caught.value) == (
        "event 'Scale' needs 'factor', which no input field or previous result provides "
        "(input fields: none)"
    )


def test_an_event_taking_keywords_gets_every_field_and_the_previous_result():
    class Everything(Pipeline):
        a = InputDataField(default=1)
        b = InputDataField(default=2)
        meta = {"pointy": "First |-> Rest"}

    run = Everything().start(events={"First": lambda: "p", "Rest": lambda **kwargs: kwargs})
    assert run.values["Rest"] == {"a": 1, "b": 2, "previous_result": "p"}


# ----- redefining events ----------------------------------------------------------------------


def test_the_default_registry_uses_the_latest_definition():
    class Redefined(Pipeline):
        meta = {"pointy": "RedefinedEvent -> redefined_function"}

    try:

        class RedefinedEvent(EventBase):
            def process(self):
                return True, "first class"

        @event
        def redefined_function():
            return True, "first function"

        assert Redefined().start().values == {
            "RedefinedEvent": "first class",
            "redefined_function": "first function",
        }

        class RedefinedEvent(EventBase):  # noqa: F811 - a notebook cell run again
            def process(self):
                return True, "second class"

        @event
        def redefined_function():  # noqa: F811
            return True, "second function"

        assert Redefined().start().values == {
            "RedefinedEvent": "second class",
            "redefined_function": "second function",
        }
    finally:
        default_registry.unregister("RedefinedEvent")
        default_registry.unregister("redefined_function")


def test_an_events_mapping_is_read_at_each_start():
    class Mapped(Pipeline):
        meta = {"pointy": "Step"}

    namespace = {"Step": lambda: 1}
    assert Mapped().start(events=namespace).value == 1
    namespace["Step"] = lambda: 2
    assert Mapped().start(events=namespace).value == 2


def test_an_unregistered_class_is_not_found_by_name():
    class Hidden(EventBase, register=False):
        def process(self):
            return True, 1

    class UsesHidden(Pipeline):
        meta = {"pointy": "Hidden"}

    assert (
        "Hidden" not in default_registry.snapshot()
        or default_registry.snapshot()["Hidden"] is not Hidden
    )
    with pytest.raises(UnknownEventError):
        UsesHidden().start(events={})


def test_pipeline_repr_and_plan():
    orders = Orders(customer="ada")
    assert repr(orders) == "<Orders {'customer': 'ada', 'count': 3, 'tags': None}>"
    plan = orders.plan(events=ORDER_EVENTS)
    assert [task.kwargs for task in plan.tasks.values()] == [
        {"customer": "ada", "count": 3, "tags": None},
        {"count": 3},
    ]
    assert Orders.graph().source == "Load |-> Total"


def test_a_plan_describes_what_would_run_where():
    from pointy_engine.graph import build_graph
    from pointy_engine.plan import Plan, describe

    class Fetch(EventBase, register=False):
        retry_policy = {"max_attempts": 4}

        def process(self):
            return True, 1

    @event(executor="process", max_workers=2)
    def score(previous_result):
        return True, previous_result

    def save(previous_result):
        return previous_result

    LOCALS = "test_engine_pipeline.test_a_plan_describes_what_would_run_where.<locals>."
    plan = Plan(
        build_graph("Fetch |-> score || save * 3"), {"Fetch": Fetch, "score": score, "save": save}
    )
    assert describe(plan) == [
        {
            "node": "Fetch",
            "event": LOCALS + "Fetch",
            "kind": "EventBase class",
            "executor": "inline",
            "max attempts": 4,
        },
        {
            "node": "score",
            "event": LOCALS + "score",
            "kind": "@event function",
            "executor": "process, 2 workers",
            "max attempts": 1,
        },
        {
            "node": "save",
            "event": LOCALS + "save",
            "kind": "function",
            "executor": "thread (parallel group)",
            "max attempts": 3,
        },
    ]


def test_a_pipeline_draws_its_flow_as_text_and_as_an_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Drawn(Pipeline):
        meta = {"pointy": "A |-> B (0 -> C) -> D * 2"}

    Drawn().draw_ascii_graph()
    assert capsys.readouterr().out == "A\n|-> B\n    `-[0]-> C\n-> D * 2  (sink)\n"
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    image = Drawn().draw_graphviz_image(directory=tmp_path, format="svg")
    assert image == tmp_path / "Drawn.svg"
    assert "<svg" in image.read_text()
