"""Scheduled cells in a real kernel: where a job's output goes, and what kernel shutdown leaves."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from kernel_support import execute, printed, running_kernel

pytestmark = pytest.mark.slow

SETUP = """\
%load_ext pointy_jupyter
import time
ticks = []
def tick():
    ticks.append(1)
    print(f"tick {len(ticks)}")
"""

# Runs at interpreter exit after the extension's own exit hooks (atexit is last in, first out):
# what threads are left once the scheduler and the history have stopped.
PROBE = """\
import atexit, json, threading
baseline = {t.ident for t in threading.enumerate()}
def _left_at_exit(path=PATH):
    left = [t.name for t in threading.enumerate() if t.ident not in baseline and t.is_alive()]
    with open(path, "w") as file:
        json.dump(left, file)
atexit.register(_left_at_exit)
"""


def _the(client: Any, expression: str) -> Any:
    """The value of `expression` in the kernel (printed as JSON there)."""
    return json.loads(printed(execute(client, f"import json\nprint(json.dumps({expression}))")))


def own_history(path: Path) -> str:
    """A cell giving the kernel a history file of its own (before the extension loads)."""
    return f"import os\nos.environ['POINTY_HISTORY'] = {str(path)!r}"


def test_a_scheduled_runs_output_goes_to_its_jobs_widget_not_the_running_cell(tmp_path):
    with running_kernel(tmp_path, own_history(tmp_path / "history.sqlite3")) as (_, client):
        execute(client, SETUP)
        scheduled = execute(client, "%%pointy --every 0.2\ntick")
        assert printed(scheduled).startswith("job 'tick' scheduled (every 0.2 s); next runs: ")
        busy = execute(client, "time.sleep(1.5)\nprint('busy cell done')")  # the job fires here
        jobs = "get_ipython().magics_manager.registry['PointyMagics'].jobs"
        execute(client, f"{jobs}.scheduler.job('tick').pause()\ntime.sleep(0.3)")
        count = _the(client, "len(ticks)")
        assert count >= 3
        assert printed(busy) == "busy cell done\n"
        # Nothing a tick printed reached any cell's stream, whatever the parent.
        seen = scheduled + busy
        streams = [m["content"]["text"] for m in seen if m["msg_type"] == "stream"]
        assert not [text for text in streams if re.search(r"tick \d", text)]
        # It went to the job's own Output widget (shown by `%pointy jobs`), in order.
        output_id = _the(client, f"{jobs}._outputs['tick'].model_id")
        syncs = [
            m["content"]["data"]["state"]["outputs"]
            for m in seen
            if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == output_id
        ]
        assert syncs, "the job's Output widget was never updated"
        assert syncs[-1][0]["text"].startswith("tick 1\ntick 2\n")  # each sync is the whole text
        widget_text = _the(client, f"{jobs}._outputs['tick'].outputs[0]['text']")
        assert widget_text == "".join(f"tick {n}\n" for n in range(1, count + 1))
        # And each run is in the history as a scheduled run.
        rows = _the(
            client,
            "[list(r) for r in (lambda h: h[h['trigger'] == 'schedule'])"
            "(get_ipython().run_line_magic('pointy', 'history'))[['job', 'status']].values]",
        )
        # (a firing that came while the previous run still went, on a loaded machine, is skipped)
        assert [row for row in rows if row[1] != "skipped"] == [["tick", "succeeded"]] * count


def test_kernel_shutdown_stops_the_scheduler_leaves_no_thread_and_keeps_the_history(tmp_path):
    history = tmp_path / "history.sqlite3"
    left_file = tmp_path / "left.json"
    with running_kernel(tmp_path, own_history(history)) as (manager, client):
        execute(client, PROBE.replace("PATH", repr(str(left_file))))
        execute(client, SETUP)
        execute(client, "%%pointy --every 0.1\ntick")
        execute(client, "time.sleep(1.0)")
        ran = _the(client, "len(ticks)")
        assert ran >= 3
        manager.shutdown_kernel(now=False)  # a shutdown request, as JupyterLab sends it
        assert not manager.is_alive()
    assert json.loads(left_file.read_text()) == []  # the probe ran, and found nothing left
    assert not history.with_name(history.name + "-wal").exists()  # closed cleanly
    connection = sqlite3.connect(history)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        statuses = [row[0] for row in connection.execute("SELECT status FROM runs")]
    finally:
        connection.close()
    # Every run that ran is kept: finished ones, one cancelled by the shutdown if it was going,
    # and firings skipped because the previous run still went (a loaded machine).
    assert len(statuses) >= ran
    assert set(statuses) <= {"succeeded", "cancelled", "skipped"}
    assert statuses.count("succeeded") >= ran - 1
