"""Stale steps and the cache in a notebook: the post_run_cell hook, `%pointy cache`, restarts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from engine_support import WAIT
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

DEFINE = """\
calls = []
def A():
    calls.append("A")
    return 1
def B(previous_result):
    calls.append("B")
    return previous_result + 1
def C(previous_result):
    calls.append("C")
    return previous_result * 10
"""


@pytest.fixture
def nb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A shell with the extension loaded and widgets on, in an empty folder."""
    import IPython

    shell = start_ipython() or IPython.get_ipython()
    monkeypatch.chdir(tmp_path)
    before = set(shell.user_ns)
    cell(shell, "%load_ext pointy_jupyter")
    shell.magics_manager.registry["PointyMagics"].session.widgets = True
    yield shell
    cell(shell, "%unload_ext pointy_jupyter")
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def cell(shell: Any, source: str) -> str:
    with capture_output(display=False) as captured:
        result = shell.run_cell(source)
    assert result.success, captured.stdout + captured.stderr
    return captured.stdout


def controller(shell: Any) -> Any:
    return shell.magics_manager.registry["PointyMagics"].session.controllers[-1]


def test_a_later_cell_redefining_an_event_marks_it_and_downstream_stale(nb: Any) -> None:
    cell(nb, DEFINE)
    cell(nb, "%%pointy -o r\nA |-> B |-> C")
    widget = controller(nb).widget
    assert nb.user_ns["r"].stale == []
    cell(nb, "x = 1")  # no event changed
    assert widget.stale == []
    cell(nb, 'def B(previous_result):\n    calls.append("B2")\n    return previous_result + 2')
    assert nb.user_ns["r"].stale == ["B", "C"]
    assert widget.stale == ["B", "C"]
    assert widget.controls["rerun_stale"] is True

    widget.command({"type": "rerun", "mode": "stale", "node": None})
    again = controller(nb).run
    again.wait(WAIT)
    assert nb.user_ns["calls"] == ["A", "B", "C", "B2", "C"]
    assert {k: r.state for k, r in again.nodes.items()} == {
        "A": "succeeded",
        "B": "succeeded",
        "C": "succeeded",
    }
    assert again.value == 30
    assert widget.stale == []  # the new run is fresh


def test_after_a_cell_only_runs_using_a_rebound_name_are_checked_again(
    nb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pointy_engine.run import Run

    cell(nb, DEFINE + "def D():\n    return 4\n")
    for _ in range(3):
        cell(nb, "%%pointy\nA |-> B")
    cell(nb, "%%pointy -o d\nD")
    checked: list[str] = []
    real = Run.mark_stale

    def counting(run: Run, events: Any) -> set[str]:
        checked.append(",".join(sorted(run.nodes)))
        return real(run, events)

    monkeypatch.setattr(Run, "mark_stale", counting)
    cell(nb, "x = 1")  # no event name bound anew: no run is checked
    assert checked == []
    cell(nb, "def D():\n    return 5")
    assert checked == ["D"]
    assert nb.user_ns["d"].stale == ["D"]
    cell(nb, 'def B(previous_result):\n    calls.append("B2")\n    return 0')
    assert checked == ["D", "A,B", "A,B", "A,B"]
    assert [c.run.stale for c in nb.magics_manager.registry["PointyMagics"].session.controllers][
        -4:
    ] == [["B"], ["B"], ["B"], ["D"]]


def test_unload_removes_the_staleness_hook(nb: Any) -> None:
    watcher = nb.magics_manager.registry["PointyMagics"].staleness
    assert watcher in nb.events.callbacks["post_run_cell"]
    cell(nb, "%unload_ext pointy_jupyter")
    assert watcher not in nb.events.callbacks["post_run_cell"]
    cell(nb, "%load_ext pointy_jupyter")  # for the fixture's unload


def test_cache_cells_and_the_cache_line_magic(nb: Any, tmp_path: Path) -> None:
    cell(nb, DEFINE)
    cell(nb, "%%pointy --cache -o first\nA |-> B |-> C")
    cell(nb, "%%pointy --cache -o second\nA |-> B |-> C")
    assert nb.user_ns["calls"] == ["A", "B", "C"]
    second = nb.user_ns["second"]
    assert {k: r.state for k, r in second.nodes.items()} == dict.fromkeys("ABC", "cached")
    assert (tmp_path / ".pointy-cache").is_dir()

    shown = cell(nb, "entries = %pointy cache")
    frame = nb.user_ns["entries"]
    assert sorted(frame["event"]) == ["A", "B", "C"]
    assert list(frame.columns) == ["event", "bytes", "duration", "stored", "used", "key"]
    size = int(frame["bytes"].sum())
    assert shown == f"3 cache entries, {size} bytes in .pointy-cache\n"
    assert frame.attrs == {"bytes": size, "folder": str(tmp_path / ".pointy-cache")}
    assert cell(nb, "%pointy cache clear B") == "removed 1 cache entry of 'B'\n"
    cell(nb, "%%pointy --cache -o third\nA |-> B |-> C")
    third = nb.user_ns["third"]
    assert {k: r.state for k, r in third.nodes.items()} == {
        "A": "cached",
        "B": "succeeded",
        "C": "cached",
    }
    assert cell(nb, "%pointy cache clear") == "removed 3 cache entries\n"


def test_the_details_of_a_cached_step_say_when_it_ran_and_what_it_took(nb: Any) -> None:
    import time

    cell(nb, DEFINE)
    cell(nb, "%%pointy --cache -o first\nA |-> B |-> C")
    cell(nb, "%%pointy --cache -o second\nA |-> B |-> C")
    first, second = nb.user_ns["first"], nb.user_ns["second"]
    widget = controller(nb).widget
    widget.select("B")
    computed = second.nodes["B"].cached_at
    assert first.nodes["B"].started <= computed <= first.nodes["B"].finished + 1
    assert widget.detail == {
        "node": "B",
        "state": "cached",
        "attempts": 0,
        "duration": round(first.nodes["B"].duration, 6),  # what it took when it ran
        "total": None,
        "descriptor": 1,
        "worker": "cache",
        "value": "2",
        "error": None,
        "traceback": None,
        "output": None,
        "where": "from the cache: the event did not run; computed "
        + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(computed)),
    }
    assert repr(widget) == f"RunWidget(run={second.id!r}, status='succeeded', nodes=3, cached=3)"
    picture = widget.snapshot_html()
    assert picture.count('data-state="cached"') == 3
    assert 'title="B: cached: from the cache, the duration is from when it ran"' in picture
    assert f"Pointy run <b>{second.id}</b> succeeded: 3 cached" in picture


