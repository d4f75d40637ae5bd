"""Scheduler: real sub-second triggers, overlap prevention, replacement, history, bad input."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta

import pytest

from pointy_engine import Pipeline
from pointy_engine.observers import RunObservers
from pointy_engine.scheduling import RunHistory, ScheduleError, Scheduler
from pointy_engine.scheduling.history import COLUMNS as COLUMN_NAMES
from pointy_engine.scheduling.history import read_rows


class Tick(Pipeline):
    class Meta:
        pointy = "Work"


class Broken(Pipeline):
    class Meta:
        pointy = "Fail"


def _wait_for(condition, timeout: float = 10.0) -> None:
    done = threading.Event()
    deadline = datetime.now() + timedelta(seconds=timeout)
    while not condition():
        if datetime.now() > deadline:
            raise AssertionError("condition not met in time")
        done.wait(0.01)


@pytest.fixture
def scheduler(tmp_path):
    with Scheduler(tmp_path / "history.sqlite3") as s:
        yield s


def test_interval_job_runs_repeatedly_and_lands_in_history(scheduler):
    calls = []
    scheduler.schedule(Tick, every=0.05, events={"Work": lambda: calls.append(1) or len(calls)})
    _wait_for(lambda: len(calls) >= 3)
    scheduler.job("Tick").pause()
    scheduler.shutdown()
    history = RunHistory(scheduler.history_path).frame()  # after shutdown: from the file
    # On a loaded machine a firing may come while the previous run goes: kept as skipped.
    history = history[history["status"] != "skipped"].reset_index(drop=True)
    assert len(history) >= 3
    assert set(history["status"]) == {"succeeded"}
    assert set(history["trigger"]) == {"schedule"}
    assert set(history["job"]) == {"Tick"}
    assert str(history["started"].dtype) == "datetime64[ns, UTC]"
    assert history["nodes"][0] == {
        "Work": {
            "state": "succeeded",
            "attempts": 1,
            "duration": history["nodes"][0]["Work"]["duration"],
        }
    }


def test_events_are_resolved_at_each_run(scheduler):
    seen = []
    events = {"Work": lambda: seen.append("old")}
    scheduler.schedule(Tick, every=0.05, events=lambda: events)
    _wait_for(lambda: "old" in seen)
    events["Work"] = lambda: seen.append("new")
    _wait_for(lambda: "new" in seen)


def test_an_overlapping_firing_is_recorded_as_skipped(scheduler):
    release = threading.Event()
    started = threading.Event()

    def slow():
        started.set()
        release.wait(10)

    scheduler.schedule(Tick, every=0.05, events={"Work": slow})
    started.wait(10)
    _wait_for(lambda: scheduler.job("Tick").last_status == "skipped")
    release.set()
    scheduler.remove("Tick")
    frame = scheduler.history()
    skipped = frame[frame["status"] == "skipped"]
    assert len(skipped) >= 1
    assert skipped["error"].iloc[0] == "skipped: the previous run of this job was still going"


def test_scheduling_the_same_job_again_replaces_it(scheduler):
    scheduler.schedule(Tick, every="1h")
    scheduler.schedule(Tick, every="2h")
    jobs = scheduler.jobs()
    assert list(jobs["id"]) == ["Tick"]
    assert list(jobs["trigger"]) == ["every 7200 s"]
    assert len(scheduler._aps.get_jobs()) == 1


def test_jobs_frame_pause_resume_and_next_runs(scheduler):
    job = scheduler.schedule(Tick, cron="0 0 * * *", id="midnight")
    times = job.next_run_times(3)
    assert [(t.hour, t.minute) for t in times] == [(0, 0)] * 3
    assert times[1] - times[0] == timedelta(days=1)
    job.pause()
    assert scheduler.jobs()["paused"].tolist() == [True]
    job.resume()
    assert scheduler.jobs()["paused"].tolist() == [False]
    assert scheduler.jobs()["next_run"].iloc[0] == times[0]


def test_run_now_and_failure_callback(scheduler):
    failures = []
    scheduler.on_failure = lambda job, run: failures.append(
        (job.id, run.status, str(run.errors["Fail"]))
    )

    def fail():
        raise ValueError("disk full")

    job = scheduler.schedule(Broken, every="1h", events={"Fail": fail})
    job.run_now()
    _wait_for(lambda: failures)
    assert failures == [("Broken", "failed", "ValueError: disk full")]
    row = scheduler.history().iloc[0]
    assert (row["status"], row["error"]) == ("failed", "Fail: ValueError: disk full")


def test_every_run_in_the_process_is_kept_while_started(tmp_path):
    observers = RunObservers()
    with Scheduler(tmp_path / "h.sqlite3", observers=observers) as s:
        from pointy_engine.plan import Plan
        from pointy_engine.run import Run

        plan = Plan(Tick.graph(), {"Work": lambda: 1}, {}, None, None)
        Run(plan, name="Tick", observers=observers).start()
        frame = s.history()
    assert frame[["pipeline", "trigger", "status"]].values.tolist() == [
        ["Tick", "api", "succeeded"]
    ]


def test_a_rerun_is_its_own_row_and_leaves_its_originals_row_alone(tmp_path):
    from pointy_engine.plan import Plan
    from pointy_engine.run import Run

    history, observers = RunHistory(tmp_path / "h.sqlite3"), RunObservers()
    observers.add(history.observe)
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("down")

    plan = Plan(Tick.graph(), {"Work": flaky}, {}, None, None)
    first = Run(plan, name="Tick", observers=observers).start()
    history.flush()
    before = dict(zip(COLUMN_NAMES, read_rows(history.path)[0]))
    again = first.rerun("failed").start()
    history.close()
    rows = {row[0]: dict(zip(COLUMN_NAMES, row)) for row in read_rows(history.path)}
    assert rows[first.id] == before  # the re-run's records did not rewrite it
    assert (rows[first.id]["status"], rows[again.id]["status"]) == ("failed", "succeeded")
    assert rows[again.id]["started"] >= rows[first.id]["ended"]
    # the history listens on the run's loop: a run's end waits for no listener thread
    assert len(first.stream.loop_listeners) == 1
    assert first.stream.listeners == ()


FORMS = "'*', lists (a,b), ranges (a-b) and steps (*/n)"
EXAMPLES = "'30s', '10m', '1h30m', '500ms'"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"cron": "60 0 * * *"},
            f"cron '60 0 * * *': field 1 (minute) is '60'; allowed: 0-59, {FORMS}",
        ),
        (
            {"cron": "0 0 32 * *"},
            f"cron '0 0 32 * *': field 3 (day of month) is '32'; allowed: 1-31, {FORMS}",
        ),
        (
            {"cron": "0 0 * *"},
            "cron '0 0 * *': expected 5 fields (minute hour day-of-month month day-of-week), got 4",
        ),
        ({"every": 0}, "every: the interval must be positive, not 0"),
        (
            {"every": "-5m"},
            f"every: '-5m' is not an interval (write seconds, or text like {EXAMPLES})",
        ),
        (
            {"every": timedelta(seconds=-1)},
            "every: the interval must be positive, not datetime.timedelta(days=-1, seconds=86399)",
        ),
        (
            {"at": "2020-01-01 09:00", "timezone": "UTC"},
            "at: 2020-01-01 09:00:00+00:00 is in the past",
        ),
        (
            {"every": 5, "timezone": "Mars/Base"},
            "unknown timezone 'Mars/Base' (use an IANA name like 'Europe/Paris')",
        ),
        (
            {"every": 5, "cron": "* * * * *"},
            "give exactly one of every, cron or at (got every and cron)",
        ),
        ({}, "give exactly one of every, cron or at"),
    ],
)
def test_bad_triggers_register_nothing(scheduler, kwargs, message):
    with pytest.raises(ScheduleError) as caught:
        scheduler.schedule(Tick, **kwargs)
    assert str(caught.value) == message
    assert scheduler.jobs().empty


def test_midnight_cron_and_weekdays_read_as_crontab(scheduler):
    job = scheduler.schedule(Tick, cron="0 9 * * 0", timezone="UTC")
    assert {t.strftime("%A") for t in job.next_run_times(3)} == {"Sunday"}
    assert str(job.next_run_time.tzinfo) == "UTC"


def test_shutdown_leaves_no_thread(tmp_path):
    before = set(threading.enumerate())
    s = Scheduler(tmp_path / "h.sqlite3").start()
    s.schedule(Tick, every=0.02, events={"Work": lambda: None})
    _wait_for(lambda: s.job("Tick").last_status == "succeeded")
    s.shutdown()
    assert set(threading.enumerate()) - before == set()


def test_history_file_is_wal(tmp_path):
    RunHistory(tmp_path / "h.sqlite3").close()
    connection = sqlite3.connect(tmp_path / "h.sqlite3")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert read_rows(tmp_path / "h.sqlite3") == []
