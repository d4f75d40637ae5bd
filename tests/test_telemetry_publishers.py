"""Publishers, verified at the protocol level on 127.0.0.1: Prometheus scraped and parsed,
OpenTelemetry through the SDK's in-memory exporter, Elasticsearch and Grafana Cloud against a
local server that records each request."""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
import time
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from engine_support import WAIT, make_run, run_flow
from telemetry_support import fresh_store, mixed_run

from pointy_engine import FakeClock
from pointy_engine.run.submit import STILL_RUNNING
from pointy_engine.telemetry import (
    CompositePublisher,
    ElasticsearchPublisher,
    GrafanaCloudPublisher,
    MetricsPublisher,
    OpenTelemetryPublisher,
    PrometheusPublisher,
)
from pointy_engine.telemetry.publishers.grafana import GrafanaPushError

STILL = f"; {STILL_RUNNING}"  # a timed-out thread body goes on: the error says so


class Recorder:
    """An HTTP server on 127.0.0.1 that keeps (method, path, headers, body) of each request."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append((self.command, self.path, dict(self.headers), body))
                reply = recorder.reply(self.path, body)
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, path: str, body: bytes) -> bytes:
        if path.startswith("/_bulk"):
            actions = len(body.splitlines()) // 2
            items = [{"index": {"status": 201, "result": "created"}}] * actions
            return json.dumps({"took": 1, "errors": False, "items": items}).encode()
        return b"{}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    server = Recorder(headers={"X-Elastic-Product": "Elasticsearch"})
    yield server
    server.close()


def _publish(publisher: MetricsPublisher):
    """Run the mixed flow with `publisher` on a fresh store; wait until it was handed all."""
    store, observers = fresh_store()
    store.start([publisher])
    try:
        run = mixed_run(observers=observers)
        assert store.flush(WAIT)
    finally:
        observers.remove(store.observe)  # collect no more; publishers stay open to be read
    return run, store


# A run with a cache hit: Load comes from the cache, Double (changed since) runs.
WARM_CLOCK = FakeClock(start=100.0)  # a global: not part of any event's code digest


def Load(previous_result=None):
    time.sleep(0.05)  # what the cache hit saves: the body's own time, measured when it ran
    return 2


def Double(previous_result=None):
    return previous_result * 2


def Triple(previous_result=None):
    return previous_result * 3


def _publish_warm(publisher: MetricsPublisher, cache_dir):
    """Fill the cache, then publish a run where Load is a cache hit and Double runs."""
    run_flow("Load |-> Double", {"Load": Load, "Double": Double}, cache=cache_dir, name="Warm")
    store, observers = fresh_store()
    store.start([publisher])
    try:
        events = {"Load": Load, "Double": Triple}  # a new code for Double: a miss
        run = run_flow(
            "Load |-> Double", events, cache=cache_dir, name="Warm", clock=WARM_CLOCK,
            observers=observers,
        )  # fmt: skip
        assert next((r.node, r.state) for r in run.records() if r.node) == ("Load", "cached")
        assert run.value == 6
        assert store.flush(WAIT)
    finally:
        observers.remove(store.observe)
    return run, store


# ----- Prometheus ------------------------------------------------------------------------


def _scrape(publisher: PrometheusPublisher) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    assert publisher.addr == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{publisher.port}/metrics", timeout=WAIT) as r:
        text = r.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_counters_and_histograms_are_scraped_over_http():
    publisher = PrometheusPublisher(port=0)
    try:
        _, store = _publish(publisher)
        samples = _scrape(publisher)
    finally:
        store.stop()

    def labels(event, state=None):
        pairs = [("event", event), ("pipeline", "Nightly")]
        return tuple(sorted([*pairs, ("state", state)] if state else pairs))

    assert samples[("pointy_event_attempts_total", labels("Fetch", "retrying"))] == 2.0
    assert samples[("pointy_event_attempts_total", labels("Fetch", "succeeded"))] == 1.0
    assert samples[("pointy_event_attempts_total", labels("Slowpoke", "failed"))] == 1.0
    assert samples[("pointy_event_retries_total", labels("Fetch"))] == 2.0
    assert samples[("pointy_event_failures_total", labels("Slowpoke"))] == 1.0
    assert samples[("pointy_event_failures_total", labels("Check"))] == 1.0
    assert samples[("pointy_event_duration_seconds_count", labels("Fetch", "retrying"))] == 2.0
    assert samples[("pointy_event_duration_seconds_sum", labels("Slowpoke", "failed"))] == (
        pytest.approx(0.2)
    )
    assert ("pointy_event_retries_total", labels("Alert")) not in samples


def test_prometheus_counts_a_cache_hit_apart_never_as_an_attempt_or_a_duration(tmp_path):
    publisher = PrometheusPublisher(port=0)
    try:
        _, store = _publish_warm(publisher, tmp_path)
        samples = _scrape(publisher)
    finally:
        store.stop()
    load = (("event", "Load"), ("pipeline", "Warm"))
    assert samples[("pointy_event_cache_hits_total", load)] == 1.0
    assert samples[("pointy_event_cache_saved_seconds_total", load)] >= 0.05
    ran = [key for key in samples if key[0] == "pointy_event_attempts_total"]
    assert ran == [
        ("pointy_event_attempts_total", (("event", "Double"), ("pipeline", "Warm"),
                                         ("state", "succeeded"))),
    ]  # fmt: skip
    timed = {
        dict(labels)["event"]
        for name, labels in samples
        if name == "pointy_event_duration_seconds_count"
    }
    assert timed == {"Double"}
    assert ("pointy_event_cache_hits_total", (("event", "Double"), ("pipeline", "Warm"))) not in (
        samples
    )


def test_a_second_prometheus_publisher_in_one_process_does_not_clash():
    first, second = PrometheusPublisher(port=None), PrometheusPublisher(port=0)
    try:
        assert repr(first) == "PrometheusPublisher(not serving)"
        assert repr(second) == f"PrometheusPublisher(http://127.0.0.1:{second.port}/metrics)"
        _publish(second)
        assert _scrape(second)  # served from its own registry
    finally:
        first.close()
        second.close()


# ----- OpenTelemetry ---------------------------------------------------------------------


def test_opentelemetry_spans_per_attempt_under_the_runs_span():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run, _ = _publish(OpenTelemetryPublisher(tracer_provider=provider))
    spans = exporter.get_finished_spans()
    (root,) = [span for span in spans if span.parent is None]
    assert root.name == "run Nightly"
    assert root.attributes["pointy.run_id"] == run.id
    assert root.attributes["pointy.state"] == "failed"
    children = [span for span in spans if span.parent is not None]
    assert {span.parent.span_id for span in children} == {root.context.span_id}
    assert [
        (s.name, s.attributes["pointy.attempt"], s.attributes["pointy.state"]) for s in children
    ] == [
        ("Fetch", 1, "retrying"),
        ("Fetch", 2, "retrying"),
        ("Fetch", 3, "succeeded"),
        ("Slowpoke", 1, "failed"),
        ("Check", 1, "failed"),
        ("Alert", 1, "succeeded"),
    ]
    assert children[0].attributes["pointy.error"] == "ConnectionError: refused 1"
    assert (children[3].start_time, children[3].end_time) == (101_500_000_000, 101_700_000_000)
    assert children[3].status.status_code.name == "ERROR"
    assert (root.start_time, root.end_time) == (100_000_000_000, 101_700_000_000)


def test_opentelemetry_shows_a_cache_hit_as_an_event_on_the_runs_span_not_a_span(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run, store = _publish_warm(OpenTelemetryPublisher(tracer_provider=provider), tmp_path)
    store.stop()
    spans = exporter.get_finished_spans()
    (root,) = [span for span in spans if span.parent is None]
    assert [span.name for span in spans if span.parent is not None] == ["Double"]
    (hit,) = root.events
    assert hit.name == "cached Load"
    assert hit.attributes["pointy.state"] == "cached"
    assert hit.attributes["pointy.node"] == "Load"
    assert hit.attributes["pointy.cached_duration"] >= 0.05
    assert hit.attributes["pointy.computed"] == run.nodes["Load"].cached_at
    assert hit.timestamp == 100_000_000_000


# ----- Elasticsearch ---------------------------------------------------------------------


def test_elasticsearch_bulk_indexes_every_attempt_under_the_prefix(recorder):
    publisher = ElasticsearchPublisher(hosts=[recorder.url], index_prefix="pipeline-metrics")
    run, _ = _publish(publisher)
    bulks = [request for request in recorder.requests if request[1].startswith("/_bulk")]
    assert bulks  # one request per batch: how many depends on how records trickled in
    assert {method for method, *_ in bulks} == {"PUT"}
    for _, _, headers, _ in bulks:
        ndjson = {key.lower(): value for key, value in headers.items()}["content-type"]
        assert ndjson.startswith("application/vnd.elasticsearch+x-ndjson")
    lines = [json.loads(line) for *_, body in bulks for line in body.splitlines()]
    actions, documents = lines[0::2], lines[1::2]
    assert actions == [{"index": {"_index": "pipeline-metrics-events"}}] * 6
    assert documents[3] == {
        "event_name": "Slowpoke",
        "task_id": "Slowpoke",
        "start_time": 101.5,
        "end_time": 101.7,
        "status": "failed",
        "error": "TimeoutError: event 'Slowpoke' timed out after 0.2 s" + STILL,
        "retry_count": 0,
        "process_id": None,
        "run_id": run.id,
        "pipeline": "Nightly",
        "attempt": 1,
        "wait": 0.0,
        "worker": "",
        "executor": "",
        "cached_duration": None,
        "computed": None,
        "duration": pytest.approx(0.2),
        "@timestamp": "1970-01-01T00:01:41.500000+00:00",
    }
    assert [(d["event_name"], d["attempt"], d["status"]) for d in documents] == [
        ("Fetch", 1, "retrying"),
        ("Fetch", 2, "retrying"),
        ("Fetch", 3, "succeeded"),
        ("Slowpoke", 1, "failed"),
        ("Check", 1, "failed"),
        ("Alert", 1, "succeeded"),
    ]
    assert documents[0]["process_id"] == os.getpid()
    assert repr(publisher) == (
        f"ElasticsearchPublisher(hosts=['{recorder.url}'], index_prefix='pipeline-metrics')"
    )


def test_elasticsearch_indexes_a_cache_hit_with_its_own_status_and_no_duration(recorder, tmp_path):
    publisher = ElasticsearchPublisher(hosts=[recorder.url], index_prefix="pipeline-metrics")
    run, store = _publish_warm(publisher, tmp_path)
    store.stop()
    bodies = [body for _, path, _, body in recorder.requests if path.startswith("/_bulk")]
    documents = [json.loads(line) for body in bodies for line in body.splitlines()][1::2]
    hit, ran = documents
    assert (ran["event_name"], ran["status"], ran["attempt"]) == ("Double", "succeeded", 1)
    assert ran["cached_duration"] is None
    assert {key: hit[key] for key in ("event_name", "status", "attempt", "start_time")} == {
        "event_name": "Load", "status": "cached", "attempt": 0, "start_time": None,
    }  # fmt: skip
    assert hit["duration"] is None
    assert hit["cached_duration"] >= 0.05
    cached_at = run.nodes["Load"].cached_at
    assert hit["computed"] == datetime.fromtimestamp(cached_at, timezone.utc).isoformat()
    assert hit["@timestamp"] == "1970-01-01T00:01:40+00:00"


# ----- Grafana Cloud ---------------------------------------------------------------------

SECRET = "glc_secret_key_1234"


def test_grafana_pushes_line_protocol_with_the_key_as_bearer(recorder):
    publisher = GrafanaCloudPublisher(api_key=SECRET, org_slug="acme", url=recorder.url + "/push")
    _publish(publisher)
    assert recorder.requests  # one request per batch
    for method, path, headers, _ in recorder.requests:
        assert (method, path) == ("POST", "/push")
        assert headers["Authorization"] == f"Bearer {SECRET}"
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = [line for *_, body in recorder.requests for line in body.decode().splitlines()]
    assert lines == [
        "pointy_event,pipeline=Nightly,event=Fetch,state=retrying "
        "duration=0.0,attempt=1i,wait=0.0 100000000000",
        "pointy_event,pipeline=Nightly,event=Fetch,state=retrying "
        "duration=0.0,attempt=2i,wait=0.5 100500000000",
        "pointy_event,pipeline=Nightly,event=Fetch,state=succeeded "
        "duration=0.0,attempt=3i,wait=1.0 101500000000",
        "pointy_event,pipeline=Nightly,event=Slowpoke,state=failed "
        "duration=0.20000000000000284,attempt=1i,wait=0.0 101700000000",
        "pointy_event,pipeline=Nightly,event=Check,state=failed "
        "duration=0.0,attempt=1i,wait=0.0 101700000000",
        "pointy_event,pipeline=Nightly,event=Alert,state=succeeded "
        "duration=0.0,attempt=1i,wait=0.0 101700000000",
    ]


def test_grafana_writes_a_cache_hit_as_its_own_measurement(recorder, tmp_path):
    publisher = GrafanaCloudPublisher(api_key=SECRET, org_slug="acme", url=recorder.url + "/push")
    _, store = _publish_warm(publisher, tmp_path)
    store.stop()
    lines = [line for *_, body in recorder.requests for line in body.decode().splitlines()]
    hit, ran = lines
    assert ran.startswith("pointy_event,pipeline=Warm,event=Double,state=succeeded duration=")
    match = re.fullmatch(
        r"pointy_cache_hit,pipeline=Warm,event=Load,state=cached saved=(\S+) (\d+)", hit
    )
    assert match, hit
    assert float(match[1]) >= 0.05
    assert match[2] == "100000000000"


def test_the_grafana_key_never_shows_in_reprs_or_errors():
    refusing = Recorder(status=401)
    try:
        publisher = GrafanaCloudPublisher(api_key=SECRET, org_slug="acme", url=refusing.url)
        assert repr(publisher) == (
            f"GrafanaCloudPublisher(org_slug='acme', url='{refusing.url}', api_key=***)"
        )
        assert SECRET not in str(vars(publisher).values())
        publisher._lines.append("pointy_event,event=A duration=0.0 1")
        with pytest.raises(GrafanaPushError) as raised:
            publisher.flush()
        assert str(raised.value) == f"Grafana Cloud refused the push to {refusing.url}: HTTP 401"
        assert SECRET not in repr(raised.value.__context__)
    finally:
        refusing.close()


# ----- off the run's path ----------------------------------------------------------------


class Broken(MetricsPublisher):
    def publish_event_metrics(self, metrics):
        raise RuntimeError("backend down")

    def publish_network_metrics(self, metrics):
        raise RuntimeError("backend down")


class Blocked(MetricsPublisher):
    def __init__(self):
        self.release = threading.Event()
        self.seen = []

    def publish_event_metrics(self, metrics):
        self.release.wait(WAIT)
        self.seen.append(metrics.task_id)

    def publish_network_metrics(self, metrics):
        pass


def test_a_failing_publisher_is_counted_and_reported_once(caplog):
    caplog.set_level(logging.WARNING, logger="pointy_engine.telemetry")
    store, observers = fresh_store()
    store.start([Broken()])
    try:
        runs = [run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers)]
        assert store.flush(WAIT)
        runs.append(run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers))
        assert store.flush(WAIT)
    finally:
        store.stop()
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    assert store.publisher_failures == {}  # stop() let it go
    assert [record.getMessage() for record in caplog.records] == [
        "metrics publisher Broken failed (RuntimeError: backend down); its failures are counted "
        "in pointy_engine.telemetry.telemetry_store.publisher_failures and not logged again"
    ]


def test_failures_are_counted_per_batch():
    store, observers = fresh_store()
    store.start([Broken()])
    try:
        run_flow("A", {"A": lambda: 1}, observers=observers)
        assert store.flush(WAIT)
        run_flow("A", {"A": lambda: 1}, observers=observers)
        assert store.flush(WAIT)
        assert store.publisher_failures == {"Broken": 2}
    finally:
        store.stop()


def test_a_blocked_publisher_does_not_hold_up_the_run():
    blocked = Blocked()
    store, observers = fresh_store()
    store.start([blocked])
    try:
        run = run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers)
        assert run.done
        assert run.status == "succeeded"
        assert blocked.seen == []  # still waiting on its first metric
        blocked.release.set()
        assert store.flush(WAIT)
        assert blocked.seen == ["A", "B"]
    finally:
        blocked.release.set()
        store.stop()


def test_a_composite_feeds_every_publisher_even_when_one_fails():
    class Keep(MetricsPublisher):
        def __init__(self):
            self.seen = []

        def publish_event_metrics(self, metrics):
            self.seen.append((metrics.task_id, metrics.status))

        def publish_network_metrics(self, metrics):
            pass

    keep = Keep()
    _, store = _publish(CompositePublisher([Broken(), keep]))
    store.stop()
    assert store.publisher_failures == {}
    assert keep.seen == [
        ("Fetch", "retrying"),
        ("Fetch", "retrying"),
        ("Fetch", "succeeded"),
        ("Slowpoke", "failed"),
        ("Check", "failed"),
        ("Alert", "succeeded"),
    ]


# ----- how publishing stays off the run's path ---------------------------------------------


class Seen(MetricsPublisher):
    """Keeps (node, state) of each attempt; `batch` is set at the end of every batch."""

    def __init__(self):
        self.seen = []
        self.batch = threading.Event()

    def publish_event_metrics(self, metrics):
        self.seen.append((metrics.task_id, metrics.status))

    def publish_network_metrics(self, metrics):
        pass

    def flush(self):
        self.batch.set()


def test_publishing_attaches_nothing_to_the_run():
    store, observers = fresh_store()
    store.start([Seen()])
    try:
        run = run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers)
        assert run.stream.listeners == ()  # the publishing thread reads the kept records
    finally:
        store.stop()


def test_publishers_get_a_run_within_the_interval_without_a_flush():
    seen = Seen()
    store, observers = fresh_store()
    store.start([seen], interval=0.02)
    try:
        run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers)
        assert seen.batch.wait(WAIT)
        assert seen.seen == [("A", "succeeded"), ("B", "succeeded")]
    finally:
        store.stop()


def test_a_long_run_is_published_while_it_runs():
    seen = Seen()
    release = threading.Event()
    store, observers = fresh_store()
    store.start([seen], interval=0.02)
    try:
        run = make_run(
            "A -> B", {"A": lambda: 1, "B": lambda: release.wait(WAIT)}, observers=observers
        ).start(background=True)
        assert seen.batch.wait(WAIT)
        assert seen.seen == [("A", "succeeded")]  # B is still running
        release.set()
        run.wait(WAIT)
        assert store.flush(WAIT)
        assert seen.seen == [("A", "succeeded"), ("B", "succeeded")]
    finally:
        release.set()
        store.stop()


def test_a_run_younger_than_the_interval_is_left_alone_until_it_ends():
    seen = Seen()
    release = threading.Event()
    store, observers = fresh_store()
    store.start([seen], interval=0.5)
    try:
        run = make_run(
            "A -> B", {"A": lambda: 1, "B": lambda: release.wait(WAIT)}, observers=observers
        ).start(background=True)
        assert not seen.batch.wait(0.2)  # A finished, but the run is young and still running
        assert seen.seen == []
        release.set()
        run.wait(WAIT)
        assert seen.batch.wait(WAIT)  # the next pass after its end, no flush needed
        assert seen.seen == [("A", "succeeded"), ("B", "succeeded")]
    finally:
        release.set()
        store.stop()


def test_a_run_dropped_before_it_started_is_let_go():
    store, observers = fresh_store()
    store.start([Seen()])
    try:
        make_run("A", {"A": lambda: 1}, observers=observers)  # never started, not kept
        gc.collect()
        assert store.flush(WAIT)
        assert store._dispatcher._followed == []
    finally:
        store.stop()


@pytest.mark.parametrize("interval", [0, -1.0, "1s", True])
def test_an_interval_that_is_not_positive_is_refused(interval):
    store, _ = fresh_store()
    message = f"monitor_events: interval must be a positive number of seconds, not {interval!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        store.start([Seen()], interval=interval)
    assert not store.collecting
