"""Which nodes of a run are stale: their event was redefined with different code since."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cache.fingerprint import NotCacheable, code_digest
from ..events import FunctionEvent
from ..plan import Plan


def redefined(plan: Plan, events: Mapping[str, Any]) -> set[str]:
    """Ids of `plan`'s nodes whose event in `events` is a new object with different code.

    The same object, or a new one with the same code digest (a cell run again unchanged), is
    not a change; a name missing from `events` is not either (nothing to run instead).
    """
    changed: set[str] = set()
    digests: dict[int, bytes | None] = {}
    for node_id, task in plan.tasks.items():
        current = events.get(task.node.name)
        if current is None:
            continue
        target = current.function if isinstance(current, FunctionEvent) else current
        if target is task.target:
            continue
        if (
            _digest(target, digests) != _digest(task.target, digests)
            or _digest(target, digests) is None
        ):
            changed.add(node_id)
    return changed


def _digest(target: Any, digests: dict[int, bytes | None]) -> bytes | None:
    if id(target) not in digests:
        try:
            digests[id(target)] = code_digest(target)
        except NotCacheable:
            digests[id(target)] = None  # unknown: counted as changed
    return digests[id(target)]
