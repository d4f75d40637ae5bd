"""A run's use of a `Cache`: before an attempt goes to its executor, look its key up.

The key of a node is its event's code digest plus the digests of the keyword arguments and,
when the event receives it, `previous_result` (see `pointy_engine.cache.fingerprint`). A hit
settles the node in the state "cached" with the original duration and when it ran, on the
node's result and on its record (`Record.origin`); a miss remembers the key so
that a success can be stored. A value or code that cannot be hashed marks the node "not
cacheable" in `NodeResult.cache_note` and the node simply runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xxhash

from ..cache import Cache
from ..cache.fingerprint import NotCacheable, code_digest, value_digest
from ..invoke import CLASS, Attempt
from ..plan import Task
from ..records import CacheOrigin, Record
from .states import CACHED

if TYPE_CHECKING:
    from .frames import Frame
    from .run import Run


class RunCache:
    """The keys of one run's nodes, and the cache they are looked up in."""

    __slots__ = ("cache", "codes", "keys")

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.codes: dict[int, bytes] = {}  # by id() of the event target: hashed once per run
        self.keys: dict[str, str] = {}  # node id -> key, for nodes that missed

    def key(self, task: Task, kwargs: dict[str, Any], previous: Any) -> str:
        target = task.target
        code = self.codes.get(id(target))
        if code is None:
            code = self.codes[id(target)] = code_digest(target)
        hasher = xxhash.xxh3_128(code)
        received = sorted(kwargs.items())
        if task.style == CLASS and not task.wants_previous:
            received.append(("previous_result", previous))  # it is `self.previous_result`
        for name, value in received:
            hasher.update(name.encode())
            try:
                hasher.update(value_digest(value))
            except NotCacheable as error:
                raise NotCacheable(f"input {name!r}: {error}") from None
        return hasher.hexdigest()

    def hit(
        self, run: Run, task: Task, parent: Frame, slot: int, kwargs: dict[str, Any], previous: Any
    ) -> bool:
        """Settle the node from the cache and return True, or note its key and return False."""
        node = task.node
        if not task.settings.cache:
            return False
        try:
            key = self.key(task, kwargs, previous)
        except NotCacheable as error:
            run.nodes[node.id].cache_note = f"not cacheable: {error}"
            return False
        entry = self.cache.get(key)
        if entry is None:
            self.keys[node.id] = key
            return False
        result = run.nodes[node.id]
        result.state = CACHED
        result.attempts = 0  # the event did not run
        result.value = entry.value
        result.descriptor = entry.descriptor
        result.duration = entry.duration
        result.cached_at = entry.stored
        result.worker = "cache"
        result.finished = now = run._now()
        origin = CacheOrigin(entry.duration, entry.stored)
        run.stream.emit(
            Record(
                run.id, node.id, node.name, 0, CACHED, now, "cache", None, entry.descriptor, origin
            )
        )
        if task.settings.stop_on_success:
            run._stop("success")
        run._ready.append((parent.child_done, (run, slot, True, entry.value, entry.descriptor)))
        return True

    def store(self, run: Run, task: Task, outcome: Attempt) -> None:
        key = self.keys.pop(task.node.id, None)
        if key is None:
            return
        if not self.cache.put(
            key, task.node.name, outcome.duration, outcome.value, outcome.descriptor
        ):
            run.nodes[
                task.node.id
            ].cache_note = f"not cacheable: {type(outcome.value).__name__} value cannot be pickled"
