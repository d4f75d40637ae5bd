"""`%pointy cache` and `%pointy cache clear [EVENT]`: the cache's entries as a DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pointy_engine.cache import Cache

from .errors import PointyCellError

COLUMNS = ["event", "bytes", "duration", "stored", "used", "key"]


def cache_command(cache: Cache, action: str | None, event: str | None) -> Any:
    if action == "clear":
        removed = cache.clear(event)
        which = f" of {event!r}" if event is not None else ""
        print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}{which}")
        return None
    if action is not None:
        raise PointyCellError(f"%pointy cache: {action!r} is not a cache command; try clear")
    return cache_frame(cache)


def cache_frame(cache: Cache) -> Any:
    """Entries, most recently used first; the total size and the folder in `frame.attrs`."""
    import pandas as pd  # at first use: heavy

    frame = pd.DataFrame(cache.entries(), columns=COLUMNS)
    for column in ("stored", "used"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    frame.attrs["bytes"] = int(frame["bytes"].sum())
    frame.attrs["folder"] = str(cache.directory)
    count = len(frame)
    print(
        f"{count} cache entr{'y' if count == 1 else 'ies'}, {frame.attrs['bytes']} bytes "
        f"in {shown_folder(cache.directory)}"
    )
    return frame


def shown_folder(directory: Path) -> str:
    """The folder as the notebook's user knows it: relative to the kernel's folder when inside
    it (`.pointy-cache`), so a saved notebook holds no path of the machine it ran on."""
    try:
        return str(directory.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(directory)
