"""One test per section of the seed README (event_pipeline's), through its module paths.

Porting is an import change: each test imports from the paths the README's section imports from,
with `event_pipeline` spelled `pointy_engine`, and exercises the pattern the section documents
(our own code; the README's examples are not copied). Where Pointy differs on purpose, the test
says so and `docs/porting.md` gives the one-line change.
"""

from __future__ import annotations

import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from engine_support import WAIT

from pointy_engine.registry import default_registry


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Event names a test defines by hand; unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        default_registry.unregister(name)


# ---- Pipeline: Defining Pipeline, Defining Input Data Field, Executing Pipeline ------------


def test_defining_a_pipeline_with_input_fields_and_executing_it(forget):
    from pointy_engine import EventBase, Pipeline
    from pointy_engine.fields import InputDataField

    forget.append("Greet")

    class Greet(EventBase):
        def process(self, who):
            return True, f"hello {who}"

    class Hello(Pipeline):
        who = InputDataField(data_type=str, required=True)

        class Meta:
            pointy = "Greet"

    run = Hello(who="ada").start()
    assert run.status == "succeeded"
    assert run.nodes["Greet"].value == "hello ada"
    with pytest.raises(Exception, match="who"):  # a required field, not given
        Hello()


# ---- Defining Pipeline Structure: ClassName.pty beside the module, Meta, meta dict ----------


def test_the_flow_comes_from_a_pty_file_named_after_the_class_meta_or_a_meta_dict(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "Orders.pty").write_text("Take -> Pack\n")
    (tmp_path / "custom_flow.pty").write_text("Pack -> Take\n")
    (tmp_path / "readme_orders.py").write_text(
        textwrap.dedent(
            f"""\
            from pointy_engine import EventBase, Pipeline

            class Take(EventBase):
                def process(self):
                    return True, "taken"

            class Pack(EventBase):
                def process(self):
                    return True, "packed"

            class Orders(Pipeline):
                pass

            class FromMeta(Pipeline):
                class Meta:
                    pointy = "Take || Pack"

            class FromFile(Pipeline):
                class Meta:
                    file = {str(tmp_path / "custom_flow.pty")!r}

            class FromDict(Pipeline):
                meta = {{"pointy": "Pack"}}
            """
        )
    )
    import readme_orders as orders

    try:
        trails = {
            name: [n.event for n in getattr(orders, name)().start().nodes.values()]
            for name in ("Orders", "FromMeta", "FromFile", "FromDict")
        }
    finally:
        default_registry.unregister("Take")
        default_registry.unregister("Pack")
    assert trails == {
        "Orders": ["Take", "Pack"],
        "FromMeta": ["Take", "Pack"],
        "FromFile": ["Pack", "Take"],
        "FromDict": ["Pack"],
    }


# ---- Pointy Language + Syntax Guide: operators, descriptors, the complex example ------------


def test_the_language_operators_and_descriptors(forget):
    from pointy_engine import EventBase, Pipeline

    seen: list[str] = []
    lock = threading.Lock()

    def make(name: str, ok: bool = True, goto: int | None = None) -> type:
        def process(self, *args, **kwargs):
            with lock:
                seen.append(name)
            if goto is not None:
                self.goto(goto)
            return ok, (name, self.previous_result)

        forget.append(name)
        return type(name, (EventBase,), {"process": process})

    for name in ("A", "B", "D", "E", "F", "Y", "Z"):
        make(name)
    make("C", ok=False)
    make("Custom", goto=3)

    def run(flow: str) -> Any:
        seen.clear()
        return type("Flow", (Pipeline,), {"meta": {"pointy": flow}})().start()

    run("A -> B")
    assert seen == ["A", "B"]
    assert run("A || B |-> D").nodes["D"].value == ("D", (("A", None), ("B", None)))
    assert run("A |-> B").nodes["B"].value == ("B", ("A", None))
    run("A -> C (0 -> D, 1 -> E)")  # C fails: the failure arm
    assert seen == ["A", "C", "D"]
    run("A (0 -> B, 1 -> E) -> F")  # the sink runs after the arm taken
    assert seen == ["A", "E", "F"]
    run("Custom (0 -> D, 1 -> E, 3 -> Z)")  # descriptor 3, chosen by the event
    assert seen == ["Custom", "Z"]
    retried = run("C * 3")
    assert retried.nodes["C"].attempts == 1  # a returned failure is not an exception: no retry
    # The README's bigger example: branches inside branches and a sink with its own arms.
    run("A -> B (0 -> C (0 |-> Y, 1 -> Z), 1 -> E) -> F (0 -> Y, 1 -> Z)")
    assert seen == ["A", "B", "E", "F", "Z"]


