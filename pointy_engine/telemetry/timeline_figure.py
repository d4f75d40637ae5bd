"""A timeline layout drawn as a matplotlib Figure (object-oriented API, no pyplot, no GUI).

Only `Timeline` imports this module, so importing Pointy never imports matplotlib. The figure
has its own opaque light card, so a saved SVG reads the same on a white report and in a dark
notebook; every colour pair below is checked for contrast in tests/test_telemetry_timeline.py.
Artists carry `gid`s (`pointy-attempt-N`, `pointy-wait-N`, ...), which the SVG writes as
`<g id=...>`, so tests and browsers can find each bar.
"""

from __future__ import annotations

import io
import itertools
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..palette import STATE_COLOURS as PALETTE

# The states an attempt bar can be in, in the palette of every static picture.
LEGEND_STATES = ("succeeded", "retrying", "failed", "cancelled", "running", "cached")
STATE_COLOURS = {state: PALETTE[state] for state in LEGEND_STATES}
UNKNOWN_STATE = PALETTE["pending"]
BACKGROUND = "#ffffff"  # the card: opaque, so the colours do not depend on the page behind
BORDER = "#d0d7de"
TEXT = "#1f2328"
MUTED = "#57606a"  # 6.4:1 on the card
RULE = "#d8dee4"
CRITICAL = "#1f2328"  # the critical path's outline and links
WAIT_LINE = "#8a4b00"  # the retrying text colour: 7:1 on the card
CACHE_LANE = "cache (not run)"
UNKNOWN_WORKER = "(worker not known)"  # a timed-out attempt never said where it ran

WIDTH_INCHES = 9.0
LANE_INCHES = 0.34
HEADER_INCHES = 0.95  # title, critical path line, legend
FOOTER_INCHES = 0.5  # the time axis
LABEL_INCHES = 1.55  # lane names
BAR_HEIGHT = 0.62  # of a lane
MIN_BAR = 0.014  # of the span: an instant attempt still shows its colour
# Past this many attempts the bars of one state are one artist (no tooltip per bar): matplotlib
# spends milliseconds on each artist it draws.
MANY_BARS = 150
FONT_SIZE = 9.0
CHAR_INCHES = 0.0085 * FONT_SIZE  # a rough average glyph width, to decide what fits in a bar

# Deterministic, small SVG: no date, no creator line, fixed ids, text kept as text (the
# viewer's sans-serif font draws it; DejaVu Sans measures it here).
RC = {
    "svg.hashsalt": "pointy-timeline",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "text.parse_math": False,  # names and titles are plain text: "$5" is not TeX
}
_STYLE_LOCK = threading.RLock()
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    "png": {"Software": None},
}


def seconds_text(value: float) -> str:
    if value == 0:
        return "0 s"
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.1f} s".replace(".0 s", " s")
    if value >= 0.001:
        return f"{value * 1e3:.0f} ms"
    return f"{value * 1e6:.0f} µs"


def path_text(nodes: list[str], limit: int = 110) -> str:
    text = " → ".join(nodes)
    if len(text) <= limit or len(nodes) <= 4:
        return text
    return f"{' → '.join(nodes[:2])} → … ({len(nodes) - 4} more) → {' → '.join(nodes[-2:])}"


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def attempt_tip(bar: dict[str, Any], on_path: bool) -> str:
    tip = f"{bar['event']} attempt {bar['attempt']}: {bar['state']}, "
    tip += f"{bar['end'] - bar['start']:.3f} s"
    if bar["error"]:
        tip += f" ({bar['error']})"
    if on_path:
        tip += ", on the critical path"
    return tip


def timeline_figure(layout: dict[str, Any], title: str) -> tuple[Figure, dict[str, str]]:
    """The figure, and a tooltip text per artist gid (the SVG writer adds them as <title>)."""
    with _pointy_style():  # fonts and sizes are chosen when each artist is made
        return _timeline_figure(layout, title)


@contextmanager
def _pointy_style() -> Iterator[None]:
    """matplotlib's defaults plus RC, whatever style the user's kernel set for its own plots."""
    import matplotlib
    import matplotlib.style

    # rcParams are process-wide: two timelines drawn at once (a scheduled run's and a cell's)
    # must not restore each other's settings halfway.
    with _STYLE_LOCK, matplotlib.style.context("default"), matplotlib.rc_context(RC):
        yield


