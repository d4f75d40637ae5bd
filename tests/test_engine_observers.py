"""Run observers: every run a process creates is announced once, before it starts."""

from __future__ import annotations

import pytest
from engine_support import make_run

from pointy_engine import Pipeline
from pointy_engine.observers import ObserverFailedWarning, RunObservers, run_observers
from pointy_engine.run import Run


def ok(previous_result=None):
    return "ok"


def test_every_run_and_rerun_is_announced_once_before_it_starts():
    observers = RunObservers()
    seen: list[tuple[str, str, bool]] = []
    observers.add(lambda run: seen.append((run.id, run.name, run.started)))
    run = make_run("ok -> ok", {"ok": ok}, observers=observers, name="two oks").start()
    again = run.rerun("failed").start()
    assert seen == [(run.id, "two oks", False), (again.id, "two oks", False)]
    assert again.tags == {"rerun_of": run.id, "mode": "failed"}


def test_pipeline_runs_reach_the_process_observers_with_the_class_name():
    class Announced(Pipeline):
        class Meta:
            pointy = "ok"

    seen: list[Run] = []
    run_observers.add(seen.append)
    try:
        run = Announced().start(events={"ok": ok})
    finally:
        run_observers.remove(seen.append)
    assert seen == [run]
    assert run.name == "Announced"
    assert seen.append not in run_observers


def test_an_observer_that_raises_is_detached_and_the_run_goes_on():
    observers = RunObservers()

    def broken(run):
        raise RuntimeError("observer bug")

    observers.add(broken)
    with pytest.warns(
        ObserverFailedWarning,
        match="raises_is_detached_and_the_run_goes_on.<locals>.broken' "
        "raised RuntimeError: observer bug; it was detached and the run went on",
    ):
        run = make_run("ok", {"ok": ok}, observers=observers).start()
    assert run.status == "succeeded"
    assert len(observers) == 0
