"""Metrics for Prometheus to scrape, on `prometheus_client`.

Each publisher owns its own `CollectorRegistry`, so a second publisher in one process (a
notebook cell run twice) never hits a duplicate-registration error. The HTTP endpoint binds
127.0.0.1 unless `addr` says otherwise; `port=0` picks a free port (see `.port`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import MetricsPublisher

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0)


class PrometheusPublisher(MetricsPublisher):
    def __init__(
        self, port: int | None = 9090, addr: str = "127.0.0.1", namespace: str = "pointy"
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        labels = ("pipeline", "event", "state")
        options: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self.attempts = Counter(
            "event_attempts", "Attempts of events, by final state of the attempt", labels, **options
        )
        self.failures = Counter(
            "event_failures", "Attempts that failed for good", ("pipeline", "event"), **options
        )
        self.retries = Counter(
            "event_retries",
            "Attempts that failed and were retried",
            ("pipeline", "event"),
            **options,
        )
        self.durations = Histogram(
            "event_duration_seconds", "Duration of attempts", labels,
            buckets=DURATION_BUCKETS, **options,
        )  # fmt: skip
        # A cache hit is not an attempt: counted apart, with the time it saved, never a duration.
        self.cache_hits = Counter(
            "event_cache_hits", "Nodes taken from the cache instead of running their event",
            ("pipeline", "event"), **options,
        )  # fmt: skip
        self.cache_saved = Counter(
            "event_cache_saved_seconds",
            "What the events taken from the cache took when their values were computed",
            ("pipeline", "event"), **options,
        )  # fmt: skip
        net = ("operation", "address")
        self.bytes_sent = Counter("network_sent_bytes", "Bytes sent", net, **options)
        self.bytes_received = Counter("network_received_bytes", "Bytes received", net, **options)
        self.latency = Histogram(
            "network_latency_seconds", "Latency of network operations", net,
            buckets=DURATION_BUCKETS, **options,
        )  # fmt: skip
        self.network_errors = Counter("network_errors", "Failed network operations", net, **options)
        # (pipeline, event, state) -> its children: labels() costs more than the increment.
        self._children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self._server = None
        self.addr = addr
        self.port = port
        if port is not None:
            from prometheus_client import start_http_server

            self._server, _ = start_http_server(port, addr=addr, registry=self.registry)
            self.port = self._server.server_port

    def __repr__(self) -> str:
        where = f"http://{self.addr}:{self.port}/metrics" if self._server else "not serving"
        return f"PrometheusPublisher({where})"

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        if metrics.status == "cached":
            self.cache_hits.labels(metrics.pipeline, metrics.event_name).inc()
            if metrics.cached_duration is not None:
                saved = self.cache_saved.labels(metrics.pipeline, metrics.event_name)
                saved.inc(metrics.cached_duration)
            return
        key = (metrics.pipeline, metrics.event_name, metrics.status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labelled(*key)
        attempts, outcome, durations = children
        attempts.inc()
        if outcome is not None:
            outcome.inc()
        if metrics.start_time is not None and metrics.end_time is not None:
            durations.observe(metrics.end_time - metrics.start_time)

    def _labelled(self, pipeline: str, event: str, state: str) -> tuple[Any, Any, Any]:
        outcome = None
        if state == "failed":
            outcome = self.failures.labels(pipeline, event)
        elif state == "retrying":
            outcome = self.retries.labels(pipeline, event)
        return (
            self.attempts.labels(pipeline, event, state),
            outcome,
            self.durations.labels(pipeline, event, state),
        )

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        address = f"{metrics.host}:{metrics.port}" if metrics.port is not None else metrics.host
        labels = (metrics.operation, address)
        self.bytes_sent.labels(*labels).inc(metrics.bytes_sent)
        self.bytes_received.labels(*labels).inc(metrics.bytes_received)
        self.latency.labels(*labels).observe(metrics.latency)
        if metrics.error is not None:
            self.network_errors.labels(*labels).inc()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