def _timeline_figure(layout: dict[str, Any], title: str) -> tuple[Figure, dict[str, str]]:
    lanes = list(layout["lanes"])
    cached = layout.get("cached", [])
    if cached:
        lanes.append(CACHE_LANE)
    rows = max(len(lanes), 1)
    height = HEADER_INCHES + FOOTER_INCHES + LANE_INCHES * rows
    figure = Figure(figsize=(WIDTH_INCHES, height), facecolor=BACKGROUND, edgecolor=BORDER)
    figure.patch.set_linewidth(1.0)
    figure.patch.set_gid("pointy-timeline-card")
    axes = figure.add_axes(
        (
            LABEL_INCHES / WIDTH_INCHES,
            FOOTER_INCHES / height,
            1 - (LABEL_INCHES + 0.25) / WIDTH_INCHES,
            LANE_INCHES * rows / height,
        )
    )
    span = layout["end"] or 1.0
    axes.set_ylim(rows - 0.5, -0.5)  # the first lane on top
    axes.set_facecolor(BACKGROUND)
    names = [UNKNOWN_WORKER if lane == "?" else _short(lane) for lane in lanes]
    axes.set_yticks(range(len(lanes)), names, fontsize=FONT_SIZE)
    axes.tick_params(colors=MUTED, labelcolor=TEXT, labelsize=FONT_SIZE, length=3)
    axes.tick_params(axis="y", length=0)
    axes.set_xlabel("seconds from the run's start", fontsize=FONT_SIZE, color=MUTED)
    axes.grid(axis="x", color=RULE, linewidth=0.6)
    axes.set_axisbelow(True)
    for name, spine in axes.spines.items():
        spine.set_visible(name == "bottom")
        spine.set_color(MUTED)
    for lane in range(1, rows):
        axes.axhline(lane - 0.5, color=RULE, linewidth=0.6)
    bar_inches = WIDTH_INCHES - LABEL_INCHES - 0.25
    tips: dict[str, str] = {}
    critical = set(layout["critical_path"])
    placed = _draw_bars(axes, layout["bars"], critical, span, bar_inches, tips)
    _draw_waits(axes, layout["waits"], tips)
    _draw_cached(axes, cached, len(lanes) - 1, span, tips)
    _draw_critical_links(axes, layout.get("critical_steps", []), placed)
    # Instants drawn at their minimum width may reach past the run's end: keep them in view.
    right = max([span, *(end for _, end, _ in placed.values())])
    right = max([right, *(hit["at"] + 2 * MIN_BAR * span for hit in cached)])
    axes.set_xlim(0, right * 1.02)
    _draw_header(figure, layout, title, height)
    return figure, tips


def _draw_bars(
    axes: Any,
    bars: list[dict[str, Any]],
    critical: set[str],
    span: float,
    bar_inches: float,
    tips: dict[str, str],
) -> dict[tuple[str, int], tuple[float, float, int]]:
    """A rectangle per attempt; returns (node, attempt) -> (left, right, lane) as drawn."""
    smallest = MIN_BAR * span
    right_edge: dict[int, float] = {}
    placed: dict[tuple[str, int], tuple[float, float, int]] = {}
    many = len(bars) > MANY_BARS
    label_end: dict[int, float] = {}
    by_state: dict[str, list[tuple[float, float, int, bool]]] = {}
    for index, bar in enumerate(bars):
        lane, start, end = bar["lane"], bar["start"], bar["end"]
        width = max(end - start, smallest)
        # Instants in a row are set side by side (up to two widths past where they fell),
        # so a failure between two successes is not hidden under them.
        before = right_edge.get(lane)
        if before is not None and start < before + smallest / 6 and end - start < smallest:
            start = min(before + smallest / 6, start + 2 * smallest)
        right_edge[lane] = start + width
        fill, line, text = STATE_COLOURS.get(bar["state"], UNKNOWN_STATE)
        on_path = bar["node"] in critical
        placed[(bar["node"], bar["attempt"])] = (start, start + width, lane)
        if many:
            by_state.setdefault(bar["state"], []).append((start, width, lane, on_path))
        else:
            gid = f"pointy-attempt-{index}"
            axes.add_patch(
                Rectangle(
                    (start, lane - BAR_HEIGHT / 2),
                    width,
                    BAR_HEIGHT,
                    facecolor=fill,
                    edgecolor=CRITICAL if on_path else line,
                    linewidth=1.5 if on_path else 0.8,
                    gid=gid,
                )
            )
            tips[gid] = attempt_tip(bar, on_path)
        # Attempts in the widget's notation (`↻2`: the second attempt).
        name = bar["event"] if bar["attempt"] == 1 else f"{bar['event']} ↻{bar['attempt']}"
        needed = (CHAR_INCHES * len(name) + 0.08) / bar_inches * span * 1.02  # in seconds
        # A label only where it fits in its bar and does not run into the lane's last label.
        if width > needed and start >= label_end.get(lane, -math.inf):
            label_end[lane] = start + needed
            axes.text(
                start + span * 0.004, lane, name, color=text, fontsize=FONT_SIZE,
                va="center", ha="left", gid=f"pointy-attempt-label-{index}",
            )  # fmt: skip
    for state, shapes in by_state.items():
        _draw_bar_collection(axes, state, shapes)
    return placed


