"""A batch run pickles each event once for all its batches; a worker unpickles it once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from pointy_engine import BatchPipeline, InputDataField, Pipeline
from pointy_engine.shipping import ShippedEvent, _Arrivals, shipping_once


class Table:
    """Stands for a notebook's big global: counts how often the kernel pickles it, and stamps
    each copy a worker unpickles with a new id."""

    pickled = 0

    def __init__(self, stamp: str, size: int) -> None:
        self.stamp = stamp
        self.size = size

    def __reduce__(self) -> tuple[Any, ...]:
        Table.pickled += 1
        return _unpickled_table, (self.size,)


def _unpickled_table(size: int) -> Table:
    return Table(uuid.uuid4().hex, size)


TABLE = Table("the kernel's", 10)


def _look_up(numbers):
    import os

    return os.getpid(), TABLE.stamp, TABLE.size * numbers[0]


class LookUp(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=1)

    class Meta:
        pointy = "Find"


class LookUpBatch(BatchPipeline):
    pipeline_template = LookUp


@pytest.fixture
def counted() -> Any:
    global TABLE
    TABLE = Table("the kernel's", 10)
    Table.pickled = 0
    yield
    TABLE = Table("the kernel's", 10)


def test_a_batch_run_pickles_its_event_once_and_each_worker_unpickles_it_once(
    counted: None,
) -> None:
    done = LookUpBatch(numbers=list(range(8))).execute(max_workers=2, events={"Find": _look_up})
    assert done.status == "succeeded"
    assert [size for _, _, size in done.results] == [10 * i for i in range(8)]
    assert Table.pickled == 1  # not 8: one pickle for the eight batches
    pids = {pid for pid, _, _ in done.results}
    copies = {stamp for _, stamp, _ in done.results}
    assert "the kernel's" not in copies  # they ran on workers, with unpickled copies
    assert len(copies) == len(pids)  # one copy per worker process, not one per batch


def test_the_next_batch_run_pickles_anew_so_a_changed_global_takes_effect(counted: None) -> None:
    global TABLE
    first = LookUpBatch(numbers=[1, 2, 3]).execute(max_workers=2, events={"Find": _look_up})
    TABLE = Table("changed", 100)
    second = LookUpBatch(numbers=[1, 2, 3]).execute(max_workers=2, events={"Find": _look_up})
    assert second._running_on is first._running_on  # the same workers
    assert [size for _, _, size in second.results] == [100, 200, 300]
    assert Table.pickled == 2
    assert not {s for _, s, _ in first.results} & {s for _, s, _ in second.results}


def test_a_worker_keeps_only_the_latest_batch_runs_events() -> None:
    arrivals = _Arrivals()
    loads: list[bytes] = []

    def load(blob: bytes) -> Any:
        loads.append(blob)
        return object()

    first = arrivals.event(ShippedEvent("run-a", 0, b"a0"), load)
    assert arrivals.event(ShippedEvent("run-a", 0, b"a0"), load) is first
    other = arrivals.event(ShippedEvent("run-a", 1, b"a1"), load)
    assert other is not first
    arrivals.event(ShippedEvent("run-b", 0, b"b0"), load)  # a new batch run: run-a's dropped
    assert arrivals.event(ShippedEvent("run-a", 0, b"a0"), load) is not first
    assert loads == [b"a0", b"a1", b"b0", b"a0"]


def test_an_event_that_cannot_be_pickled_fails_its_batches_with_a_clear_error() -> None:
    import threading

    lock = threading.Lock()  # a global the event reads that no pickle can carry

    def holds_lock(numbers):
        with lock:
            return numbers[0]

    done = LookUpBatch(numbers=[1, 2]).execute(max_workers=2, events={"Find": holds_lock})
    assert done.statuses == ["failed", "failed"]
    message = done.runs[0].errors["Find"].message
    assert message.startswith("holds_lock cannot be sent to a worker process:"), message
    assert "lock" in message


def test_outside_a_batch_run_every_attempt_pickles_the_event() -> None:
    from pointy_engine.invoke import PLAIN, pack
    from pointy_engine.shipping import current

    assert current() is None
    Table.pickled = 0
    pack(_look_up, PLAIN, {"numbers": [1]}, None)
    pack(_look_up, PLAIN, {"numbers": [2]}, None)
    assert Table.pickled == 2
    with shipping_once("batch") as shipments:
        assert current() is shipments
        pack(_look_up, PLAIN, {"numbers": [1]}, None)
        pack(_look_up, PLAIN, {"numbers": [2]}, None)
    assert Table.pickled == 3
    assert current() is None
