"""Several publishers as one: each gets every metric; one failing does not starve the others."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import MetricsPublisher

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics


class CompositePublisher(MetricsPublisher):
    def __init__(self, publishers: Iterable[MetricsPublisher]) -> None:
        self.publishers = list(publishers)

    def __repr__(self) -> str:
        return f"CompositePublisher({self.publishers!r})"

    def _each(self, method: str, *args: object) -> None:
        errors = []
        for publisher in self.publishers:
            try:
                getattr(publisher, method)(*args)
            except Exception as error:  # the next publisher still gets the metric
                errors.append(f"{type(publisher).__name__}: {type(error).__name__}: {error}")
        if errors:
            raise PublisherError("; ".join(errors))

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        self._each("publish_event_metrics", metrics)

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        self._each("publish_network_metrics", metrics)

    def end_run(self, run_id: str, state: str, time: float) -> None:
        self._each("end_run", run_id, state, time)

    def flush(self) -> None:
        self._each("flush")

    def close(self) -> None:
        self._each("close")


class PublisherError(RuntimeError):
    """One or more publishers of a composite failed."""