def _draw_bar_collection(
    axes: Any, state: str, shapes: list[tuple[float, float, int, bool]]
) -> None:
    """The bars of one state as one artist: a big run draws in a second, not in minutes."""
    from matplotlib.collections import PolyCollection

    fill, line, _ = STATE_COLOURS.get(state, UNKNOWN_STATE)
    low, high = -BAR_HEIGHT / 2, BAR_HEIGHT / 2
    axes.add_collection(
        PolyCollection(
            [
                ((x, lane + low), (x + w, lane + low), (x + w, lane + high), (x, lane + high))
                for x, w, lane, _ in shapes
            ],
            facecolors=fill,
            edgecolors=[CRITICAL if on_path else line for *_, on_path in shapes],
            linewidths=[1.5 if on_path else 0.8 for *_, on_path in shapes],
            gid=f"pointy-attempts-{state}",
        ),
        autolim=False,
    )


def _draw_waits(axes: Any, waits: list[dict[str, Any]], tips: dict[str, str]) -> None:
    """A retry wait: a dashed line across the gap, its delay written above it."""
    for index, wait in enumerate(waits):
        lane, start, end = wait["lane"], wait["start"], wait["end"]
        gid = f"pointy-wait-{index}"
        axes.add_line(
            Line2D(
                (start, end), (lane, lane), color=WAIT_LINE, linewidth=1.2,
                linestyle=(0, (3, 2)), gid=gid,
            )
        )  # fmt: skip
        tips[gid] = f"{wait['node']} waited {wait['delay']:.3f} s before retrying"
        axes.text(
            (start + end) / 2, lane - BAR_HEIGHT / 2 + 0.02, f"wait {seconds_text(wait['delay'])}",
            color=WAIT_LINE, fontsize=FONT_SIZE - 1, ha="center", va="bottom",
            gid=f"pointy-wait-label-{index}",
        )  # fmt: skip


def _draw_cached(
    axes: Any, cached: list[dict[str, Any]], lane: int, span: float, tips: dict[str, str]
) -> None:
    """A cache hit ran nowhere: a hatched mark in its own lane, at the time it settled."""
    fill, line, text = STATE_COLOURS["cached"]
    width = MIN_BAR * span * 2
    for index, hit in enumerate(cached):
        gid = f"pointy-cached-{index}"
        axes.add_patch(
            Rectangle(
                (hit["at"], lane - BAR_HEIGHT / 2), width, BAR_HEIGHT, facecolor=fill,
                edgecolor=line, hatch="////", linewidth=0.8, gid=gid,
            )
        )  # fmt: skip
        took = hit.get("original_duration")
        tips[gid] = f"{hit['event']}: cached" + (
            f" (took {took:.3f} s when it ran)" if took is not None else ""
        )
        axes.text(
            hit["at"] + width + span * 0.004, lane, hit["event"], color=text,
            fontsize=FONT_SIZE, va="center", ha="left", gid=f"pointy-cached-label-{index}",
        )  # fmt: skip


