"""Starting worker processes without re-running the main module's top level in them.

multiprocessing's forkserver and spawn workers import the main script (as `__mp_main__`) so
that functions pickled by reference can be found there. A script without an
`if __name__ == "__main__":` guard then repeats its side effects, and a pipeline it starts at
top level starts again inside every worker. Pointy's workers never need the main module: events
travel by value (cloudpickle). So while a worker process starts, the main module's file and spec
(all multiprocessing reads to find it) are hidden.
"""

from __future__ import annotations

import multiprocessing.context as mp_context  # imported only by pipelines using processes
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_hiding = threading.Lock()  # one start at a time restores exactly what it hid


@contextmanager
def main_module_hidden() -> Iterator[None]:
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _hiding:
        namespace = vars(main)
        saved = {key: namespace[key] for key in ("__file__", "__spec__") if key in namespace}
        namespace.pop("__file__", None)
        namespace["__spec__"] = None
        try:
            yield
        finally:
            namespace.pop("__spec__", None)
            namespace.update(saved)


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


def script_safe_context(method: str) -> Any:
    """A multiprocessing context of `method` ("forkserver" or "spawn") whose processes start
    with the main module hidden; usable as a `ProcessPoolExecutor`'s `mp_context`."""
    return _contexts[method]
