"""Several runs at once: of one pipeline class, of one pipeline object, on shared executors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from engine_support import WAIT

from pointy_engine import InputDataField, Pipeline, event
from pointy_engine.executors import Executors

RUNS = 8


@event(executor="thread", max_workers=4)
def Square(number):
    return True, number * number


def Tag(previous_result, number):
    return (number, previous_result, threading.current_thread().name)


def Half(number):
    return number / 2


class Numbers(Pipeline):
    number = InputDataField(data_type=int, required=True)
    meta = {"pointy": "Square |-> Tag -> Half || Square"}


EVENTS = {"Square": Square, "Tag": Tag, "Half": Half}


def _start_together(count, start):
    """Call `start(index)` from `count` threads released at the same moment."""
    barrier = threading.Barrier(count, timeout=WAIT)

    def go(index):
        barrier.wait()
        return start(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(go, range(count), timeout=WAIT * 3))


def _check_run(run, number):
    assert run.status == "succeeded", run.errors
    assert run.values["Square"] == number * number
    assert run.values["Tag"][:2] == (number, number * number)
    assert run.values["Half"] == number / 2
    assert run.values["Square#2"] == number * number
    assert {record.run_id for record in run.records()} == {run.id}
    assert len(run.records()) == 2 + 2 * len(run.nodes)


def test_runs_of_one_pipeline_class_from_several_threads_do_not_mix():
    runs = _start_together(RUNS, lambda n: Numbers(number=n).start(events=EVENTS))
    assert len({run.id for run in runs}) == RUNS
    for number, run in enumerate(runs):
        _check_run(run, number)
        # Tag ran inline, on the thread that started this very run.
        assert run.values["Tag"][2] == run.records()[0].worker


def test_one_pipeline_object_started_from_several_threads():
    numbers = Numbers(number=7)
    runs = _start_together(RUNS, lambda _: numbers.start(events=EVENTS))
    assert len({run.id for run in runs}) == RUNS
    for run in runs:
        _check_run(run, 7)


def test_background_runs_on_shared_executors():
    # A notebook keeps one set of executors for all its runs.
    with Executors() as shared:
        runs = [
            Numbers(number=n).start(events=EVENTS, executors=shared, background=True)
            for n in range(RUNS)
        ]
        for number, run in enumerate(runs):
            _check_run(run.wait(WAIT), number)
        assert not shared._closed


def test_concurrent_listeners_see_only_their_own_run():
    seen = {}

    def start(index):
        records = seen.setdefault(index, [])
        return Numbers(number=index).start(events=EVENTS, listeners=[records.append])

    runs = _start_together(RUNS, start)
    for index, run in enumerate(runs):
        assert seen[index] == run.records()
