"""The interface a metrics publisher implements, as in the seed's README."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics


class MetricsPublisher:
    """Receives each finished attempt and network operation, on telemetry's publishing thread.

    Calls come in batches; `flush()` ends each batch (send what you buffered). A publisher that
    raises is counted and reported once; it never reaches a run.
    """

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        raise NotImplementedError

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        raise NotImplementedError

    def end_run(self, run_id: str, state: str, time: float) -> None:
        """A run ended (`state` is its status, `time` epoch seconds): after its metrics."""

    def flush(self) -> None:
        """End of a batch."""

    def close(self) -> None:
        """Telemetry stopped: release what the publisher holds."""
