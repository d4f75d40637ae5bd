"""Telemetry: every run's records as DataFrames, a timeline, and metric publishers.

`monitor_events()` turns collection on (see `store` for what it keeps and what it costs).
Names are imported lazily: importing this package imports neither pandas nor any publisher's
client library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {
    "monitor_events": "api",
    "get_metrics": "api",
    "get_failed_events": "api",
    "get_slow_events": "api",
    "get_retry_stats": "api",
    "get_failed_network_ops": "api",
    "get_slow_network_ops": "api",
    "metrics": "api",
    "summary": "api",
    "runs": "api",
    "network": "api",
    "failed_events": "api",
    "slow_events": "api",
    "retry_stats": "api",
    "critical_path": "api",
    "failed_network_ops": "api",
    "slow_network_ops": "api",
    "telemetry_store": "store",
    "TelemetryStore": "store",
    "DEFAULT_LIMIT": "store",
    "EventMetrics": "models",
    "NetworkMetrics": "models",
    "Timeline": "timeline",
    "timeline_layout": "timeline",
    "critical_steps": "critical",
    "critical_path_frame": "critical",
    "MetricsPublisher": "publishers.base",
    "CompositePublisher": "publishers.composite",
    "PrometheusPublisher": "publishers.prometheus",
    "ElasticsearchPublisher": "publishers.elasticsearch",
    "GrafanaCloudPublisher": "publishers.grafana",
    "OpenTelemetryPublisher": "publishers.otel",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from .api import (
        critical_path,
        failed_events,
        failed_network_ops,
        get_failed_events,
        get_failed_network_ops,
        get_metrics,
        get_retry_stats,
        get_slow_events,
        get_slow_network_ops,
        metrics,
        monitor_events,
        network,
        retry_stats,
        runs,
        slow_events,
        slow_network_ops,
        summary,
    )
    from .critical import critical_path_frame, critical_steps
    from .models import EventMetrics, NetworkMetrics
    from .publishers.base import MetricsPublisher
    from .publishers.composite import CompositePublisher
    from .publishers.elasticsearch import ElasticsearchPublisher
    from .publishers.grafana import GrafanaCloudPublisher
    from .publishers.otel import OpenTelemetryPublisher
    from .publishers.prometheus import PrometheusPublisher
    from .store import DEFAULT_LIMIT, TelemetryStore, telemetry_store
    from .timeline import Timeline, timeline_layout