def test_a_step_the_cache_cannot_take_says_why_in_its_details(nb: Any) -> None:
    cell(nb, "import threading\nlock = threading.Lock()\ndef Locked(x):\n    return 'done'")
    cell(nb, "%%pointy --cache -o r --input x=lock\nLocked")
    widget = controller(nb).widget
    widget.select("Locked")
    assert widget.detail["state"] == "succeeded"
    assert widget.detail["cache"] == (
        "not cacheable: input 'x': lock value cannot be pickled"
        " (cannot pickle '_thread.lock' object)"
    )
    assert "where" not in widget.detail


def test_pointy_cache_names_another_folder_from_a_cell_on(
    nb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell(nb, DEFINE)
    cell(nb, "%%pointy --cache --no-widget\nA |-> B")
    monkeypatch.setenv("POINTY_CACHE", str(tmp_path / "elsewhere"))
    cell(nb, "%%pointy --cache --no-widget -o moved\nA |-> B")
    moved = nb.user_ns["moved"]
    assert {k: r.state for k, r in moved.nodes.items()} == dict.fromkeys("AB", "succeeded")
    assert cell(nb, "%pointy cache clear") == "removed 2 cache entries\n"  # of elsewhere/
    assert sorted(p.name for p in (tmp_path / ".pointy-cache").iterdir()) != []  # kept
    assert cell(nb, "e = %pointy cache") == "0 cache entries, 0 bytes in elsewhere\n"


KERNEL_CELLS = [
    "%load_ext pointy_jupyter",
    "from pathlib import Path\n"
    "def mark(name):\n"
    "    with open('marker.txt', 'a') as file:\n"
    "        file.write(name + '\\n')\n"
    "def Load():\n    mark('Load')\n    return [1, 2, 3]\n"
    "def Total(previous_result):\n    mark('Total')\n    return sum(previous_result)\n",
    "%%pointy --cache --no-widget -o r\nLoad |-> Total",
    "print(r.status, r.value, sorted((k, n.state) for k, n in r.nodes.items()))",
]


@pytest.mark.slow
def test_cached_nodes_do_not_run_again_after_a_kernel_restart(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in KERNEL_CELLS]
    # As the kernel fixture of test_magics: a kernel that sees pytest's variables dies at start.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    printed = []
    for _ in range(2):  # each execution is a new kernel: run, restart, run again
        executed = nbformat.from_dict(nbformat.v4.new_notebook(cells=notebook.cells))
        NotebookClient(
            executed, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        ).execute(env=env)
        printed.append(executed.cells[-1].outputs[0]["text"])
    assert (tmp_path / "marker.txt").read_text() == "Load\nTotal\n"
    assert printed == [
        "succeeded 6 [('Load', 'succeeded'), ('Total', 'succeeded')]\n",
        "succeeded 6 [('Load', 'cached'), ('Total', 'cached')]\n",
    ]
    assert (tmp_path / ".pointy-cache").is_dir()
