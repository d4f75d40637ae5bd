"""Tab completion of event names inside a `%%pointy` cell body, from the notebook namespace.

A Matcher API v2 matcher (`IPython.core.completer.context_matcher`) added to
`shell.Completer.custom_matchers`: it sees the whole cell (`CompletionContext.full_text`), which
the `complete_command` hook does not. In a Pointy body it suppresses Python's own completions.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from typing import Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)

MATCHER_ID = "pointy_jupyter.events"
_NAME_BEFORE_CURSOR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def is_event(value: Any) -> bool:
    """What a completion offers: EventBase classes, @event functions, Python functions."""
    from pointy_engine.events import EventBase, FunctionEvent  # at first use: loading is quick

    if isinstance(value, type):
        return issubclass(value, EventBase) and value is not EventBase
    return isinstance(value, (FunctionEvent, types.FunctionType))


def event_names(namespace: Mapping[str, Any], prefix: str = "") -> list[str]:
    return sorted(
        name
        for name, value in list(namespace.items())
        if name.startswith(prefix) and not name.startswith("_") and is_event(value)
    )


def in_pointy_body(context: CompletionContext) -> bool:
    """The cursor is below a `%%pointy` line and not inside a comment."""
    first = context.full_text.split("\n", 1)[0]
    if context.cursor_line == 0 or not first.lstrip().startswith("%%pointy"):
        return False
    return "#" not in context.text_until_cursor


def event_matcher(namespace: Callable[[], Mapping[str, Any]]) -> Callable[..., Any]:
    """A matcher completing event names from `namespace()` (the shell's user_ns)."""

    @context_matcher(identifier=MATCHER_ID)
    def pointy_events(context: CompletionContext) -> SimpleMatcherResult:
        if not in_pointy_body(context):
            return {"completions": [], "suppress": False}
        match = _NAME_BEFORE_CURSOR.search(context.text_until_cursor)
        fragment = match.group(0) if match else ""
        names = event_names(namespace(), fragment)
        return {
            "completions": [SimpleCompletion(name, type="event") for name in names],
            "matched_fragment": fragment,
            "suppress": True,
        }

    return pointy_events
