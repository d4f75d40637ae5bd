"""The dashboard templates in examples/telemetry/ query only what our publishers export.

Grafana: every metric name and label a query, legend or variable uses is present in a scrape of
a PrometheusPublisher's endpoint on 127.0.0.1 (parsed with prometheus_client's parser), after a
run and a network operation. Kibana: every field a visualization aggregates or filters on is in
the documents an ElasticsearchPublisher sent to a local recording server, with the right type.
Neither file was loaded into a real Grafana or Kibana here (none is reachable from this machine).
"""

from __future__ import annotations

import fnmatch
import json
import re
import urllib.request
from pathlib import Path

import pytest
from engine_support import WAIT
from telemetry_support import fresh_store, mixed_run
from test_telemetry_publishers import Recorder

from pointy_engine.telemetry import ElasticsearchPublisher, NetworkMetrics, PrometheusPublisher

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "telemetry"
NETWORK_OP = NetworkMetrics(
    task_id="Fetch", host="10.0.0.5", port=8786, operation="submit", start_time=100.0,
    end_time=100.25, bytes_sent=2048, bytes_received=512, error="CommClosedError: gone",
    latency=0.25, run_id="r1", event_name="Fetch", attempt=1,
)  # fmt: skip


def _publish_and_wait(publisher):
    store, observers = fresh_store()
    store.start([publisher])
    try:
        mixed_run(observers=observers)
        assert store.flush(WAIT)
    finally:
        store.stop()


# ----- Grafana over Prometheus ------------------------------------------------------------


