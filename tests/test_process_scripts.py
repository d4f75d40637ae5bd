"""Process-pool runs started the ways users start Python: the top level runs exactly once.

Each case is a real interpreter. The code under test writes one `top <pid>` line to a marker
file from its top level and the event writes `event <pid>`: a worker that imported the main
module (or the events' module) again would add `top` lines. Every subprocess gets its own
session, and a hung one is killed with its whole group, so a regression cannot leave workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

EVENTS = """\
import os
from pointy_engine import EventBase, Pipeline, event

MARKER = os.environ["POINTY_MARKER"]

def mark(what):
    with open(MARKER, "a") as file:
        file.write(f"{what} {os.getpid()}\\n")

mark("top")

class Work(EventBase):
    executor = "process"

    def process(self):
        mark("event")
        return True, os.getpid()

@event(executor="process")
def Twice(previous_result):
    mark("event")
    return True, previous_result

class Script(Pipeline):
    class Meta:
        pointy = "Work |-> Twice"
"""

START = """\
run = Script().start()
print(run.status, run.nodes["Work"].value != os.getpid())
"""


def run_python(args: list[str], cwd: Path, stdin: str | None = None) -> tuple[str, str]:
    env = {**os.environ, "POINTY_MARKER": str(cwd / "marker.txt")}
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(stdin, timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{args} hung; marker: {marker_lines(cwd)[:20]}\n{err[-2000:]}")
    assert process.returncode == 0, err
    return out, err


def marker_lines(cwd: Path) -> list[str]:
    path = cwd / "marker.txt"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def assert_top_level_once(cwd: Path, out: str, err: str) -> None:
    assert out.splitlines()[-1] == "succeeded True"
    assert marker_lines(cwd) == ["top", "event", "event"]
    assert "bootstrapping phase" not in err, err
    assert "Traceback" not in err, err


def test_an_unguarded_script(tmp_path: Path) -> None:
    (tmp_path / "unguarded.py").write_text(EVENTS + START)
    assert_top_level_once(tmp_path, *run_python(["unguarded.py"], tmp_path))


def test_a_guarded_script(tmp_path: Path) -> None:
    guarded = EVENTS + 'if __name__ == "__main__":\n' + textwrap.indent(START, "    ")
    (tmp_path / "guarded.py").write_text(guarded)
    assert_top_level_once(tmp_path, *run_python(["guarded.py"], tmp_path))


def test_a_script_run_with_python_m(tmp_path: Path) -> None:
    package = tmp_path / "jobs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nightly.py").write_text(EVENTS + START)
    assert_top_level_once(tmp_path, *run_python(["-m", "jobs.nightly"], tmp_path))


def test_python_c(tmp_path: Path) -> None:
    assert_top_level_once(tmp_path, *run_python(["-c", EVENTS + START], tmp_path))


def test_standard_input(tmp_path: Path) -> None:
    assert_top_level_once(tmp_path, *run_python(["-"], tmp_path, stdin=EVENTS + START))


def test_an_imported_module_that_starts_a_pipeline_while_it_is_imported(tmp_path: Path) -> None:
    # The case that recursed: by reference, every worker imported `nightly` to find `Work`,
    # which started the pipeline again inside the worker, which started more workers, ...
    (tmp_path / "nightly.py").write_text(EVENTS + START)
    (tmp_path / "main.py").write_text("import nightly\nprint(nightly.run.status)\n")
    out, err = run_python(["main.py"], tmp_path)
    assert out.splitlines() == ["succeeded True", "succeeded"]
    assert marker_lines(tmp_path) == ["top", "event", "event"]
    assert "Traceback" not in err, err


def test_an_imported_module_whose_events_a_script_runs(tmp_path: Path) -> None:
    (tmp_path / "nightly.py").write_text(EVENTS)
    (tmp_path / "main.py").write_text("import os\nfrom nightly import Script\n" + START)
    assert_top_level_once(tmp_path, *run_python(["main.py"], tmp_path))


def test_a_notebook_kernel(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    cells = [EVENTS, START]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["POINTY_MARKER"] = str(tmp_path / "marker.txt")
    NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute(env=env)
    assert notebook.cells[-1].outputs[0]["text"] == "succeeded True\n"
    assert marker_lines(tmp_path) == ["top", "event", "event"]


FAILING = """\
import threading
from pointy_engine import EventBase, Pipeline, event

def check(rows):
    if not rows:
        raise ValueError("no rows to load")

class Load(EventBase):
    executor = "process"

    def process(self):
        check([])
        return True, 1

@event(executor="process")
def Keep():
    return True, threading.Lock()

class Failing(Pipeline):
    class Meta:
        pointy = "Load -> Keep"

