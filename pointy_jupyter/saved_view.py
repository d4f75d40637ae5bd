"""The marker that tells Pointy's JupyterLab extension an output is one of Pointy's widgets.

JupyterLab ranks the widget view above `text/html`, so a notebook reopened without the widget's
kernel would print "model not found" where static viewers show the saved picture. The lab
extension (labextension/src/savedView.ts) renders bundles carrying this mimetype: the live widget
when its model exists, else the bundle's text fallback. The value is constant so that strict
nbval, which compares every mimetype but the widget view, sees the same output on every run.
"""

from __future__ import annotations

from typing import Any

SAVED_VIEW_MIME = "application/vnd.pointy.saved-view+json"
_MARKER = {"version": 1}


def with_saved_view(data: dict[str, Any]) -> dict[str, Any]:
    """`data` (a display bundle holding a widget view) with the marker added."""
    return {**data, SAVED_VIEW_MIME: dict(_MARKER)}
