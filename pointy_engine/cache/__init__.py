"""Caching event results by code and inputs: `Pipeline.start(cache=True | path | Cache(...))`.

`fingerprint.py` computes keys (what the code digest sees is documented there), `store.py`
keeps entries on disk. The digests (and xxhash with them) load on first use, so a run without
a cache never imports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lazy import lazy_exports
from .store import Cache, Entry

if TYPE_CHECKING:
    from .fingerprint import NotCacheable, code_digest, value_digest


def as_cache(option: Any) -> Cache | None:
    """What `start(cache=...)` accepts: False/None, True (the default folder), a path, a Cache."""
    if option is None or option is False:
        return None
    if option is True:
        return Cache()
    if isinstance(option, Cache):
        return option
    if isinstance(option, (str, Path)):
        return Cache(option)
    raise TypeError(f"cache must be True, False, a folder path or a Cache, not {option!r}")


__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {"NotCacheable": "fingerprint", "code_digest": "fingerprint", "value_digest": "fingerprint"},
)

__all__ = ["Cache", "Entry", "NotCacheable", "as_cache", "code_digest", "value_digest"]
