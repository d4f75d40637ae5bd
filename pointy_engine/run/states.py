"""The states a node and a run go through, as their records name them."""

from __future__ import annotations

from typing import Literal

PENDING, RUNNING, RETRYING = "pending", "running", "retrying"
SUCCEEDED, FAILED, SKIPPED, CANCELLED = "succeeded", "failed", "skipped", "cancelled"
CACHED = "cached"  # a success taken from the cache: the event did not run
FINISHED_NODE_STATES = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED, CACHED})
RUN_STATES = ("pending", "running", SUCCEEDED, FAILED, CANCELLED)

RerunMode = Literal["all", "failed", "from", "stale"]
