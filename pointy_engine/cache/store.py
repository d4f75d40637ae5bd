"""The on-disk cache: one file per entry, written atomically, evicted least recently used first.

An entry file is one JSON header line (event, duration, when stored, key) and the pickled value.
Writes go to a temporary file in the same folder and are moved into place with `os.replace`,
so a writer killed half-way leaves a stray temporary file (ignored, removed by `clear`) and never
a torn entry. A hit touches the file's modification time; eviction removes the oldest first.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

SUFFIX = ".entry"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB


class Entry(NamedTuple):
    """What a cache hit gives back: the value, and what the original run took and when."""

    value: Any
    event: str
    duration: float
    stored: float
    descriptor: int


CACHE_ENV = "POINTY_CACHE"  # a folder that replaces the default one, in scripts and notebooks


def default_directory() -> Path:
    """`POINTY_CACHE` if set, else the user's cache folder (platformdirs). A notebook's default,
    `.pointy-cache/` beside it, is the extension's (pointy_jupyter.session)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    import platformdirs  # lazily: only a cache without a path needs it

    return Path(platformdirs.user_cache_dir("pointy")) / "results"


class Cache:
    """Cached event results in `directory`, at most `max_bytes` of them on disk."""

    def __init__(self, directory: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(f"Cache max_bytes must be a positive int, not {max_bytes!r}")
        self.directory = Path(directory) if directory is not None else default_directory()
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"<Cache {str(self.directory)!r} max_bytes={self.max_bytes}>"

    def _path(self, key: str) -> str:
        # A plain string: a hit is on the run's path, and a pathlib join costs a few µs.
        return f"{self._prefix}{key}{SUFFIX}"

    @property
    def directory(self) -> Path:
        return self._directory

    @directory.setter
    def directory(self, folder: Path) -> None:
        self._directory = folder
        self._prefix = os.path.join(folder, "")

    def get(self, key: str) -> Entry | None:
        """The entry for `key`, or None (missing, or unreadable: then it is removed)."""
        path = self._path(key)
        try:
            with open(path, "rb") as file:
                header = json.loads(file.readline())
                value = pickle.load(file)
        except FileNotFoundError:
            return None
        except Exception:  # written by another version, or damaged on disk: a miss
            _remove(path)
            return None
        with contextlib.suppress(OSError):  # evicted meanwhile: the value read is still good
            _touch(path)
        return Entry(
            value, header["event"], header["duration"], header["stored"], header["descriptor"]
        )

    def put(self, key: str, event: str, duration: float, value: Any, descriptor: int = 1) -> bool:
        """Store a result; False when the value cannot be pickled (nothing is written)."""
        try:
            payload = _dumps(value)
        except Exception:
            return False
        header = {
            "event": event,
            "duration": duration,
            "stored": time.time(),
            "descriptor": descriptor,
            "key": key,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(json.dumps(header).encode() + b"\n")
                file.write(payload)
            os.replace(temporary, self._path(key))
            _touch(self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.evict()
        return True

    def entries(self) -> list[dict[str, Any]]:
        """Every entry's header and size, most recently used first."""
        rows = []
        for path in self._files():
            try:
                stat = path.stat()
                with open(path, "rb") as file:
                    header = json.loads(file.readline())
            except (OSError, ValueError):
                continue
            rows.append(
                {
                    "event": header["event"],
                    "key": header["key"],
                    "bytes": stat.st_size,
                    "duration": header["duration"],
                    "stored": header["stored"],
                    "used": stat.st_mtime,
                }
            )
        rows.sort(key=lambda row: row["used"], reverse=True)
        return rows

    @property
    def size(self) -> int:
        """Bytes on disk in entries."""
        total = 0
        for path in self._files():
            try:
                total += path.stat().st_size
            except OSError:
                continue
        return total

    def clear(self, event: str | None = None) -> int:
        """Remove every entry (or only `event`'s) and stray temporary files; how many entries."""
        removed = 0
        for row in self.entries():
            if event is None or row["event"] == event:
                _remove(self._path(row["key"]))
                removed += 1
        if event is None and self.directory.is_dir():
            for stray in self.directory.glob(".tmp-*"):
                stray.unlink(missing_ok=True)
        return removed

    def evict(self) -> None:
        """Remove least recently used entries until the cache fits in `max_bytes`."""
        files = []
        total = 0
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime_ns, stat.st_size, path))
            total += stat.st_size
        if total <= self.max_bytes:
            return
        files.sort()
        for _, size, path in files:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [p for p in self.directory.iterdir() if p.name.endswith(SUFFIX)]


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _touch(path: str) -> None:
    """Mark an entry used now, to the nanosecond (file times alone are coarser)."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _dumps(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        import cloudpickle  # lazily: a value defined in a notebook cell needs it

        return cloudpickle.dumps(value, protocol=5)
