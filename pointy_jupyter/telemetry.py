"""The kernel's telemetry for `%pointy runs` and `%pointy metrics`, from the engine's store.

Loading the extension turns collection on, so every run from then on is listed: cells,
re-runs, `Pipeline().start()` calls, batches and scheduled runs alike. Unloading turns it off
again only if loading turned it on.
"""

from __future__ import annotations

from typing import Any

from pointy_engine.telemetry.store import telemetry_store as store


class KernelTelemetry:
    def __init__(self) -> None:
        self._started = not store.collecting
        self._earlier = {entry.run_id for entry in store.entries()}  # before this load
        store.start()

    def _entries(self) -> list[Any]:
        return [entry for entry in store.entries() if entry.run_id not in self._earlier]

    def runs(self) -> Any:
        from pointy_engine.telemetry.frames import runs_frame

        return runs_frame(self._entries())

    def metrics(self) -> Any:
        from pointy_engine.telemetry.frames import metrics_frame

        return metrics_frame(self._entries())

    def close(self) -> None:
        if self._started:
            store.stop()
            self._started = False
