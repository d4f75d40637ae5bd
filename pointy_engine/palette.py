"""The state colours of every static picture Pointy draws: fill, border, text per state.

The same palette as the live widget's `widget.css` (light theme), readable on dark pages too:
the run snapshot and the batch snapshot (`pointy_jupyter`) and the timeline use it.
"""

from __future__ import annotations

STATE_COLOURS = {
    "pending": ("#eceff1", "#90a4ae", "#37474f"),
    "running": ("#bbdefb", "#1e88e5", "#0d47a1"),
    "retrying": ("#ffe0b2", "#fb8c00", "#8a4b00"),
    "succeeded": ("#c8e6c9", "#43a047", "#1b5e20"),
    "failed": ("#ffcdd2", "#e53935", "#8e0000"),
    "skipped": ("#f5f5f5", "#bdbdbd", "#9e9e9e"),  # dimmed on purpose: it did not run
    "cancelled": ("#e0e0e0", "#616161", "#424242"),
    "cached": ("#e0f2f1", "#00897b", "#004d40"),
}
