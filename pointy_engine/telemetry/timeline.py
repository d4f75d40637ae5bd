"""A run's timeline: one lane per worker, a bar per attempt, retry waits as gaps, critical path.

`timeline_layout(records)` is pure and JSON-shaped (the widget's timeline tab can draw it);
`Timeline` renders the same layout as a static SVG for saved notebooks and reports.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attempts import fold_attempts
from .critical import critical_steps

if TYPE_CHECKING:
    from ..graph import Graph
    from ..records import Record
    from ..run import Run

STATE_COLOURS = {  # fill, with dark text on each (WCAG AA)
    "succeeded": "#8fd19e",
    "failed": "#f4a3a3",
    "retrying": "#f7c873",
    "cancelled": "#c8c8c8",
    "running": "#9cc3f0",
}


def timeline_layout(
    records: Sequence[Record], now: float | None = None, graph: Graph | None = None
) -> dict[str, Any]:
    """The timeline of `records` as plain data; times are seconds from `origin` (epoch s).

    - `lanes`: workers in the order they first ran something.
    - `bars`: one per attempt: node, event, attempt, state, lane index, start, end, error.
      A running attempt ends at `now` (default: the last record's time).
    - `waits`: the retry delay before each retried attempt, in the lane of the attempt before.
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
    previous: dict[str, dict[str, Any]] = {}
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
    steps = critical_steps(records, graph, now=last)
    return {
        "version": 1,
        "origin": origin,
        "end": last - origin,
        "lanes": lanes,
        "bars": bars,
        "waits": waits,
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


# Theme-aware in a notebook (JupyterLab's variables), with light fallbacks in a saved file.
_TEXT = "var(--jp-ui-font-color1, #1f1f1f)"
_MUTED = "var(--jp-ui-font-color2, #555555)"
_STRONG = "var(--jp-ui-font-color0, #000000)"
_BACKGROUND = "var(--jp-layout-color0, #ffffff)"
_RULE = "var(--jp-border-color2, #e0e0e0)"
_BAR_TEXT = "#1a1a1a"  # bars keep their light fills in every theme
LEGEND = ("succeeded", "retrying", "failed", "cancelled", "running")


def _seconds(value: float) -> str:
    if value == 0:
        return "0 s"
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.1f} s".replace(".0 s", " s")
    if value >= 0.001:
        return f"{value * 1e3:.0f} ms"
    return f"{value * 1e6:.0f} µs"


def _ticks(span: float, most: int = 6) -> list[float]:
    """Round tick positions from 0 to `span` seconds, at most `most` + 1 of them."""
    if span <= 0:
        return [0.0]
    step = 10 ** math.floor(math.log10(span / most))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= most:
            step *= factor
            break
    count = int(span / step + 1e-9)
    return [index * step for index in range(count + 1)]


def _path_text(nodes: list[str], limit: int = 90) -> str:
    text = " → ".join(nodes)
    if len(text) <= limit or len(nodes) <= 4:
        return text
    return f"{' → '.join(nodes[:2])} → … ({len(nodes) - 4} more) → {' → '.join(nodes[-2:])}"


class Timeline:
    """A run's timeline: `_repr_svg_`/`_repr_html_` in notebooks, `save(path)` (.svg or .html)."""

    LANE = 24
    LABEL = 150
    WIDTH = 760
    TOP = 56  # title, critical path line and legend above the lanes
    MIN_BAR = 6.0  # px

    def __init__(self, layout: dict[str, Any], title: str = "") -> None:
        self.layout = layout
        self.title = title

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

    def _x(self, seconds: float) -> float:
        span = self.layout["end"] or 1.0
        return self.LABEL + (self.WIDTH - self.LABEL - 30) * seconds / span  # room for instants

    def _lane_middle(self, lane: int) -> float:
        return self.TOP + lane * self.LANE + self.LANE / 2

    def to_svg(self) -> str:
        layout = self.layout
        lanes = layout["lanes"]
        bottom = self.TOP + self.LANE * max(len(lanes), 1)
        height = bottom + 30
        critical = set(layout["critical_path"])
        text = f'style="fill: {_TEXT}"'
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.WIDTH}" height="{height}" '
            f'viewBox="0 0 {self.WIDTH} {height}" font-family="sans-serif" font-size="11" '
            f'class="pointy-timeline">',
            f'<rect width="{self.WIDTH}" height="{height}" style="fill: {_BACKGROUND}"/>',
            f'<text x="4" y="16" font-weight="bold" {text}>{html.escape(self.title)}</text>',
        ]
        steps = layout.get("critical_steps", [])
        if steps:
            span = steps[-1]["end"] - steps[0]["start"]
            summary = f"critical path ({_seconds(span)}): {_path_text(layout['critical_path'])}"
            parts.append(
                f'<text x="4" y="32" class="pointy-critical-summary" {text}>'
                f"{html.escape(summary)}</text>"
            )
        x = 4.0
        for state in LEGEND:
            parts.append(
                f'<rect x="{x:.0f}" y="39" width="10" height="10" fill="{STATE_COLOURS[state]}"/>'
                f'<text x="{x + 14:.0f}" y="48" {text}>{state}</text>'
            )
            x += 24 + 6.2 * len(state)
        parts.append(
            f'<rect x="{x:.0f}" y="39" width="10" height="10" fill="none" '
            f'style="stroke: {_STRONG}" stroke-width="1.5"/>'
            f'<text x="{x + 14:.0f}" y="48" {text}>on the critical path</text>'
        )
        x += 24 + 6.2 * len("on the critical path")
        parts.append(
            f'<line x1="{x:.0f}" y1="44" x2="{x + 16:.0f}" y2="44" style="stroke: {_MUTED}" '
            f'stroke-dasharray="3,2"/><text x="{x + 20:.0f}" y="48" {text}>retry wait</text>'
        )
        for index, worker in enumerate(lanes):
            y = self.TOP + index * self.LANE
            label = worker if len(worker) <= 22 else worker[:21] + "…"
            parts.append(
                f'<line x1="4" y1="{y + self.LANE}" x2="{self.WIDTH - 4}" y2="{y + self.LANE}" '
                f'style="stroke: {_RULE}"/>'
                f'<text x="4" y="{y + 16}" {text}><title>{html.escape(worker)}</title>'
                f"{html.escape(label)}</text>"
            )
        for tick in _ticks(layout["end"]):
            tx = self._x(tick)
            parts.append(
                f'<line x1="{tx:.1f}" y1="{self.TOP - 2}" x2="{tx:.1f}" y2="{bottom + 4}" '
                f'style="stroke: {_RULE}"/>'
                f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f"{text}>{_seconds(tick)}</text>"
            )
        parts.extend(self._critical_links(steps))
        right: dict[int, float] = {}  # lane -> right edge of the last bar drawn in it
        for bar in layout["bars"]:
            parts.append(self._bar(bar, bar["node"] in critical, right))
        for wait in layout["waits"]:
            y = self._lane_middle(wait["lane"])
            x0, x1 = self._x(wait["start"]), self._x(wait["end"])
            parts.append(
                f'<line x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" style="stroke: {_MUTED}" '
                f'stroke-dasharray="3,2" data-wait="{html.escape(wait["node"])}">'
                f"<title>waited {wait['delay']:.3f} s before retrying</title></line>"
            )
            label = _seconds(wait["delay"])
            if x1 - x0 > 6.2 * len(label) + 4:
                parts.append(
                    f'<text x="{(x0 + x1) / 2:.1f}" y="{y - 3}" text-anchor="middle" '
                    f'font-size="9" style="fill: {_MUTED}">{label}</text>'
                )
        parts.append(
            f'<text x="{self.WIDTH - 4}" y="{height - 2}" text-anchor="end" font-size="9" '
            f'style="fill: {_MUTED}">run took {layout["end"]:.3f} s</text>'
        )
        parts.append("</svg>")
        return "".join(parts)

    def _bar(self, bar: dict[str, Any], on_path: bool, right: dict[int, float]) -> str:
        lane = bar["lane"]
        y = self.TOP + lane * self.LANE + 3
        x0, x1 = self._x(bar["start"]), self._x(bar["end"])
        # An instant attempt still shows its state's colour (its tooltip has the exact time);
        # instants in a row are set side by side, up to two widths past where they fell, so
        # a failure between two successes is not hidden under them.
        width = max(x1 - x0, self.MIN_BAR)
        before = right.get(lane)
        if before is not None and x0 < before + 1 and x1 - x0 < self.MIN_BAR:
            x0 = min(before + 1, x0 + 2 * self.MIN_BAR)
        right[lane] = x0 + width
        stroke = f' style="stroke: {_STRONG}" stroke-width="1.5"' if on_path else ""
        tip = f"{bar['event']} attempt {bar['attempt']}: {bar['state']}, "
        tip += f"{bar['end'] - bar['start']:.3f} s"
        if bar["error"]:
            tip += f" ({bar['error']})"
        if on_path:
            tip += ", on the critical path"
        shape = (
            f'<rect x="{x0:.1f}" y="{y}" width="{width:.1f}" height="{self.LANE - 6}" '
            f'fill="{STATE_COLOURS.get(bar["state"], "#dddddd")}"{stroke} '
            f'data-node="{html.escape(bar["node"])}" data-state="{bar["state"]}" '
            f'data-critical="{str(on_path).lower()}"><title>{html.escape(tip)}</title></rect>'
        )
        name = bar["event"] if bar["attempt"] == 1 else f"{bar['event']} #{bar['attempt']}"
        if width > 6.2 * len(name) + 8:
            shape += (
                f'<text x="{x0 + 4:.1f}" y="{y + 13}" fill="{_BAR_TEXT}" '
                f'pointer-events="none">{html.escape(name)}</text>'
            )
        return shape

    def _critical_links(self, steps: list[dict[str, Any]]) -> list[str]:
        """A thin line from each critical step's end to the next one's start, across lanes."""
        lane_at: dict[tuple[str, str], int] = {}
        for bar in self.layout["bars"]:
            lane_at.setdefault((bar["node"], "first"), bar["lane"])
            lane_at[(bar["node"], "last")] = bar["lane"]
        links = []
        for before, after in itertools.pairwise(steps):
            y0 = self._lane_middle(lane_at[(before["node"], "last")])
            y1 = self._lane_middle(lane_at[(after["node"], "first")])
            if y0 == y1:
                continue  # side by side in one lane: the outlines already join
            links.append(
                f'<line x1="{self._x(before["end"]):.1f}" y1="{y0}" '
                f'x2="{self._x(after["start"]):.1f}" y2="{y1}" style="stroke: {_STRONG}" '
                f'stroke-width="1.5" class="pointy-critical-link"/>'
            )
        return links

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