def test_retry_factor_counts_attempts_for_exceptions(forget):
    from pointy_engine import EventBase, Pipeline

    calls = []
    forget.append("Flaky")

    class Flaky(EventBase):
        def process(self):
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionError("try again")
            return True, len(calls)

    class Retrying(Pipeline):
        class Meta:
            pointy = "3 * Flaky"

    run = Retrying().start()
    assert (run.status, run.nodes["Flaky"].attempts, run.nodes["Flaky"].value) == (
        "succeeded",
        3,
        3,
    )


# ---- Drawing: draw_ascii_graph, draw_graphviz_image(directory=...) --------------------------


def test_drawing_a_pipeline(tmp_path, capsys):
    from pointy_engine import Pipeline

    class Drawn(Pipeline):
        class Meta:
            pointy = "A -> B (0 -> C, 1 -> D)"

    pipeline = Drawn()
    pipeline.draw_ascii_graph()
    printed = capsys.readouterr().out
    for name in ("A", "B", "C", "D"):
        assert name in printed
    image = pipeline.draw_graphviz_image(directory=tmp_path)
    assert image.parent == tmp_path
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- Pipeline Batch Processing: template, BatchPipeline, listen_to_signals, execute() --------


def test_batch_processing_with_a_template_and_signals(tmp_path, forget):
    from pointy_engine import EventBase, Pipeline
    from pointy_engine.fields import FileInputDataField, InputDataField
    from pointy_engine.pipeline import BatchPipeline
    from pointy_engine.signal import SoftSignal

    forget.append("Count")

    class Count(EventBase):
        def process(self, name, book):
            return True, (len(name), book.count("\n"))

    class Simple(Pipeline):
        name = InputDataField(data_type=list, batch_size=5)
        book = FileInputDataField(required=True, chunk_size=4)

        class Meta:
            pointy = "Count"

    done = SoftSignal("task_completed")

    class SimpleBatch(BatchPipeline):
        pipeline_template = Simple
        listen_to_signals = [done]

    book = tmp_path / "book.txt"
    book.write_text("".join(f"line {i}\n" for i in range(12)))
    batch_run = SimpleBatch(name=list(range(12)), book=str(book)).execute()
    assert batch_run.status == "succeeded"
    assert batch_run.results == [(5, 4), (5, 4), (2, 4)]  # input order


def test_the_full_batch_example_shape_imports_its_names_from_pipeline(forget):
    from pointy_engine import EventBase, Pipeline
    from pointy_engine.pipeline import BatchPipeline, InputDataField, SoftSignal

    forget.append("Total")

    class Total(EventBase):
        def process(self, name):
            return True, sum(name)

    class Simple(Pipeline):
        name = InputDataField(data_type=list, batch_size=5)

        class Meta:  # a flow is required here (the README's example has none)
            pointy = "Total"

    class SimpleBatch(BatchPipeline):
        pipeline_template = Simple
        listen_to_signals: list[SoftSignal] = []

    batch_run = SimpleBatch(name=list(range(11))).execute(executor="thread")
    assert batch_run.results == [10, 35, 10]


# ---- Defining Events: the event class, its executor, its executor configuration ---------------


