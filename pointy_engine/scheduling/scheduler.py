"""`Scheduler`: pipelines run on cron, interval or one-off date triggers, on APScheduler 3.

A scheduler owns its APScheduler `BackgroundScheduler`, its jobs and its run history; nothing is
module-level. Each firing starts the pipeline through the normal API (`Pipeline(...).start()`),
with the events resolved at that moment, so a redefined event takes effect at the next run.
APScheduler's `max_instances=1` keeps two runs of one job from overlapping; a firing refused for
that is kept in the history as `skipped`, with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..observers import RunObservers, run_observers
from ..pipeline import Pipeline
from .history import RunHistory
from .triggers import ScheduleError, make_trigger, timezone_of

if TYPE_CHECKING:
    import pandas

    from ..run import Run

EventSource = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None
FailureCallback = Callable[["Job", "Run"], Any]
AroundRun = Callable[["Job"], AbstractContextManager[Any]]
OVERLAP_REASON = "skipped: the previous run of this job was still going"


def _quiet_overlaps(record: logging.LogRecord) -> bool:
    """APScheduler logs a warning for each refused overlapping firing; the history has them."""
    return "maximum number of running instances reached" not in record.getMessage()


class Job:
    """One scheduled pipeline: trigger, next run, last status; pause, resume, remove, run now."""

    def __init__(
        self,
        scheduler: Scheduler,
        job_id: str,
        pipeline: type[Pipeline],
        inputs: dict[str, Any],
        events: EventSource,
        description: str,
    ) -> None:
        self.id = job_id
        self.pipeline = pipeline
        self.inputs = inputs
        self.events = events
        self.trigger = description
        self.last_status: str | None = None
        self.last_run: Run | None = None
        self.current_run: Run | None = None
        self._scheduler = scheduler

    def __repr__(self) -> str:
        return f"<Job {self.id!r} {self.trigger}, next run {self.next_run_time}>"

    @property
    def _aps_job(self) -> Any:
        return self._scheduler._aps.get_job(self.id)

    @property
    def next_run_time(self) -> datetime | None:
        job = self._aps_job
        return None if job is None else job.next_run_time

    def next_run_times(self, count: int = 3) -> list[datetime]:
        """The next `count` times this job fires (fewer for a one-off)."""
        job = self._aps_job
        if job is None or job.next_run_time is None:
            return []
        times = [job.next_run_time]
        while len(times) < count:
            following = job.trigger.get_next_fire_time(times[-1], times[-1])
            if following is None or following <= times[-1]:
                break
            times.append(following)
        return times

    @property
    def paused(self) -> bool:
        job = self._aps_job
        return job is not None and job.next_run_time is None

    def pause(self) -> None:
        self._scheduler._aps.pause_job(self.id)

    def resume(self) -> None:
        self._scheduler._aps.resume_job(self.id)

    def remove(self) -> None:
        self._scheduler.remove(self.id)

    def run_now(self) -> None:
        """Fire once now (still never overlapping a run of this job that is going)."""
        self._scheduler._aps.modify_job(
            self.id, next_run_time=datetime.now(self._scheduler.timezone)
        )


class Scheduler:
    """Schedules pipelines in this process. `with Scheduler() as s: s.schedule(P, every="10m")`.

    `history`: a path for the SQLite run history, a `RunHistory`, or None for the default file
    (see `history.default_history_path`). While started, every run the process creates (scheduled
    or not) is kept there. `on_failure(job, run)` is called when a scheduled run fails.
    `around_run(job)`, a context manager, is entered around each run in its firing thread (the
    notebook uses it to send a job's printed output to the job's own widget).
    """

    def __init__(
        self,
        history: str | Path | RunHistory | None = None,
        *,
        timezone: str | tzinfo | None = None,
        misfire_grace_time: float | None = 30,
        coalesce: bool = True,
        on_failure: FailureCallback | None = None,
        observers: RunObservers | None = None,
        around_run: AroundRun | None = None,
    ) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler

        self.timezone = timezone_of(timezone)
        self._history = history if isinstance(history, RunHistory) else RunHistory(history)
        self._owns_history = not isinstance(history, RunHistory)
        self._observers = run_observers if observers is None else observers
        self.on_failure = on_failure
        self._around_run = around_run or (lambda job: nullcontext())
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._records_runs = False
        self._aps = BackgroundScheduler(
            timezone=self.timezone,
            job_defaults={
                "max_instances": 1,
                "coalesce": coalesce,
                "misfire_grace_time": misfire_grace_time,
            },
        )
        self._aps.add_listener(self._refused, EVENT_JOB_MAX_INSTANCES)

    # ----- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    def start(self) -> Scheduler:
        if not self._aps.running:
            logging.getLogger("apscheduler.scheduler").addFilter(_quiet_overlaps)
            # A history handed in may already be recording (the kernel's is, from load): then
            # its owner keeps it recording after this scheduler stops.
            self._records_runs = self._history.observe not in self._observers
            self._observers.add(self._history.observe)
            self._aps.start()
        return self

    def shutdown(self, wait: bool = True, grace: float = 5.0) -> None:
        """Stop firing and the threads it started. With `wait`, runs going end first; without,
        they are cancelled and waited for `grace` seconds each (an event running inline finishes
        its call first; its thread ends when it does)."""
        if self._aps.running:
            self._aps.pause()
            going = [job.current_run for job in list(self._jobs.values()) if job.current_run]
            if not wait:
                for run in going:
                    run.cancel()
                for run in going:
                    with contextlib.suppress(TimeoutError):
                        run.wait(grace)
            self._aps.shutdown(wait=all(run.done for run in going) or wait)
        if self._records_runs:
            self._observers.remove(self._history.observe)
            self._records_runs = False
        logging.getLogger("apscheduler.scheduler").removeFilter(_quiet_overlaps)
        if self._owns_history:
            self._history.close()
        else:
            self._history.flush()

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ----- jobs ---------------------------------------------------------------------------

    def schedule(
        self,
        pipeline: Pipeline | type[Pipeline],
        *,
        every: float | timedelta | str | None = None,
        cron: str | Mapping[str, Any] | None = None,
        at: datetime | str | None = None,
        id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        events: EventSource = None,
        timezone: str | tzinfo | None = None,
    ) -> Job:
        """Register `pipeline` (a class, or an instance whose inputs are used) on one trigger.

        The same id (by default the pipeline's class name) replaces the job registered before.
        Everything is checked first: a bad trigger, timezone or input registers nothing.
        """
        if isinstance(pipeline, Pipeline):
            cls, given = type(pipeline), {**pipeline.inputs, **(inputs or {})}
        elif isinstance(pipeline, type) and issubclass(pipeline, Pipeline):
            cls, given = pipeline, dict(inputs or {})
        else:
            raise ScheduleError(
                f"schedule: takes a Pipeline class or instance, not {type(pipeline).__name__}"
            )
        zone = self.timezone if timezone is None else timezone_of(timezone)
        trigger, description = make_trigger(every=every, cron=cron, at=at, timezone=zone)
        cls(**given)  # inputs checked now, not at the first firing
        cls.graph()  # and the flow
        job_id = id or cls.__name__
        job = Job(self, job_id, cls, given, events, description)
        with self._lock:
            self._jobs[job_id] = job
            self._aps.add_job(
                self._fire, trigger, args=(job_id,), id=job_id, name=cls.__name__,
                replace_existing=True,
            )  # fmt: skip
        return job

    def job(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            known = ", ".join(map(repr, self._jobs)) or "none"
            raise ScheduleError(f"no job {job_id!r} (jobs: {known})") from None

    def remove(self, job_id: str) -> None:
        self.job(job_id)
        with self._lock:
            del self._jobs[job_id]
            if self._aps.get_job(job_id) is not None:
                self._aps.remove_job(job_id)

    def jobs(self) -> pandas.DataFrame:
        """One row per job: id, pipeline, trigger, next run, paused, last status, last run id."""
        import pandas

        rows = [
            {
                "id": job.id,
                "pipeline": job.pipeline.__name__,
                "trigger": job.trigger,
                "next_run": job.next_run_time,
                "paused": job.paused,
                "last_status": job.last_status,
                "last_run_id": job.last_run.id if job.last_run is not None else None,
            }
            for job in list(self._jobs.values())
        ]
        frame = pandas.DataFrame(
            rows,
            columns=[
                "id",
                "pipeline",
                "trigger",
                "next_run",
                "paused",
                "last_status",
                "last_run_id",
            ],
        )
        frame["next_run"] = pandas.to_datetime(frame["next_run"])
        return frame

    def history(self, limit: int | None = None) -> pandas.DataFrame:
        """The run history (every run kept in this scheduler's file), newest first."""
        self._history.flush()
        return self._history.frame(limit)

    @property
    def history_path(self) -> Path:
        return self._history.path

    # ----- firing -------------------------------------------------------------------------

    def _fire(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        source = job.events() if callable(job.events) else job.events
        with self._around_run(job):
            run = job.pipeline(**job.inputs).start(
                background=True, events=source, tags={"trigger": "schedule", "job": job_id}
            )
            job.current_run = run  # so that shutdown() can cancel it
            run.wait()
            job.current_run = None
            job.last_run, job.last_status = run, run.status  # seen by around_run's exit
        if run.status == "failed" and self.on_failure is not None:
            try:
                self.on_failure(job, run)
            except Exception as error:  # a notification must never stop the schedule
                warnings.warn(
                    f"on_failure for job {job_id!r} raised {type(error).__name__}: {error}",
                    RuntimeWarning,
                    stacklevel=1,
                )

    def _refused(self, event: Any) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        # The row first: whoever sees the status can read the row (flush) at once.
        self._history.record_skipped(job.pipeline.__name__, job.id, time.time(), OVERLAP_REASON)
        job.last_status = "skipped"
