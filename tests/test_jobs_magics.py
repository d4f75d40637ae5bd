"""`%%pointy --every/--cron/--at`, `%pointy jobs`, `%pointy history`, the scheduler lifecycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

from pointy_jupyter.errors import PointyCellError


@pytest.fixture(scope="module")
def shell() -> Any:
    import IPython

    return start_ipython() or IPython.get_ipython()


@pytest.fixture
def ip(shell: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[Any]:
    monkeypatch.setenv("POINTY_HISTORY", str(tmp_path / "history.sqlite3"))
    before = set(shell.user_ns)
    cell(shell, "%load_ext pointy_jupyter")
    yield shell
    cell(shell, "%unload_ext pointy_jupyter")
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def cell(shell: Any, source: str) -> Any:
    with capture_output() as captured:
        result = shell.run_cell(source)
    result.captured = captured
    return result


def jobs_of(shell: Any) -> Any:
    return shell.magics_manager.registry["PointyMagics"].jobs


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.01)


def test_a_cell_registers_a_job_and_resolves_events_at_fire_time(ip: Any) -> None:
    cell(ip, "seen = []\ndef beat():\n    seen.append('old')")
    result = cell(ip, "%%pointy --every 0.05\nbeat")
    assert result.success, result.captured.stdout
    lines = result.captured.stdout.splitlines()
    assert lines[0].startswith("job 'beat' scheduled (every 0.05 s); next runs: ")
    assert (
        lines[1] == "it lives as long as this kernel; `%pointy jobs` to pause, resume or remove it"
    )
    wait_for(lambda: "old" in ip.user_ns["seen"])
    cell(ip, "def beat():\n    seen.append('new')")
    wait_for(lambda: "new" in ip.user_ns["seen"])


def test_running_the_cell_again_replaces_the_job(ip: Any) -> None:
    cell(ip, "def beat():\n    pass")
    assert cell(ip, "%%pointy --every 1h\nbeat").success
    assert cell(ip, '%%pointy --cron "0 0 * * *"\nbeat').success
    frame = cell(ip, "%pointy jobs").result
    assert frame[["id", "trigger"]].values.tolist() == [["beat", "cron 0 0 * * *"]]


def test_history_magic_shows_cell_and_scheduled_runs(ip: Any) -> None:
    cell(ip, "def beat():\n    return 1")
    assert cell(ip, "%%pointy --every 0.05\nbeat").success
    jobs = jobs_of(ip)
    wait_for(lambda: jobs.scheduler.job("beat").last_status == "succeeded")
    jobs.scheduler.job("beat").pause()
    frame = cell(ip, "%pointy history").result
    assert set(frame["trigger"]) == {"schedule"}
    # A loaded machine may make a firing come while the previous run still goes: kept as skipped.
    assert "succeeded" in set(frame["status"])
    assert set(frame["status"]) <= {"succeeded", "skipped"}
    skipped = frame[frame["status"] == "skipped"]
    assert set(skipped["error"]) <= {"skipped: the previous run of this job was still going"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%%pointy --every 0", "%%pointy: every: the interval must be positive, not 0.0"),
        ('%%pointy --cron "0 0 * *"', "%%pointy: cron '0 0 * *': expected 5 fields (minute hour "
         "day-of-month month day-of-week), got 4"),
        ('%%pointy --at "2001-01-01 00:00"', "%%pointy: at: 2001-01-01 00:00:00"),
        ("%%pointy --every 1 --cron '* * * * *'", "give one of --every, --cron or --at, not every "
         "and cron"),
        ("%%pointy --every 1 --background",
         "--every registers a job: leave out --background, --plan and --timeout"),
    ],
)  # fmt: skip
def test_bad_schedules_register_nothing(ip: Any, line: str, message: str) -> None:
    cell(ip, "def beat():\n    pass")
    result = cell(ip, f"{line}\nbeat")
    assert isinstance(result.error_in_exec, PointyCellError)
    assert str(result.error_in_exec).startswith(message)
    assert jobs_of(ip)._scheduler is None or jobs_of(ip).frame().empty


def test_jobs_widget_buttons_pause_resume_run_now_and_remove(ip: Any) -> None:
    cell(ip, "calls = []\ndef beat():\n    calls.append(1)")
    assert cell(ip, "%%pointy --every 1h\nbeat").success
    jobs = jobs_of(ip)
    widget = jobs.widget()
    # Saved in a notebook, the widget keeps the rows as text (shown when reopened, no kernel).
    from pointy_jupyter.saved_view import SAVED_VIEW_MIME

    saved = widget._repr_mimebundle_()
    assert SAVED_VIEW_MIME in saved
    assert "<b>beat</b>" in saved["text/html"]
    assert "last status: not run yet" in saved["text/html"]
    assert "<button" not in saved["text/html"]
    row = widget.children[1]
    buttons = {button.description: button for button in row.children[1].children}
    assert list(buttons) == ["Pause", "Resume", "Run now", "Remove"]
    buttons["Pause"].click()
    assert jobs.frame()["paused"].tolist() == [True]
    assert "next run: paused" in widget.children[1].children[0].value
    buttons["Resume"].click()
    assert jobs.frame()["paused"].tolist() == [False]
    assert "last status: not run yet" in widget.children[1].children[0].value
    buttons["Run now"].click()
    wait_for(lambda: ip.user_ns["calls"] == [1])
    # The shown row follows the run without a click on Refresh.
    wait_for(lambda: "last status: succeeded" in widget.children[1].children[0].value)
    buttons["Remove"].click()
    assert jobs.frame().empty
    assert widget.children[1].value == "No scheduled jobs."


def test_unload_stops_the_scheduler_and_leaves_no_thread(
    shell: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("POINTY_HISTORY", str(tmp_path / "history.sqlite3"))
    before = set(threading.enumerate())
    cell(shell, "%load_ext pointy_jupyter")
    cell(shell, "import threading\nhold = threading.Event()\ndef wait_long():\n    hold.wait(30)")
    assert cell(shell, "%%pointy --every 0.05\nwait_long").success
    jobs = jobs_of(shell)
    scheduler = jobs.scheduler
    wait_for(lambda: scheduler.job("wait_long").current_run is not None)
    run = scheduler.job("wait_long").current_run
    jobs.grace = 0.1  # the event ignores cancellation: unload must not wait 30 s for it
    hold = shell.user_ns["hold"]
    cell(shell, "%unload_ext pointy_jupyter")
    assert (jobs._scheduler, scheduler.running) == (None, False)
    hold.set()  # the inline event returns; the run ends and its thread with it
    assert run.wait(10).done
    wait_for(lambda: not (set(threading.enumerate()) - before))


def test_runs_and_history_agree_on_every_run_of_the_kernel(ip: Any) -> None:
    cell(ip, "def fetch():\n    return 1\ndef flaky():\n    raise OSError('down')")
    assert cell(ip, "%%pointy -o r\nfetch -> flaky").success
    assert cell(ip, "again = r.rerun('failed').start()").success
    cell(ip, "from engine_support import run_flow\napi = run_flow('fetch', {'fetch': fetch})")
    assert cell(ip, "%%pointy --every 0.05\nfetch").success
    jobs = jobs_of(ip)
    wait_for(lambda: jobs.scheduler.job("fetch").last_status == "succeeded")
    jobs.scheduler.job("fetch").pause()
    wait_for(lambda: jobs.scheduler.job("fetch").current_run is None)
    runs = cell(ip, "%pointy runs").result
    history = cell(ip, "%pointy history").result
    finished = runs[runs["status"] != "running"]
    assert len(finished) >= 4
    mine = history.set_index("run_id").loc[finished["run"]]  # a KeyError if one is missing
    assert mine["status"].tolist() == finished["status"].astype(str).tolist()
    assert mine["pipeline"].tolist() == finished["pipeline"].tolist()
    assert mine["trigger"].tolist() == finished["trigger"].tolist()
    assert mine["started"].tolist() == finished["started"].tolist()
    assert (mine["duration"].to_numpy() - finished["duration"].to_numpy()).max() < 1e-3
    by_run = dict(zip(finished["run"], finished["trigger"]))
    names = ("r", "again", "api")
    assert [by_run[ip.user_ns[name].id] for name in names] == ["cell", "cell", "api"]
    assert "schedule" in set(finished["trigger"])