def test_an_event_class_on_an_executor_class_with_its_configuration(forget):
    from pointy_engine import EventBase, ExecutorInitializerConfig, Pipeline

    forget.extend(["Configured", "AsDict", "Plain"])

    class Configured(EventBase):
        executor = ThreadPoolExecutor
        executor_config = ExecutorInitializerConfig(
            max_workers=2, max_tasks_per_child=50, thread_name_prefix="readme_cfg"
        )

        def process(self):
            return True, threading.current_thread().name

    class AsDict(EventBase):
        executor = ThreadPoolExecutor
        executor_config = {"max_workers": 2, "thread_name_prefix": "readme_dict"}

        def process(self):
            return True, threading.current_thread().name

    class Plain(EventBase):
        executor_config = ExecutorInitializerConfig()  # the defaults

        def process(self):
            return True, threading.current_thread().name

    class Configs(Pipeline):
        class Meta:
            pointy = "Configured -> AsDict -> Plain"

    nodes = Configs().start().nodes
    assert nodes["Configured"].value.startswith("readme_cfg")
    assert nodes["AsDict"].value.startswith("readme_dict")
    assert nodes["Plain"].state == "succeeded"
    assert ExecutorInitializerConfig() == ExecutorInitializerConfig(None, None, None)


# ---- Function-Based Events: @event from decorators ---------------------------------------------


def test_function_based_events_from_the_decorators_module(forget):
    from pointy_engine import Pipeline
    from pointy_engine.decorators import event

    forget.extend(["load_rows", "count_rows"])

    @event()
    def load_rows(*args, **kwargs):
        return True, [1, 2, 3]

    @event(
        executor=ThreadPoolExecutor,
        max_workers=2,
        max_tasks_per_child=10,  # a process-pool setting; a thread pool ignores it
        thread_name_prefix="readme_fn",
        stop_on_exception=True,
    )
    def count_rows(previous_result=None):
        return True, (len(previous_result), threading.current_thread().name)

    class Rows(Pipeline):
        class Meta:
            pointy = "load_rows |-> count_rows"

    count, thread = Rows().start().nodes["count_rows"].value
    assert count == 3
    assert thread.startswith("readme_fn")


# ---- Event Result Evaluation: EventExecutionEvaluationState -------------------------------------


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("SUCCESS_ON_ALL_EVENTS_SUCCESS", "Failed"),
        ("FAILURE_FOR_PARTIAL_ERROR", "Failed"),
        ("SUCCESS_FOR_PARTIAL_SUCCESS", "Passed"),
        ("FAILURE_FOR_ALL_EVENTS_FAILURE", "Passed"),
    ],
)
def test_the_evaluation_state_decides_a_group_with_one_failure(state, outcome, forget):
    from pointy_engine import EventBase, EventExecutionEvaluationState, Pipeline

    chosen = getattr(EventExecutionEvaluationState, state)
    forget.extend(["Good", "Bad", "Passed", "Failed"])

    class Good(EventBase):
        execution_evaluation_state = chosen

        def process(self):
            return True, "obrafour"

    class Bad(EventBase):
        execution_evaluation_state = chosen

        def process(self):
            return False, "no"

    class Passed(EventBase):
        def process(self):
            return True, None

    class Failed(EventBase):
        def process(self):
            return True, None

    class Evaluated(Pipeline):
        class Meta:
            pointy = "(Good || Bad) (0 -> Failed, 1 -> Passed)"

    nodes = Evaluated().start().nodes
    assert nodes[outcome].state == "succeeded"
    other = {"Failed": "Passed", "Passed": "Failed"}[outcome]
    assert nodes[other].state == "skipped"


# ---- Specifying a Retry Policy: RetryPolicy from base, as a value or a dict ---------------------


@pytest.mark.parametrize("as_dict", [False, True], ids=["RetryPolicy", "dict"])
def test_a_retry_policy_from_the_base_module(as_dict, forget):
    from pointy_engine import EventBase, FakeClock, Pipeline
    from pointy_engine.base import RetryPolicy

    settings = {
        "max_attempts": 5,
        "backoff_factor": 0.1,
        "max_backoff": 5.0,
        "retry_on_exceptions": [ConnectionError, TimeoutError],
    }
    policy = settings if as_dict else RetryPolicy(**settings)
    calls = []
    forget.extend(["Upload", "Parse"])

    class Upload(EventBase):
        retry_policy = policy

        def process(self):
            calls.append("Upload")
            if calls.count("Upload") < 4:
                raise TimeoutError("slow link")
            return True, "sent"

    class Parse(EventBase):
        retry_policy = policy

        def process(self):
            raise ValueError("not retried: not listed")

    class Retried(Pipeline):
        class Meta:
            pointy = "Upload -> Parse"

    clock = FakeClock()
    nodes = Retried().start(clock=clock).nodes
    assert (nodes["Upload"].state, nodes["Upload"].attempts) == ("succeeded", 4)
    assert (nodes["Parse"].state, nodes["Parse"].attempts) == ("failed", 1)
    # backoff_factor * 2 ** (n - 2) before attempt n, capped at max_backoff
    assert clock.waits == pytest.approx([0.1, 0.2, 0.4])


