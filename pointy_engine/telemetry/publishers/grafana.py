"""Pushes metrics to Grafana Cloud as Influx line protocol, one HTTP request per batch.

The API key is sent as a bearer token and never appears in the publisher's repr, in logs or
in the errors it raises. `url` is your stack's Influx write endpoint (Grafana Cloud → your
stack → InfluxDB details); by default `https://<org_slug>.grafana.net/api/v1/push/influx/write`.
A node taken from the cache is a `pointy_cache_hit` point (tag `state=cached`, field `saved`:
what the event took when computed), never a `pointy_event` point: it has no attempt or duration.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from .base import MetricsPublisher

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics


def _tag(value: str) -> str:
    """Escape a tag value for line protocol (commas, spaces and equals signs)."""
    text = value or "none"
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


class _Secret:
    """Holds the API key; shows as *** wherever it is printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


class GrafanaCloudPublisher(MetricsPublisher):
    def __init__(
        self, api_key: str, org_slug: str, url: str | None = None, timeout: float = 10.0
    ) -> None:
        self._api_key = _Secret(api_key)
        self.org_slug = org_slug
        self.url = url or f"https://{org_slug}.grafana.net/api/v1/push/influx/write"
        self.timeout = timeout
        self._lines: list[str] = []

    def __repr__(self) -> str:
        return f"GrafanaCloudPublisher(org_slug={self.org_slug!r}, url={self.url!r}, api_key=***)"

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        tags = (
            f"pipeline={_tag(metrics.pipeline)},event={_tag(metrics.event_name)},"
            f"state={_tag(metrics.status)}"
        )
        if metrics.status == "cached":
            saved = metrics.cached_duration if metrics.cached_duration is not None else 0.0
            self._lines.append(
                f"pointy_cache_hit,{tags} saved={saved!r} {int((metrics.end_time or 0.0) * 1e9)}"
            )
            return
        duration = metrics.duration if metrics.duration is not None else 0.0
        time = metrics.end_time if metrics.end_time is not None else metrics.start_time or 0.0
        self._lines.append(
            f"pointy_event,{tags} duration={duration!r},attempt={metrics.attempt}i,"
            f"wait={metrics.wait!r} {int(time * 1e9)}"
        )

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        tags = f"operation={_tag(metrics.operation)},host={_tag(metrics.host)}"
        failed = "true" if metrics.error is not None else "false"
        self._lines.append(
            f"pointy_network,{tags} latency={metrics.latency!r},"
            f"bytes_sent={metrics.bytes_sent}i,bytes_received={metrics.bytes_received}i,"
            f"failed={failed} {int(metrics.start_time * 1e9)}"
        )

    def flush(self) -> None:
        if not self._lines:
            return
        body, self._lines = "\n".join(self._lines).encode(), []
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._api_key.reveal()}",
                "Content-Type": "text/plain; charset=utf-8",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise GrafanaPushError(
                f"Grafana Cloud refused the push to {self.url}: HTTP {error.code}"
            ) from None
        except OSError as error:
            raise GrafanaPushError(
                f"could not reach Grafana Cloud at {self.url}: {error}"
            ) from None


class GrafanaPushError(RuntimeError):
    """A push to Grafana Cloud failed (the message never holds the API key)."""
