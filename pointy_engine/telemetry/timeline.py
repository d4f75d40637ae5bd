"""A run's timeline: one lane per worker, a bar per attempt, retry waits as gaps, critical path.

`timeline_layout(records)` is pure and JSON-shaped (the widget's timeline tab draws it in the
browser, with no plotting library); `Timeline` draws the same layout with matplotlib (the
`telemetry` extra) as a static SVG, PNG or PDF for saved notebooks and reports.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PointyError
from .attempts import fold_attempts
from .critical import critical_steps

if TYPE_CHECKING:
    from ..graph import Graph
    from ..records import Record
    from ..run import Run


def timeline_layout(
    records: Sequence[Record], now: float | None = None, graph: Graph | None = None
) -> dict[str, Any]:
    """The timeline of `records` as plain data; times are seconds from `origin` (epoch s).

    - `lanes`: workers in the order they first ran something.
    - `bars`: one per attempt: node, event, attempt, state, lane index, start, end, error.
      A running attempt ends at `now` (default: the last record's time).
    - `waits`: the retry delay before each retried attempt, in the lane of the attempt before.
    - `cached`: steps whose value came from the cache (they ran nowhere): node, event, `at`
      (when they settled) and `original_duration` (what the event took when it ran).
    - `critical_path`: node ids, first to last, and `critical_steps` with each one's start,
      end and gap (see `critical.py`): from the run's `graph` when given, else from
      times alone (what ended last before each step started).
    """
    records = list(records)
    origin = records[0].time if records else 0.0
    last = now if now is not None else (records[-1].time if records else origin)
    lanes: list[str] = []
    bars: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    cached: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] = {}
    sources = {r.node: r.origin for r in records if r.state == "cached" and r.origin is not None}
    for attempt in fold_attempts(records):
        if attempt.started is None:
            if attempt.state == "cached" and attempt.finished is not None:
                source = sources.get(attempt.node)
                cached.append(
                    {
                        "node": attempt.node,
                        "event": attempt.event,
                        "at": attempt.finished - origin,
                        "original_duration": source.duration if source else None,
                    }
                )
            continue  # reused by a re-run or taken from the cache: it did not run here
        worker = attempt.worker or "?"
        if worker not in lanes:
            lanes.append(worker)
        end = attempt.finished if attempt.finished is not None else last
        bar = {
            "node": attempt.node,
            "event": attempt.event,
            "attempt": attempt.attempt,
            "state": attempt.state,
            "lane": lanes.index(worker),
            "start": attempt.started - origin,
            "end": end - origin,
            "error": f"{attempt.error_type}: {attempt.error_message}"
            if attempt.error_type
            else None,
        }
        before = previous.get(attempt.node)
        if before is not None and attempt.wait > 0:
            waits.append(
                {
                    "node": attempt.node,
                    "lane": before["lane"],
                    "start": before["end"],
                    "end": bar["start"],
                    "delay": attempt.wait,
                }
            )
        previous[attempt.node] = bar
        bars.append(bar)
    steps = critical_steps(records, graph, now=last)
    return {
        "version": 1,
        "origin": origin,
        "end": last - origin,
        "lanes": lanes,
        "bars": bars,
        "waits": waits,
        "cached": cached,
        "critical_path": [step.node for step in steps],
        "critical_steps": [
            {
                "node": step.node,
                "start": step.start - origin,
                "end": step.end - origin,
                "gap": step.gap,
            }
            for step in steps
        ],
    }


MATPLOTLIB_HINT = (
    "a static timeline is drawn with matplotlib, which is not installed: "
    "pip install 'pointy[telemetry]' (the live widget's Timeline tab needs nothing more)"
)
SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def _figure_module() -> Any:
    """`timeline_figure`, or one clear PointyError when matplotlib is missing."""
    try:
        from . import timeline_figure
    except ImportError as error:
        if (error.name or "").split(".")[0] != "matplotlib":
            raise
        raise PointyError(MATPLOTLIB_HINT) from None
    return timeline_figure


class Timeline:
    """A run's timeline drawn with matplotlib: SVG in notebooks, `save(path)` as .svg/.png/.pdf.

    `figure()` gives the matplotlib Figure itself (a new one each call) to restyle or embed.
    """

    def __init__(self, layout: dict[str, Any], title: str = "") -> None:
        self._draw = _figure_module()  # fail here, where the user asked for it
        self.layout = layout
        self.title = title
        self._svg: str | None = None

    @classmethod
    def of(cls, run: Run) -> Timeline:
        return cls(
            timeline_layout(run.stream.records, graph=run.graph), run.name or f"run {run.id}"
        )

    def __repr__(self) -> str:
        layout = self.layout
        return (
            f"<Timeline {self.title!r}: {len(layout['bars'])} attempts on "
            f"{len(layout['lanes'])} workers, {layout['end']:.3f} s>"
        )

    def figure(self) -> Any:
        """A new `matplotlib.figure.Figure` of this timeline (no pyplot state involved)."""
        return self._draw.timeline_figure(self.layout, self.title)[0]

    def _render(self, format: str) -> bytes:
        figure, tips = self._draw.timeline_figure(self.layout, self.title)
        return self._draw.render(figure, tips, format)

    def to_svg(self) -> str:
        """The SVG text, starting at `<svg` (same layout, same bytes: saved notebooks stay put)."""
        if self._svg is None:
            self._svg = self._render("svg").decode("utf-8")
        return self._svg

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        return f'<div class="pointy-timeline">{self.to_svg()}</div>'

    def save(self, path: str | Path) -> Path:
        """Write the timeline as the path's suffix says: .svg, .png, .pdf (or .html, a page)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            path.write_text(
                f'<!DOCTYPE html>\n<meta charset="utf-8">\n<title>{html.escape(self.title)}'
                f"</title>\n{self._repr_html_()}\n",
                encoding="utf-8",
            )
            return path
        format = SUFFIXES.get(suffix)
        if format is None:
            raise PointyError(
                f"cannot save a timeline as {path.name!r}: the suffix must be one of "
                ".svg, .png, .pdf or .html"
            )
        path.write_bytes(self.to_svg().encode("utf-8") if format == "svg" else self._render(format))
        return path
