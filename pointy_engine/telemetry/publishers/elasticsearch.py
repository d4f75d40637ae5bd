"""Bulk indexing into Elasticsearch (the official `elasticsearch` client), for Kibana.

Attempts go to `<index_prefix>-events`, network operations to `<index_prefix>-network`; each
batch is one `_bulk` request. Documents carry `@timestamp` (ISO 8601, UTC) for index patterns.
A node taken from the cache is a document with `status: "cached"`, `attempt: 0` and no
`duration` (nothing ran); `cached_duration` and `computed` say what it took and when it ran then.
Credentials (a password in a host URL, `api_key=`, `basic_auth=`) go to the client only: the
publisher's `hosts` and repr show `***` in their place.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .base import MetricsPublisher

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _url(host: str) -> str:
    return host if "://" in host else f"http://{host}"


def _without_password(url: str) -> str:
    """`http://user:pass@host` as `http://user:***@host`."""
    scheme, _, rest = url.partition("://")
    userinfo, at, place = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{place}"


class ElasticsearchPublisher(MetricsPublisher):
    def __init__(
        self, hosts: list[str], index_prefix: str = "pointy-metrics", **client_options: Any
    ) -> None:
        from elasticsearch import Elasticsearch

        urls = [_url(host) for host in hosts]
        self.hosts = [_without_password(url) for url in urls]
        self.index_prefix = index_prefix
        self.client = Elasticsearch(urls, **client_options)
        self._actions: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"ElasticsearchPublisher(hosts={self.hosts!r}, index_prefix={self.index_prefix!r})"

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        document = metrics.to_dict()
        document["@timestamp"] = _iso(metrics.start_time or metrics.end_time)
        if metrics.computed is not None:
            document["computed"] = _iso(metrics.computed)
        self._actions.append({"_index": f"{self.index_prefix}-events", "_source": document})

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        document = metrics.to_dict()
        document["@timestamp"] = _iso(metrics.start_time)
        self._actions.append({"_index": f"{self.index_prefix}-network", "_source": document})

    def flush(self) -> None:
        if not self._actions:
            return
        from elasticsearch import helpers

        actions, self._actions = self._actions, []
        helpers.bulk(self.client, actions)

    def close(self) -> None:
        self.client.close()