# ---- Signals: connect a listener, or @listener from decorators -----------------------------------


def test_connecting_listeners_to_the_default_signals(forget):
    from pointy_engine import EventBase, Pipeline
    from pointy_engine.decorators import listener
    from pointy_engine.signal.signals import pipeline_execution_start, pipeline_pre_init

    heard: list[tuple[str, Any]] = []
    forget.append("Quiet")

    class Quiet(EventBase):
        def process(self):
            return True, None

    class Signalled(Pipeline):
        class Meta:
            pointy = "Quiet"

    def on_start(pipeline):
        heard.append(("start", type(pipeline).__name__))

    @listener(pipeline_pre_init, sender=Signalled)
    def on_pre_init(sender, signal, *args, **kwargs):
        heard.append(("pre_init", (sender.__name__, signal.name, sorted(kwargs))))

    pipeline_execution_start.connect(on_start, sender=Signalled)
    try:
        Signalled().start()
    finally:
        pipeline_execution_start.disconnect(on_start)
        pipeline_pre_init.disconnect(on_pre_init)
    assert heard == [
        ("pre_init", ("Signalled", "pipeline_pre_init", ["args", "cls", "kwargs"])),
        ("start", "Signalled"),
    ]


# ---- Telemetry: monitor_events, get_metrics and the specific views -----------------------------


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh process store behind the seed's functions; stopped afterwards."""
    from pointy_engine.telemetry import api
    from pointy_engine.telemetry.store import TelemetryStore

    store = TelemetryStore(1_000)
    monkeypatch.setattr(api, "store", store)
    yield store
    store.stop()


def test_telemetry_usage(telemetry, forget):
    import json

    from pointy_engine import EventBase, FakeClock, Pipeline, RetryPolicy
    from pointy_engine.telemetry import (
        get_failed_events,
        get_metrics,
        get_retry_stats,
        get_slow_events,
        monitor_events,
    )

    forget.extend(["Ping", "Fails"])
    calls = []

    class Ping(EventBase):
        retry_policy = RetryPolicy(max_attempts=3, backoff_factor=0)

        def process(self):
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("first try")
            return True, "pong"

    class Fails(EventBase):
        def process(self):
            raise ValueError("broken")

    class Watched(Pipeline):
        class Meta:
            pointy = "Ping -> Fails"

    monitor_events()
    Watched().start(clock=FakeClock())
    metrics_json = json.loads(get_metrics())
    assert [(m["event_name"], m["status"]) for m in metrics_json["events"]] == [
        ("Ping", "retrying"),
        ("Ping", "succeeded"),
        ("Fails", "failed"),
    ]
    assert [m.event_name for m in get_failed_events()] == ["Fails"]
    assert get_slow_events(threshold_seconds=2.0) == []
    stats = get_retry_stats()
    assert (stats["total_retries"], stats["by_event"]) == (1, {"Ping": 1})


@pytest.mark.slow
def test_network_telemetry_for_remote_execution(telemetry, dask_client, forget):
    from pointy_engine import Pipeline, event
    from pointy_engine.telemetry import (
        get_failed_network_ops,
        get_slow_network_ops,
        monitor_events,
    )

    forget.append("Remote")

    @event(executor="dask")  # the local cluster on 127.0.0.1 (the dask_client fixture's)
    def Remote():
        return True, 21 * 2

    class OnCluster(Pipeline):
        class Meta:
            pointy = "Remote"

    monitor_events()
    assert OnCluster().start().nodes["Remote"].value == 42
    assert get_failed_network_ops() == []
    ops = get_slow_network_ops(threshold_seconds=0.0)
    assert [(op.event_name, op.host, op.error) for op in ops] == [("Remote", "127.0.0.1", None)]
    assert ops[0].bytes_sent > 0
    assert get_slow_network_ops(threshold_seconds=3600.0) == []


