"""BatchPipeline: splitting, ordering, per-batch status, re-running failed batches, signals."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from pointy_engine import (
    BatchPipeline,
    FileInputDataField,
    InputDataField,
    Pipeline,
    PointyError,
    SoftSignal,
)

HARD_TIMEOUT = 60.0


class Sum(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=2)
    scale = InputDataField(data_type=int, default=1)

    class Meta:
        pointy = "Total"


def _slow_total(numbers, scale):
    # Earlier batches take longer, so they finish last.
    time.sleep(0.02 * (10 - numbers[0]))
    return sum(numbers) * scale


class SumBatch(BatchPipeline):
    pipeline_template = Sum


def test_results_come_back_in_input_order_whatever_finishes_first() -> None:
    batch = SumBatch(numbers=[1, 2, 3, 4, 5, 6, 7], scale=10)
    assert batch.batches == [
        {"numbers": [1, 2], "scale": 10},
        {"numbers": [3, 4], "scale": 10},
        {"numbers": [5, 6], "scale": 10},
        {"numbers": [7], "scale": 10},
    ]
    done = batch.start(executor="thread", events={"Total": _slow_total}, background=True)
    done.wait(HARD_TIMEOUT)
    ends = sorted(range(4), key=lambda i: done.runs[i].records()[-1].time)
    assert ends == [3, 2, 1, 0]  # the uneven durations really did reverse the finish order
    assert done.results == [30, 70, 110, 70]
    assert done.statuses == ["succeeded"] * 4
    assert done.status == "succeeded"
    assert [run.name for run in done.runs] == ["Sum"] * 4
    assert [run.tags for run in done.runs] == [
        {"batch": done.id, "index": str(i)} for i in range(4)
    ]


def test_every_batch_run_is_announced_to_the_run_observers() -> None:
    from pointy_engine.observers import run_observers

    seen: list[tuple[str, dict[str, str]]] = []

    def observe(announced: Any) -> None:
        if announced.tags.get("batch"):
            seen.append((announced.name, announced.tags))

    run_observers.add(observe)
    try:
        done = SumBatch(numbers=[1, 2, 3]).execute(executor="thread", events={"Total": sum_total})
    finally:
        run_observers.remove(observe)
    assert sorted(seen, key=lambda item: item[1]["index"]) == [
        ("Sum", {"batch": done.id, "index": "0"}),
        ("Sum", {"batch": done.id, "index": "1"}),
    ]


def sum_total(numbers, scale):
    return sum(numbers) * scale


def test_a_failed_batch_keeps_the_others_and_reruns_alone(tmp_path: Path) -> None:
    healed = tmp_path / "healed"
    calls: list[list[int]] = []

    def picky(numbers, scale):
        calls.append(numbers)
        if 3 in numbers and not healed.exists():
            raise ValueError("three is not welcome")
        return sum(numbers)

    done = SumBatch(numbers=[1, 2, 3, 4, 5]).start(executor="thread", events={"Total": picky})
    assert done.statuses == ["succeeded", "failed", "succeeded"]
    assert done.status == "failed"
    assert done.results == [3, None, 5]
    assert done.failed == [1]
    assert done.runs[1].errors["Total"].message == "three is not welcome"

    healed.touch()
    calls.clear()
    again = done.rerun("failed")
    assert calls == [[3, 4]]  # only the failed batch ran again
    assert again.results == [3, 7, 5]
    assert again.status == "succeeded"
    assert again.runs[0] is done.runs[0]
    assert again.runs[1].tags == {"batch": again.id, "index": "1", "rerun_of": done.runs[1].id}


def test_text_files_are_chunked_by_lines_and_binary_files_by_bytes(tmp_path: Path) -> None:
    text = tmp_path / "book.txt"
    text.write_text("one\ntwo\nthree\nfour\nfive\n", encoding="utf-8")
    blob = tmp_path / "book.bin"
    blob.write_bytes(bytes(range(10)))

    class Lines(Pipeline):
        book = FileInputDataField(required=True, chunk_size=2)

        class Meta:
            pointy = "Count"

    class Bytes(Pipeline):
        book = FileInputDataField(required=True, chunk_size=4, mode="rb")

        class Meta:
            pointy = "Count"

    class LineBatch(BatchPipeline):
        pipeline_template = Lines

    class ByteBatch(BatchPipeline):
        pipeline_template = Bytes

    events = {"Count": lambda book: book}
    lines = LineBatch(book=text).start(executor="thread", events=events)
    assert lines.results == ["one\ntwo\n", "three\nfour\n", "five\n"]
    chunks = ByteBatch(book=str(blob)).start(executor="thread", events=events)
    assert chunks.results == [bytes([0, 1, 2, 3]), bytes([4, 5, 6, 7]), bytes([8, 9])]


def test_signals_from_batches_reach_the_parents_listeners() -> None:
    progress = SoftSignal("batch_progress")
    heard: list[list[int]] = []
    progress.connect(lambda numbers: heard.append(numbers))

    def announce(numbers, scale):
        progress.emit(None, numbers=numbers)
        return len(numbers)

    class Announced(BatchPipeline):
        pipeline_template = Sum
        listen_to_signals = [progress]

    try:
        done = Announced(numbers=[1, 2, 3]).start(executor="thread", events={"Total": announce})
    finally:
        progress.disconnect(heard.append)
    assert done.results == [2, 1]
    assert sorted(heard) == [[1, 2], [3]]
    assert sorted(arguments["numbers"] for _, arguments in done.signals) == [[1, 2], [3]]
    assert {name for name, _ in done.signals} == {"batch_progress"}


class Plain(Pipeline):
    name = InputDataField(data_type=object, batch_size=2)

    class Meta:
        pointy = "Total"


class Unsplit(Pipeline):
    name = InputDataField(data_type=list)

    class Meta:
        pointy = "Total"


def _batch(template: Any) -> type[BatchPipeline]:
    return type("Batch", (BatchPipeline,), {"pipeline_template": template})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: _batch(Sum)(numbers=[]),
            "Batch: input field 'numbers' is empty: there is nothing to batch",
        ),
        (lambda: _batch(Sum)(), "Batch: input field 'numbers' is empty: there is nothing to batch"),
        (
            lambda: _batch(Plain)(name=5),
            "input field 'name' cannot be split into batches: int is not a sized collection",
        ),
        (
            lambda: _batch(Plain)(name="abc"),
            "input field 'name' cannot be split into batches: str is not a sized collection",
        ),
        (lambda: _batch(None)(), "Batch: set pipeline_template to a Pipeline subclass"),
        (
            lambda: _batch(dict)(),
            "Batch.pipeline_template must be a Pipeline subclass, not <class 'dict'>",
        ),
        (
            lambda: _batch(Unsplit)(name=[1]),
            "Batch: Unsplit has no field with batch_size or chunk_size to split",
        ),
        (
            lambda: InputDataField(batch_size=0),
            "batch_size must be a whole number >= 1, not 0",
        ),
        (
            lambda: FileInputDataField(chunk_size="1kB"),
            "chunk_size must be a whole number >= 1, not '1kB'",
        ),
        (
            lambda: FileInputDataField(mode="w"),
            "FileInputDataField mode is 'r' (text) or 'rb' (binary), not 'w'",
        ),
        (
            lambda: SumBatch(numbers=[1]).start(executor="gpu"),
            "event 'SumBatch executor': unknown executor 'gpu'; "
            "known: dask, inline, process, thread",
        ),
    ],
)
def test_bad_input_is_a_clear_error_before_anything_runs(make: Any, message: str) -> None:
    with pytest.raises(PointyError) as raised:
        make()
    assert str(raised.value) == message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    class Reader(Pipeline):
        book = FileInputDataField(required=True, chunk_size=10)

        class Meta:
            pointy = "Total"

    with pytest.raises(PointyError) as raised:
        _batch(Reader)(book=tmp_path / "absent.txt")
    assert (
        str(raised.value)
        == f"Reader: input field 'book': no file at {str(tmp_path / 'absent.txt')!r}"
    )


def test_process_pool_batches_run_in_other_processes_in_input_order() -> None:
    import os
    import sys

    # ProcessPoolExecutor takes max_tasks_per_child from Python 3.11 (see the next test).
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    done = SumBatch(numbers=[1, 2, 3, 4, 5]).execute(
        max_workers=2, events={"Total": _total_and_pid}, **fresh
    )
    assert done.status == "succeeded"
    assert [total for total, _ in done.results] == [3, 7, 5]
    assert os.getpid() not in {pid for _, pid in done.results}


def test_max_tasks_per_child_is_refused_clearly_before_python_3_11() -> None:
    import sys

    batch = SumBatch(numbers=[1, 2, 3])
    if sys.version_info >= (3, 11):
        done = batch.execute(max_workers=1, max_tasks_per_child=1, events={"Total": _total_and_pid})
        assert len({pid for _, pid in done.results}) == 2  # a new process for each batch
        return
    with pytest.raises(PointyError) as raised:
        batch.execute(max_workers=1, max_tasks_per_child=1, events={"Total": _total_and_pid})
    assert str(raised.value) == (
        "executor_config.max_tasks_per_child needs Python 3.11 or newer for process pools "
        "(ProcessPoolExecutor has it from 3.11)"
    )


def _total_and_pid(numbers, scale):
    import os

    return sum(numbers) * scale, os.getpid()


def _worker_pid(numbers):
    import os

    return os.getpid()


def test_batch_runs_given_executors_reuse_their_process_pool() -> None:
    from pointy_engine.executors import Executors

    class Where(Pipeline):
        numbers = InputDataField(data_type=list, batch_size=1)

        class Meta:
            pointy = "Pid"

    class WhereBatch(BatchPipeline):
        pipeline_template = Where

    with Executors() as pools:
        first = WhereBatch(numbers=[1, 2, 3, 4]).execute(
            max_workers=2, events={"Pid": _worker_pid}, executors=pools
        )
        second = WhereBatch(numbers=[5, 6]).execute(
            max_workers=2, events={"Pid": _worker_pid}, executors=pools
        )
        pool = first._running_on
        assert second._running_on is pool  # one pool for both batch runs
    assert first.status == second.status == "succeeded"
    # Six batches, two worker processes in all: the second batch run started none.
    assert len({*first.results, *second.results}) <= 2
    assert os.getpid() not in first.results
