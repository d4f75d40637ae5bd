"""A run's timeline: one lane per worker, a bar per attempt, retry waits as gaps, critical path.

`timeline_layout(records)` is pure and JSON-shaped (the widget's timeline tab can draw it);
`Timeline` renders the same layout as a static SVG for saved notebooks and reports.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attempts import fold_attempts

if TYPE_CHECKING:
    from ..records import Record
    from ..run import Run

STATE_COLOURS = {  # fill, with dark text on each (WCAG AA)
    "succeeded": "#8fd19e",
    "failed": "#f4a3a3",
    "retrying": "#f7c873",
    "cancelled": "#c8c8c8",
    "running": "#9cc3f0",
}
_EPSILON = 1e-6


def timeline_layout(records: Sequence[Record], now: float | None = None) -> dict[str, Any]:
    """The timeline of `records` as plain data; times are seconds from `origin` (epoch s).

    - `lanes`: workers in the order they first ran something.
    - `bars`: one per attempt: node, event, attempt, state, lane index, start, end, error.
      A running attempt ends at `now` (default: the last record's time).
    - `waits`: the retry delay before each retried attempt, in the lane of the attempt before.
    - `critical_path`: node ids, first to last: from the node that ended last, each step goes
      back to the node that ended last before it started (what it was waiting for).
    """
    records = list(records)
    origin = records[0].time if records else 0.0
    last = now if now is not None else (records[-1].time if records else origin)
    lanes: list[str] = []
    bars: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] = {}
    first_start: dict[str, float] = {}
    final_end: dict[str, float] = {}
    for attempt in fold_attempts(records):
        if attempt.started is None:
            continue  # reused by a re-run: it did not run here
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
        first_start.setdefault(attempt.node, attempt.started)
        final_end[attempt.node] = end
    return {
        "version": 1,
        "origin": origin,
        "end": last - origin,
        "lanes": lanes,
        "bars": bars,
        "waits": waits,
        "critical_path": _critical_path(first_start, final_end),
    }


def _critical_path(first_start: dict[str, float], final_end: dict[str, float]) -> list[str]:
    if not final_end:
        return []
    order = {node: index for index, node in enumerate(final_end)}

    def latest(node: str) -> tuple[float, float, int]:  # ties: the one that started later
        return final_end[node], first_start[node], order[node]

    node = max(final_end, key=latest)
    path = [node]
    seen = {node}
    while True:
        start = first_start[node]
        earlier = [n for n, end in final_end.items() if end <= start + _EPSILON and n not in seen]
        if not earlier:
            break
        node = max(earlier, key=latest)
        path.append(node)
        seen.add(node)
    path.reverse()
    return path


class Timeline:
    """A run's timeline: `_repr_svg_`/`_repr_html_` in notebooks, `save(path)` (.svg or .html)."""

    LANE = 24
    LABEL = 150
    WIDTH = 760
    TOP = 28

    def __init__(self, layout: dict[str, Any], title: str = "") -> None:
        self.layout = layout
        self.title = title

    @classmethod
    def of(cls, run: Run) -> Timeline:
        return cls(timeline_layout(run.stream.records), run.name or f"run {run.id}")

    def __repr__(self) -> str:
        layout = self.layout
        return (
            f"<Timeline {self.title!r}: {len(layout['bars'])} attempts on "
            f"{len(layout['lanes'])} workers, {layout['end']:.3f} s>"
        )

    def _x(self, seconds: float) -> float:
        span = self.layout["end"] or 1.0
        return self.LABEL + (self.WIDTH - self.LABEL - 10) * seconds / span

    def to_svg(self) -> str:
        layout = self.layout
        lanes = layout["lanes"]
        height = self.TOP + self.LANE * max(len(lanes), 1) + 24
        critical = set(layout["critical_path"])
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.WIDTH}" height="{height}" '
            f'font-family="sans-serif" font-size="11" class="pointy-timeline">',
            f'<text x="4" y="16" font-weight="bold">{html.escape(self.title)}</text>',
        ]
        for index, worker in enumerate(lanes):
            y = self.TOP + index * self.LANE
            label = worker if len(worker) <= 22 else worker[:21] + "…"
            parts.append(
                f'<text x="4" y="{y + 15}"><title>{html.escape(worker)}</title>'
                f"{html.escape(label)}</text>"
            )
        for bar in layout["bars"]:
            y = self.TOP + bar["lane"] * self.LANE + 3
            x0, x1 = self._x(bar["start"]), self._x(bar["end"])
            stroke = ' stroke="#222" stroke-width="2"' if bar["node"] in critical else ""
            tip = f"{bar['event']} attempt {bar['attempt']}: {bar['state']}, "
            tip += f"{bar['end'] - bar['start']:.3f} s"
            if bar["error"]:
                tip += f" ({bar['error']})"
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1.5):.1f}" '
                f'height="{self.LANE - 6}" fill="{STATE_COLOURS.get(bar["state"], "#ddd")}"'
                f'{stroke} data-node="{html.escape(bar["node"])}" '
                f'data-state="{bar["state"]}"><title>{html.escape(tip)}</title></rect>'
            )
        for wait in layout["waits"]:
            y = self.TOP + wait["lane"] * self.LANE + self.LANE // 2
            x0, x1 = self._x(wait["start"]), self._x(wait["end"])
            parts.append(
                f'<line x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" stroke="#555" '
                f'stroke-dasharray="3,2" data-wait="{html.escape(wait["node"])}">'
                f"<title>waited {wait['delay']:.3f} s before retrying</title></line>"
            )
        axis = self.TOP + self.LANE * max(len(lanes), 1) + 14
        parts.append(f'<text x="{self.LABEL}" y="{axis}">0 s</text>')
        parts.append(
            f'<text x="{self.WIDTH - 10}" y="{axis}" text-anchor="end">{layout["end"]:.3f} s</text>'
        )
        parts.append("</svg>")
        return "".join(parts)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        return f'<div class="pointy-timeline">{self.to_svg()}</div>'

    def save(self, path: str | Path) -> Path:
        """Write the SVG (or, for a .html path, a page holding it)."""
        path = Path(path)
        text = self._repr_html_() if path.suffix.lower() in (".html", ".htm") else self.to_svg()
        path.write_text(text, encoding="utf-8")
        return path