# ---- Metrics Publishing: the publishers, a composite, a custom publisher -------------------------


def test_publishers_composite_and_custom(telemetry, forget):
    from prometheus_client import generate_latest

    from pointy_engine import EventBase, Pipeline
    from pointy_engine.telemetry import (
        CompositePublisher,
        ElasticsearchPublisher,
        GrafanaCloudPublisher,
        MetricsPublisher,
        PrometheusPublisher,
        monitor_events,
    )

    class CustomPublisher(MetricsPublisher):
        def __init__(self):
            self.events: list[tuple[str, str]] = []

        def publish_event_metrics(self, metrics) -> None:
            self.events.append((metrics.event_name, metrics.status))

        def publish_network_metrics(self, metrics: dict) -> None:
            pass

    # Built as the README builds them; only loopback ones are fed (tests use no network).
    es_publisher = ElasticsearchPublisher(hosts=["localhost:9200"], index_prefix="pipeline-metrics")
    grafana_publisher = GrafanaCloudPublisher(api_key="your-api-key", org_slug="your-org")
    assert "your-api-key" not in repr(grafana_publisher)
    assert es_publisher.index_prefix == "pipeline-metrics"
    prometheus_publisher = PrometheusPublisher(port=0)
    custom = CustomPublisher()
    forget.append("Shipped")

    class Shipped(EventBase):
        def process(self):
            return True, None

    class Published(Pipeline):
        class Meta:
            pointy = "Shipped"

    monitor_events([CompositePublisher([prometheus_publisher, custom])])
    Published().start()
    url = f"http://127.0.0.1:{prometheus_publisher.port}/metrics"
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        assert response.status == 200  # served over loopback while telemetry is on
    telemetry.stop()  # publishers get everything queued before their thread ends
    scraped = generate_latest(prometheus_publisher.registry).decode()
    assert custom.events == [("Shipped", "succeeded")]
    assert (
        'pointy_event_attempts_total{event="Shipped",pipeline="Published",state="succeeded"} 1.0'
        in scraped
    )


def test_every_module_path_the_readme_imports_from_exists():
    import importlib

    paths = {
        "pointy_engine": [
            "Pipeline",
            "EventBase",
            "EventExecutionEvaluationState",
            "ExecutorInitializerConfig",
        ],
        "pointy_engine.fields": ["InputDataField", "FileInputDataField"],
        "pointy_engine.pipeline": ["BatchPipeline", "InputDataField", "SoftSignal"],
        "pointy_engine.signal": ["SoftSignal"],
        "pointy_engine.base": ["RetryPolicy"],
        "pointy_engine.decorators": ["event", "listener"],
        "pointy_engine.signal.signals": ["pipeline_execution_start", "pipeline_pre_init"],
        "pointy_engine.telemetry": [
            "monitor_events",
            "get_metrics",
            "get_failed_events",
            "get_slow_events",
            "get_retry_stats",
            "get_failed_network_ops",
            "get_slow_network_ops",
            "ElasticsearchPublisher",
            "PrometheusPublisher",
            "GrafanaCloudPublisher",
            "CompositePublisher",
            "MetricsPublisher",
            "EventMetrics",
        ],
    }
    from pointy_engine import events, signals

    for path, names in paths.items():
        module = importlib.import_module(path)
        missing = [name for name in names if not hasattr(module, name)]
        assert missing == [], path
    faces = importlib.import_module("pointy_engine.decorators")
    assert faces.event is events.event
    assert importlib.import_module("pointy_engine.signal.signals").pipeline_pre_init is (
        signals.pipeline_pre_init
    )


def test_start_accepts_force_rerun(forget):
    from pointy_engine import EventBase, Pipeline

    calls = []
    forget.append("Once")

    class Once(EventBase):
        def process(self):
            calls.append(1)
            return True, len(calls)

    class Forced(Pipeline):
        class Meta:
            pointy = "Once"

    pipeline = Forced()
    assert pipeline.start(force_rerun=True).nodes["Once"].value == 1
    assert pipeline.start(force_rerun=False).nodes["Once"].value == 2  # every start runs anew