def _draw_critical_links(
    axes: Any,
    steps: list[dict[str, Any]],
    placed: dict[tuple[str, int], tuple[float, float, int]],
) -> None:
    """A line from each critical step's last attempt to the next step's first, across lanes."""
    first: dict[str, tuple[float, float, int]] = {}
    last: dict[str, tuple[float, float, int]] = {}
    for (node, _attempt), where in placed.items():
        first.setdefault(node, where)
        last[node] = where
    for index, (before, after) in enumerate(itertools.pairwise(steps)):
        if before["node"] not in last or after["node"] not in first:
            continue
        _, x0, lane0 = last[before["node"]]
        x1, _, lane1 = first[after["node"]]
        if lane0 == lane1:
            continue  # side by side in one lane: the outlines already join
        axes.add_line(
            Line2D(
                (x0, x1), (lane0, lane1), color=CRITICAL, linewidth=1.2,
                gid=f"pointy-critical-link-{index}",
            )
        )  # fmt: skip


def _draw_header(figure: Figure, layout: dict[str, Any], title: str, height: float) -> None:
    def top(inches: float) -> float:
        return 1 - inches / height

    left = 0.1 / WIDTH_INCHES
    figure.text(
        left, top(0.1), title, fontsize=FONT_SIZE + 2, fontweight="bold", color=TEXT,
        va="top", gid="pointy-timeline-title",
    )  # fmt: skip
    steps = layout.get("critical_steps", [])
    if steps:
        span = steps[-1]["end"] - steps[0]["start"]
        summary = f"critical path ({seconds_text(span)}): {path_text(layout['critical_path'])}"
        figure.text(
            left, top(0.33), summary, fontsize=FONT_SIZE, color=TEXT, va="top",
            gid="pointy-critical-summary",
        )  # fmt: skip
    figure.text(
        1 - left, top(0.1), f"run took {layout['end']:.3f} s", fontsize=FONT_SIZE, color=MUTED,
        va="top", ha="right", gid="pointy-timeline-took",
    )  # fmt: skip
    figure.legend(
        handles=legend_handles(layout), loc="upper left", bbox_to_anchor=(0, top(0.5)),
        ncols=9, frameon=False, fontsize=FONT_SIZE, labelcolor=TEXT, handlelength=1.4,
        handleheight=0.9, columnspacing=1.2, borderaxespad=0.3,
    )  # fmt: skip


def legend_handles(layout: dict[str, Any]) -> list[Any]:
    """Every state the run shows, then the critical path and the retry wait when present."""
    shown = {bar["state"] for bar in layout["bars"]}
    if layout.get("cached"):
        shown.add("cached")
    handles: list[Any] = []
    for state in LEGEND_STATES:
        if state in shown:
            fill, line, _ = STATE_COLOURS[state]
            label = "cached (not run)" if state == "cached" else state
            hatch = "////" if state == "cached" else None
            handles.append(
                Patch(facecolor=fill, edgecolor=line, linewidth=0.8, hatch=hatch, label=label)
            )
    if layout["critical_path"]:
        handles.append(
            Patch(facecolor=BACKGROUND, edgecolor=CRITICAL, linewidth=1.5, label="critical path")
        )
    if layout["waits"]:
        handles.append(
            Line2D([], [], color=WAIT_LINE, linewidth=1.2, linestyle=(0, (3, 2)),
                   label="retry wait")
        )  # fmt: skip
    return handles


def render(figure: Figure, tips: dict[str, str], format: str) -> bytes:
    """The figure as `format` (svg, png or pdf) bytes; SVG gets a <title> tooltip per bar."""
    buffer = io.BytesIO()
    with _pointy_style():
        figure.savefig(
            buffer, format=format, metadata=METADATA[format], facecolor=BACKGROUND,
            edgecolor=BORDER, dpi=144 if format == "png" else 72,
        )  # fmt: skip
    data = buffer.getvalue()
    if format != "svg":
        return data
    return _with_titles(data.decode("utf-8"), tips).encode("utf-8")


def _with_titles(svg: str, tips: dict[str, str]) -> str:
    """Start at <svg> (no XML prolog, so it can sit inside HTML) and add tooltips by gid."""
    from xml.sax.saxutils import escape

    svg = svg[svg.index("<svg") :]
    for gid, tip in tips.items():
        opening = f'<g id="{gid}">'
        svg = svg.replace(opening, f"{opening}\n   <title>{escape(tip)}</title>", 1)
    return svg
