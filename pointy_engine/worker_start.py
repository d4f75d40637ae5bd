"""Starting worker processes without re-running the user's top level in them.

multiprocessing's forkserver and spawn workers import the main script (as `__mp_main__`) so
that functions pickled by reference can be found there. A script without an
`if __name__ == "__main__":` guard then repeats its side effects, and a pipeline it starts at
top level starts again inside every worker. Pointy's workers never need the main module: events
travel by value (cloudpickle). So a worker that Pointy starts is told nothing about the main
module: the preparation data multiprocessing sends it loses its `init_main_from_*` entries.

Only starts made by Pointy's own contexts are changed (a thread-local flag), and `__main__`
itself is never touched, so other threads reading `__main__.__file__` meanwhile see it.
"""

from __future__ import annotations

import multiprocessing.context as mp_context  # imported only by pipelines using processes
import multiprocessing.spawn as mp_spawn
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_MAIN_KEYS = ("init_main_from_path", "init_main_from_name", "main_path")
_starting = threading.local()
_install_lock = threading.Lock()


def _without_main(original: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    def get_preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if getattr(_starting, "depth", 0):
            for key in _MAIN_KEYS:
                data.pop(key, None)
        return data

    get_preparation_data.pointy_original = original  # type: ignore[attr-defined]
    return get_preparation_data


def _install() -> None:
    """Wrap `multiprocessing.spawn.get_preparation_data` once (the popen modules and the
    forkserver look it up there at each start). Outside Pointy's starts it is unchanged."""
    with _install_lock:
        current = mp_spawn.get_preparation_data
        if not hasattr(current, "pointy_original"):
            mp_spawn.get_preparation_data = _without_main(current)


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """Processes started by this thread inside the block do not import the main module."""
    _install()
    _starting.depth = getattr(_starting, "depth", 0) + 1
    try:
        yield
    finally:
        _starting.depth -= 1


class ScriptSafeSpawnProcess(mp_context.SpawnProcess):
    def start(self) -> None:
        with main_module_hidden():
            super().start()


class ScriptSafeSpawnContext(mp_context.SpawnContext):
    Process = ScriptSafeSpawnProcess


_contexts: dict[str, Any] = {"spawn": ScriptSafeSpawnContext()}

if sys.platform != "win32":

    class ScriptSafeForkServerProcess(mp_context.ForkServerProcess):
        def start(self) -> None:
            with main_module_hidden():
                super().start()

    class ScriptSafeForkServerContext(mp_context.ForkServerContext):
        Process = ScriptSafeForkServerProcess

    _contexts["forkserver"] = ScriptSafeForkServerContext()

# What every Pointy worker imports to run an event: imported once in the fork server, so that each
# worker forked from it starts with them (a pool's start went from ~200 ms to ~30 ms here).
# `__main__` is left out, as above: workers never need it.
WORKER_PRELOAD = ("pointy_engine.invoke", "pointy_engine.process_pool", "cloudpickle")


def _preload_fork_server() -> None:
    """Ask for WORKER_PRELOAD in the process's fork server (one per process, shared by every
    forkserver context) unless someone already chose its preload; it counts only for a fork
    server not yet started."""
    import multiprocessing.forkserver as mp_forkserver

    server = getattr(mp_forkserver, "_forkserver", None)
    if getattr(server, "_preload_modules", None) == ["__main__"]:  # still the stdlib default
        mp_forkserver.set_forkserver_preload(list(WORKER_PRELOAD))


def script_safe_context(method: str) -> Any:
    """A multiprocessing context of `method` ("forkserver" or "spawn") whose processes start
    without importing the main module; usable as a `ProcessPoolExecutor`'s `mp_context`."""
    if method == "forkserver":
        _preload_fork_server()
    return _contexts[method]