run = Failing().start()
print(run.nodes["Load"].error.traceback)
print(run.nodes["Keep"].error)
"""


def test_worker_tracebacks_show_the_script_file_line_and_source(tmp_path: Path) -> None:
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    out, _ = run_python(["failing.py"], tmp_path)
    traceback, unpicklable = out.rstrip("\n").rsplit("\n", 1)
    assert "<dynamic-code>" not in traceback
    assert (
        f'  File "{script}", line 12, in process\n    check([])\n'
        f'  File "{script}", line 6, in check\n    raise ValueError("no rows to load")\n'
        "ValueError: no rows to load"
    ) in traceback
    assert unpicklable == (
        "UnpicklableValueError: Keep returned a value of type _thread.lock that cannot be sent "
        "back from its worker process (TypeError: cannot pickle '_thread.lock' object); the "
        f"event is at {script}, line 15"
    )


def test_worker_tracebacks_show_the_notebook_cell_and_its_source(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    cells = [
        "from pointy_engine import EventBase, Pipeline\n"
        "class Load(EventBase):\n"
        "    executor = 'process'\n"
        "    def process(self):\n"
        "        raise KeyError('id')\n",
        "class Cell(Pipeline):\n    class Meta:\n        pointy = 'Load'\n"
        "print(Cell().start().nodes['Load'].error.traceback)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute(env=env)
    text = notebook.cells[-1].outputs[0]["text"]
    frame, source = text.splitlines()[1:3]
    assert "<dynamic-code>" not in text
    assert frame.startswith('  File "'), frame
    assert frame.endswith('", line 5, in process'), frame
    assert source == "    raise KeyError('id')"


BATCH = """\
import os
from pointy_engine import EventBase, InputDataField, Pipeline
from pointy_engine.pipeline import BatchPipeline

with open(os.environ["POINTY_MARKER"], "a") as file:
    file.write(f"top {os.getpid()}\\n")

class Sum(EventBase):
    def process(self, numbers):
        return True, (sum(numbers), os.getpid())

class Part(Pipeline):
    numbers = InputDataField(data_type=list, batch_size=3)

    class Meta:
        pointy = "Sum"

class Parts(BatchPipeline):
    pipeline_template = Part

batch_run = Parts(numbers=list(range(9))).execute(max_workers=2)
print(batch_run.status, [total for total, _ in batch_run.results])
print(all(pid != os.getpid() for _, pid in batch_run.results))
"""


def test_a_process_pool_batch_from_an_unguarded_script(tmp_path: Path) -> None:
    (tmp_path / "batches.py").write_text(BATCH)
    out, err = run_python(["batches.py"], tmp_path)
    assert out.splitlines() == ["succeeded [3, 12, 21]", "True"]
    assert marker_lines(tmp_path) == ["top"]
    assert "Traceback" not in err, err


LOCKED = """\
import os
import threading
from pointy_engine import EventBase, Pipeline

GUARD = threading.Lock()  # a module global that cannot pickle

class Guarded(EventBase):
    executor = "process"

    def process(self):
        with GUARD:
            return True, os.getpid()

class Locked(Pipeline):
    class Meta:
        pointy = "Guarded"
"""


def test_an_event_whose_module_globals_do_not_pickle_is_imported_by_the_worker(tmp_path):
    # By value its lock would have to travel; the worker imports the module instead.
    (tmp_path / "locked.py").write_text(LOCKED)
    (tmp_path / "main.py").write_text(
        "import os\nfrom locked import Locked\nrun = Locked().start()\n"
        "print(run.status, run.nodes['Guarded'].value != os.getpid())\n"
    )
    out, err = run_python(["main.py"], tmp_path)
    assert out.splitlines() == ["succeeded True"]
    assert "Traceback" not in err, err


def test_such_an_event_started_while_its_module_is_imported_fails_clearly(tmp_path):
    # Importing it in the worker would start the pipeline again there: a clear error instead.
    (tmp_path / "locked.py").write_text(LOCKED + "run = Locked().start()\n")
    (tmp_path / "main.py").write_text(
        "import locked\nprint(locked.run.status)\nprint(locked.run.nodes['Guarded'].error)\n"
    )
    out, err = run_python(["main.py"], tmp_path)
    assert out.splitlines() == [
        "failed",
        "PointyError: Guarded.process cannot be sent to a worker process: "
        "cannot pickle '_thread.lock' object",
    ]
    assert "Traceback" not in err, err


HELPERS = """\
import os

with open(os.environ["POINTY_MARKER"], "a") as file:
    file.write(f"top {os.getpid()}\\n")

def bump(number):
    return number + 1

def tidy(number):
    return number * 10
"""

USES_HELPERS = """\
import os
from helpers import bump, tidy
from pointy_engine import EventBase, Pipeline

class Step(EventBase):
    executor = "process"

    def process(self):
        return True, (tidy(bump(1)), os.getpid())

class WithHelpers(Pipeline):
    class Meta:
        pointy = "Step"
"""


def test_helpers_from_another_module_do_not_rerun_its_top_level_in_workers(tmp_path):
    # `from helpers import ...`: the helpers travel by value with the event.
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "steps.py").write_text(USES_HELPERS)
    (tmp_path / "main.py").write_text(
        "import os\nfrom steps import WithHelpers\nrun = WithHelpers().start()\n"
        "value, pid = run.nodes['Step'].value\nprint(run.status, value, pid != os.getpid())\n"
    )
    out, err = run_python(["main.py"], tmp_path)
    assert out.splitlines() == ["succeeded 20 True"]
    assert marker_lines(tmp_path) == ["top"]  # helpers' top level ran in this process only
    assert "Traceback" not in err, err