@pytest.fixture(scope="module")
def grafana():
    return json.loads((EXAMPLES / "prometheus_dashboard.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exported():
    """Sample name -> the label names it carries, as scraped from a live endpoint."""
    from prometheus_client.parser import text_string_to_metric_families

    publisher = PrometheusPublisher(port=0)
    try:
        publisher.publish_network_metrics(NETWORK_OP)
        publisher.close = lambda: None  # keep serving after the store stops
        _publish_and_wait(publisher)
        url = f"http://127.0.0.1:{publisher.port}/metrics"
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            text = response.read().decode()
    finally:
        PrometheusPublisher.close(publisher)
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def _queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"], target.get("legendFormat", "")


def test_every_metric_a_grafana_query_uses_is_exported(grafana, exported):
    used = set()
    for _, expr, _ in _queries(grafana):
        used |= set(re.findall(r"\bpointy_[a-z_]+", expr))
    for variable in grafana["templating"]["list"]:
        if variable["type"] == "query":
            used |= set(re.findall(r"\bpointy_[a-z_]+", variable["definition"]))
    assert used  # the dashboard queries something
    assert sorted(used - set(exported)) == []
    assert {name for name in exported if name.startswith("pointy_")} >= {
        "pointy_event_attempts_total",
        "pointy_event_retries_total",
        "pointy_event_failures_total",
        "pointy_event_duration_seconds_bucket",
        "pointy_network_sent_bytes_total",
        "pointy_network_latency_seconds_bucket",
    }


def test_every_label_a_grafana_query_groups_by_or_shows_exists_on_its_metrics(grafana, exported):
    for title, expr, legend in _queries(grafana):
        metrics = set(re.findall(r"\bpointy_[a-z_]+", expr))
        labels = set(re.findall(r"\{([a-z_]+)=~", expr))
        for group in re.findall(r"by \(([^)]*)\)", expr):
            labels |= {name.strip() for name in group.split(",")}
        labels |= set(re.findall(r"\{\{([a-z_]+)\}\}", legend))
        for metric in metrics:
            missing = (
                labels - exported[metric] - {"le"}
                if metric.endswith("_bucket")
                else (labels - exported[metric])
            )
            assert missing == set(), (title, metric)
    pipeline = next(v for v in grafana["templating"]["list"] if v["name"] == "pipeline")
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", pipeline["definition"]).groups()
    assert label in exported[metric]


def test_the_grafana_dashboard_has_the_panels_the_readme_lists(grafana):
    titles = [panel["title"] for panel in grafana["panels"]]
    for wanted in ("Event duration", "Retries", "Network throughput", "latency"):
        assert any(wanted in title for title in titles), wanted
    ids = [panel["id"] for panel in grafana["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in grafana["templating"]["list"]}
    for panel in grafana["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
    assert variables == {"datasource", "pipeline"}


# ----- Kibana over Elasticsearch ----------------------------------------------------------


@pytest.fixture(scope="module")
def kibana():
    return json.loads((EXAMPLES / "elasticsearch_dashboard.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def documents():
    """Index name -> the documents a publisher with the default prefix bulk-indexed."""
    server = Recorder(headers={"X-Elastic-Product": "Elasticsearch"})
    try:
        publisher = ElasticsearchPublisher(hosts=[server.url])
        publisher.publish_network_metrics(NETWORK_OP)
        _publish_and_wait(publisher)
    finally:
        server.close()
    indexed: dict[str, list[dict]] = {}
    for _, path, _, body in server.requests:
        if not path.startswith("/_bulk"):
            continue
        lines = [json.loads(line) for line in body.splitlines()]
        for action, source in zip(lines[::2], lines[1::2]):
            indexed.setdefault(action["index"]["_index"], []).append(source)
    return indexed


def _visualizations(kibana):
    patterns = {o["id"]: o["attributes"]["title"] for o in kibana["objects"]
                if o["type"] == "index-pattern"}  # fmt: skip
    for item in kibana["objects"]:
        if item["type"] != "visualization":
            continue
        (reference,) = item["references"]
        state = json.loads(item["attributes"]["visState"])
        search = json.loads(item["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        yield state, patterns[reference["id"]], search["query"]["query"]


def test_every_field_a_kibana_visualization_uses_is_in_the_published_documents(kibana, documents):
    numeric = {"histogram", "avg", "max", "sum", "percentiles"}
    checked = 0
    for state, pattern, query in _visualizations(kibana):
        indices = [name for name in documents if fnmatch.fnmatch(name, pattern)]
        assert indices, (state["title"], pattern)
        sources = [doc for name in indices for doc in documents[name]]
        for aggregation in state["aggs"]:
            field = aggregation["params"].get("field")
            if field is None:
                continue
            name = field.removesuffix(".keyword")
            values = [doc[name] for doc in sources if doc.get(name) is not None]
            assert values, (state["title"], field)
            if aggregation["type"] in numeric:
                assert all(isinstance(v, (int, float)) for v in values), (state["title"], field)
            elif aggregation["type"] == "terms":
                assert field.endswith(".keyword")  # dynamic mapping: text + keyword sub-field
                assert all(isinstance(v, str) for v in values), (state["title"], field)
            else:
                assert aggregation["type"] == "date_histogram"
                assert field == "@timestamp"
            checked += 1
        for name in re.findall(r"(\w+) :", query):
            assert any(name in doc for doc in sources), (state["title"], name)
    assert checked >= 12


def test_the_kibana_dashboard_has_the_panels_the_readme_lists_and_its_references_resolve(
    kibana,
):
    objects = {(o["type"], o["id"]): o for o in kibana["objects"]}
    (dashboard,) = [o for o in kibana["objects"] if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    names = {reference["name"]: reference for reference in dashboard["references"]}
    titles = []
    for panel in panels:
        reference = names[panel["panelRefName"]]
        titles.append(objects[(reference["type"], reference["id"])]["attributes"]["title"])
    for wanted in ("Event duration distribution", "Status breakdown", "Network latency",
                   "Error tracking"):  # fmt: skip
        assert any(title.startswith(wanted) for title in titles), wanted
    assert {
        o["attributes"]["title"] for o in kibana["objects"] if o["type"] == "index-pattern"
    } == {
        "pointy-metrics-events*",
        "pointy-metrics-network*",
    }
