"""The installed `pointy` command, run in a subprocess: exit codes, history, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

POINTY = Path(sys.executable).with_name("pointy")
EVENTS = """
import time

def Load(count=3):
    return list(range(count))

def Total(previous_result):
    print("total", sum(previous_result), flush=True)
    return sum(previous_result)

def Slow():
    print("slow started", flush=True)
    time.sleep(30)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "nightly.pty").write_text("Load |-> Total\n")
    (tmp_path / "slow.pty").write_text("Slow\n")
    (tmp_path / "nightly_events.py").write_text(textwrap.dedent(EVENTS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POINTY_HISTORY", str(tmp_path / "history.sqlite3"))
    return tmp_path


def pointy(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POINTY), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_run_succeeds_and_is_in_history(project):
    done = pointy("run", "nightly.pty", "--events", "nightly_events", "--input", "count=5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "total 10"
    assert done.stdout.splitlines()[1].endswith(": succeeded")
    listed = pointy("history", "--limit", "1")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["started", "status", "trigger", "seconds", "pipeline", "run", "id"]
    assert lines[1].split()[2:4] == ["succeeded", "cli"]
    assert lines[1].split()[5] == "Nightly"


def test_failed_run_exits_1_and_names_the_node(project):
    done = pointy("run", "nightly.pty", "--events", "nightly_events.py", "--input", "count='x'")
    assert done.returncode == 1
    assert done.stdout.splitlines()[1] == (
        "  Load failed: TypeError: 'str' object cannot be interpreted as an integer"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nightly.pty", "--events", "missing_mod"],
         "pointy: error: --events: no module 'missing_mod' importable from here"),
        (["run", "absent.pty", "--events", "nightly_events"],
         "pointy: error: no flow file 'absent.pty'"),
        (["run", "nightly.pty", "--events", "nightly_events", "--input", "count"],
         "pointy: error: --input takes NAME=VALUE, not 'count'"),
        (["schedule", "nightly.pty", "--events", "nightly_events", "--cron", "0 24 * * *"],
         "pointy: error: cron '0 24 * * *': field 2 (hour) is '24'; allowed: 0-23, '*', lists "
         "(a,b), ranges (a-b) and steps (*/n)"),
        (["schedule", "nightly.pty", "--events", "nightly_events", "--every", "0"],
         "pointy: error: every: the interval must be positive, not 0.0"),
        (["schedule", "nightly.pty", "--events", "nightly_events"],
         "pointy: error: one of the arguments --every --cron --at is required"),
        (["history", "--limit", "0"], "pointy: error: --limit must be at least 1, not 0"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(project, args, message):
    done = pointy(*args)
    assert (done.returncode, done.stderr, done.stdout) == (2, message + "\n", "")


def test_help_lists_every_command(project):
    done = pointy("--help")
    assert done.returncode == 0
    for command in ("run", "schedule", "history"):
        assert f"    {command} " in done.stdout


def test_notebook_events(project):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# events"]},
            {"cell_type": "code", "source": ["%load_ext pointy_jupyter\n", "def Slow():\n",
                                            "    print('from the notebook', flush=True)\n"]},
            {"cell_type": "code", "source": ["%%pointy\n", "Slow"]},
        ]
    }  # fmt: skip
    import json

    (project / "events.ipynb").write_text(json.dumps(notebook))
    done = pointy("run", "slow.pty", "--events", "events.ipynb")
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, "from the notebook")


def test_schedule_runs_until_max_runs(project):
    done = pointy("schedule", "nightly.pty", "--events", "nightly_events", "--every", "0.05",
                  "--max-runs", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("total 3") == 2
    listed = pointy("history")
    assert [line.split()[3] for line in listed.stdout.splitlines()[1:]] == ["schedule"] * 2


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(POINTY), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_sigterm_during_a_schedule_stops_cleanly(project):
    process = _start("schedule", "nightly.pty", "--events", "nightly_events", "--every", "0.05")
    try:
        lines = iter(process.stdout.readline, "")  # ends if the process does
        assert any(line.endswith(": succeeded\n") for line in lines)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, err) == (0, "")


def test_ctrl_c_cancels_a_run_with_130(project):
    process = _start("run", "slow.pty", "--events", "nightly_events")
    try:
        assert process.stdout.readline() == "slow started\n"
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, err) == (130, "cancelled\n")


KILLED_WRITER = """
import sys
from pointy_engine import Pipeline
from pointy_engine.scheduling import Scheduler

class Tick(Pipeline):
    class Meta:
        pointy = "Work"

s = Scheduler(sys.argv[1]).start()
s.schedule(Tick, every=0.01, events={"Work": lambda: sum(range(10000))})
print("started", flush=True)
import threading
threading.Event().wait()  # until killed
"""


def test_sigkill_mid_write_leaves_every_committed_run(project):
    import sqlite3

    from pointy_engine.scheduling.history import read_rows

    path = project / "killed.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "started\n"
        seen: list[tuple] = []
        deadline = time.monotonic() + 30
        while len(seen) < 20 and time.monotonic() < deadline:  # runs keep committing meanwhile
            seen = read_rows(path)
        assert len(seen) >= 20
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    kept = {row[0] for row in connection.execute("SELECT run_id FROM runs")}
    assert {row[0] for row in seen} <= kept
    assert {row[6] for row in read_rows(path)} <= {"succeeded", "skipped"}
