"""OpenTelemetry: a span per attempt, children of its run's span, through the OTel SDK.

A node taken from the cache ran nothing: it is a span event "cached <event>" on the run's span
(attributes `pointy.state="cached"`, `pointy.cached_duration`, `pointy.computed`), not a span.

Give it a `TracerProvider` (with the exporter of your backend), or it uses the global one.
The run's span opens at its first attempt and ends at the run's end; times are the records'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import MetricsPublisher

if TYPE_CHECKING:
    from ..models import EventMetrics, NetworkMetrics


def _nanos(seconds: float) -> int:
    return int(seconds * 1e9)


class OpenTelemetryPublisher(MetricsPublisher):
    def __init__(self, tracer_provider: Any = None, tracer_name: str = "pointy") -> None:
        from opentelemetry import trace

        self._trace = trace
        self.tracer = trace.get_tracer(tracer_name, tracer_provider=tracer_provider)
        self._runs: dict[str, Any] = {}  # run id -> [span, last end]

    def _run_span(self, metrics: EventMetrics) -> Any:
        held = self._runs.get(metrics.run_id)
        if held is None:
            start = metrics.start_time if metrics.start_time is not None else metrics.end_time
            span = self.tracer.start_span(
                f"run {metrics.pipeline or metrics.run_id}",
                start_time=_nanos((start or 0.0) - metrics.wait),
                attributes={"pointy.run_id": metrics.run_id, "pointy.pipeline": metrics.pipeline},
            )
            held = self._runs[metrics.run_id] = [span, 0.0]
        return held

    def publish_event_metrics(self, metrics: EventMetrics) -> None:
        held = self._run_span(metrics)
        if metrics.status == "cached":
            self._cache_hit(held, metrics)
            return
        parent = self._trace.set_span_in_context(held[0])
        start = metrics.start_time if metrics.start_time is not None else metrics.end_time
        end = metrics.end_time if metrics.end_time is not None else start
        attributes: dict[str, Any] = {
            "pointy.node": metrics.task_id,
            "pointy.state": metrics.status,
            "pointy.attempt": metrics.attempt,
            "pointy.worker": metrics.worker,
            "pointy.executor": metrics.executor,
            "pointy.wait": metrics.wait,
        }
        if metrics.error is not None:
            attributes["pointy.error"] = metrics.error
        span = self.tracer.start_span(
            metrics.event_name, context=parent, start_time=_nanos(start or 0.0),
            attributes=attributes,
        )  # fmt: skip
        if metrics.status == "failed":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, metrics.error))
        span.end(end_time=_nanos(end or 0.0))
        held[1] = max(held[1], end or 0.0)

    @staticmethod
    def _cache_hit(held: list[Any], metrics: EventMetrics) -> None:
        """A span event on the run's span, not a span: the event did not run, it took no time."""
        attributes: dict[str, Any] = {
            "pointy.node": metrics.task_id,
            "pointy.event": metrics.event_name,
            "pointy.state": "cached",
        }
        if metrics.cached_duration is not None:
            attributes["pointy.cached_duration"] = metrics.cached_duration
        if metrics.computed is not None:
            attributes["pointy.computed"] = metrics.computed
        time = metrics.end_time or 0.0
        held[0].add_event(f"cached {metrics.event_name}", attributes, timestamp=_nanos(time))
        held[1] = max(held[1], time)

    def publish_network_metrics(self, metrics: NetworkMetrics) -> None:
        """Network calls arrive when their run ended: they close the run's span."""

    def end_run(self, run_id: str, state: str, time: float) -> None:
        held = self._runs.pop(run_id, None)
        if held is not None:
            held[0].set_attribute("pointy.state", state)
            held[0].end(end_time=_nanos(max(time, held[1])))

    def close(self) -> None:
        for run_id, held in list(self._runs.items()):
            self.end_run(run_id, "unfinished", held[1])
