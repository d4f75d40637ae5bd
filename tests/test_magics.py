"""`%%pointy` and `%pointy` in a real IPython shell: options, resolution, errors, runs, re-runs."""

from __future__ import annotations

import contextvars
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import ExecutionResult
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import CapturedIO, capture_output
from kernel_support import execute, of_type, printed, running_kernel, synced_outputs

from pointy_engine.errors import PointyError
from pointy_engine.executors import ExecutorInitializerConfig
from pointy_engine.plan import Plan
from pointy_engine.run import Run
from pointy_jupyter.errors import PointyCellError, RunCancelled
from pointy_jupyter.magics import PointyMagics
from pointy_jupyter.output import (
    OUTPUT_LIMIT,
    OutputSink,
    StreamRouter,
    current_sink,
    install_routers,
)
from pointy_jupyter.session import Session
from pointy_jupyter.widget import RunWidget

WAIT = 10.0  # seconds a test waits for a background run before failing

EVENTS = """
from pointy_engine import EventBase, event

def fetch():
    return [3, 1, 2]

def clean(previous_result):
    return sorted(previous_result)

@event
def total(previous_result):
    return True, sum(previous_result)

class Report(EventBase):
    def process(self):
        return True, f"report of {self.previous_result}"
"""


@pytest.fixture(scope="session")
def shell() -> Any:
    import IPython

    return start_ipython() or IPython.get_ipython()


@pytest.fixture
def ip(shell: Any) -> Iterator[Any]:
    """The shell with the extension loaded; names a test defines are removed afterwards."""
    before = set(shell.user_ns)
    run(shell, "%load_ext pointy_jupyter")
    yield shell
    run(shell, "%unload_ext pointy_jupyter")
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


@pytest.fixture
def wip(ip: Any) -> Any:
    """Widgets on, as in a notebook (the test shell has no kernel, so they default to off)."""
    magics(ip).session.widgets = True
    return ip


def magics(shell: Any) -> PointyMagics:
    return shell.magics_manager.registry["PointyMagics"]


def run(shell: Any, source: str) -> tuple[ExecutionResult, CapturedIO]:
    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured


def ok(shell: Any, source: str) -> CapturedIO:
    result, captured = run(shell, source)
    assert result.success, captured.stdout + captured.stderr
    return captured


def error(shell: Any, source: str) -> str:
    """The message a failing cell shows, checked to be shown alone (no traceback)."""
    result, captured = run(shell, source)
    failure = result.error_in_exec
    assert isinstance(failure, PointyCellError), repr(failure)
    message = str(failure)
    assert failure._render_traceback_() == message.splitlines()
    assert captured.stdout.strip() == message
    return message


# --- loading -----------------------------------------------------------------------------------


def test_load_registers_and_unload_removes_everything(shell: Any) -> None:
    table = shell.magics_manager.magics
    ok(shell, "%load_ext pointy_jupyter")
    instance = magics(shell)
    assert table["cell"]["pointy"] == instance.pointy
    assert table["line"]["pointy"] == instance.pointy_line
    assert instance.matcher in shell.Completer.custom_matchers
    ok(shell, "%unload_ext pointy_jupyter")
    assert "pointy" not in table["cell"]
    assert "pointy" not in table["line"]
    assert instance.matcher not in shell.Completer.custom_matchers
    assert shell.magics_manager.registry.get("PointyMagics") is None
    assert instance.session.closed
    result, captured = run(shell, "%%pointy\nfetch")
    assert not result.success
    assert "Cell magic `%%pointy` not found" in captured.stderr
    ok(shell, "%load_ext pointy_jupyter")  # and again
    assert magics(shell) is not instance
    ok(shell, "%reload_ext pointy_jupyter")
    assert magics(shell).matcher in shell.Completer.custom_matchers
    assert shell.Completer.custom_matchers.count(magics(shell).matcher) == 1
    ok(shell, "%unload_ext pointy_jupyter")
    assert not [m for m in shell.Completer.custom_matchers if "pointy" in repr(m)]


def test_unload_cancels_background_runs_and_shuts_the_executors_down(ip: Any) -> None:
    gate = threading.Event()
    ip.user_ns["gate"] = gate
    ok(ip, "def wait():\n    gate.wait(10)\n    return 1")
    try:
        ok(ip, "%%pointy --background --executor thread -o r\nwait")
        background: Run = ip.user_ns["r"]
        session = magics(ip).session
        assert session.active_runs() == [background]
        ok(ip, "%unload_ext pointy_jupyter")
        assert background.status == "cancelled"
        assert background.nodes["wait"].state == "cancelled"
        with pytest.raises(PointyError, match="these executors were shut down"):
            session.executors.get(background.plan.tasks["wait"].executor)
    finally:
        gate.set()
    ok(ip, "%load_ext pointy_jupyter")  # the fixture unloads it again


# --- running -----------------------------------------------------------------------------------


def test_text_progress_prints_a_line_per_finished_node_then_a_summary(ip: Any) -> None:
    ok(ip, EVENTS)
    captured = ok(ip, "%%pointy -o r\nfetch |-> clean |-> total |-> Report (0 -> fetch)")
    assert captured.stdout == (
        "fetch: succeeded\n"
        "clean: succeeded\n"
        "total: succeeded\n"
        "Report: succeeded\n"
        "fetch#2: skipped\n"
        "run succeeded: 4 succeeded, 1 skipped\n"
    )
    result: Run = ip.user_ns["r"]
    assert result.status == "succeeded"
    assert result.value == "report of 6"
    assert result.values == {
        "fetch": [3, 1, 2],
        "clean": [1, 2, 3],
        "total": 6,
        "Report": "report of 6",
    }


def test_a_failure_shows_in_the_text_and_the_run(ip: Any) -> None:
    ok(ip, "def boom():\n    raise ValueError('no good')\ndef after():\n    return 1")
    captured = ok(ip, "%%pointy -o r --no-widget\nboom * 2 -> after")
    assert captured.stdout == (
        "boom: failed ↻2/2: ValueError: no good\n"
        "after: succeeded\n"
        "run failed: 1 succeeded, 1 failed\n"
    )
    failed: Run = ip.user_ns["r"]
    assert failed.status == "failed"
    assert failed.nodes["boom"].attempts == 2
    assert failed.nodes["boom"].error.message == "no good"
    # the lines are printed on the run's loop: its end waits for no listener thread
    # (as the run history's listener does)
    assert "TextProgress" in [type(x).__name__ for x in failed.stream.loop_listeners]
    assert failed.stream.listeners == ()


def test_a_redefinition_in_a_later_cell_takes_effect(ip: Any) -> None:
    ok(ip, "def answer():\n    return 1")
    ok(ip, "%%pointy -o r\nanswer")
    assert ip.user_ns["r"].value == 1
    ok(ip, "def answer():\n    return 2")
    ok(ip, "%%pointy -o r\nanswer")
    assert ip.user_ns["r"].value == 2


def test_the_same_cell_again_reuses_its_binding_until_an_event_changes(ip: Any) -> None:
    ok(ip, "def cell_step():\n    return 1")
    ok(ip, "%%pointy -o first\ncell_step -> cell_step")
    ok(ip, "%%pointy -o second\ncell_step -> cell_step")
    first, second = ip.user_ns["first"], ip.user_ns["second"]
    assert second.graph is first.graph
    assert second.plan.tasks is first.plan.tasks
    ok(ip, "def cell_step():\n    return 2")
    ok(ip, "%%pointy -o third\ncell_step -> cell_step")
    assert ip.user_ns["third"].plan.tasks is not first.plan.tasks
    assert ip.user_ns["third"].value == 2


def test_events_print_under_the_cell_and_into_the_node_output(ip: Any) -> None:
    ok(ip, "def talk():\n    print('hello from talk')\n    return 1")
    captured = ok(ip, "%%pointy -o r\ntalk")
    assert captured.stdout == "hello from talk\ntalk: succeeded\nrun succeeded: 1 succeeded\n"
    assert ip.user_ns["r"].nodes["talk"].output == "hello from talk\n"


def test_inputs_from_expressions_and_a_dict(ip: Any) -> None:
    ok(ip, "def scale(xs, factor):\n    return [x * factor for x in xs]")
    ok(ip, "settings = {'xs': [1, 2], 'factor': 10}")
    ok(ip, "%%pointy --inputs settings -o r\nscale")
    assert ip.user_ns["r"].value == [10, 20]
    ok(ip, '%%pointy --inputs settings --input "factor=2 + 1" -o r\nscale')
    assert ip.user_ns["r"].value == [3, 6]
    ok(ip, "%%pointy --input xs=list(range(3)) --input factor=2 -o r\nscale")
    assert ip.user_ns["r"].value == [0, 2, 4]


def test_a_pipeline_class_gives_fields_and_its_flow(ip: Any) -> None:
    ok(
        ip,
        "from pointy_engine import Pipeline, InputDataField\n"
        "def double(n):\n    return n * 2\n"
        "def square(n):\n    return n * n\n"
        "class Numbers(Pipeline):\n"
        "    n = InputDataField(data_type=int, default=3)\n"
        "    class Meta:\n        pointy = 'double'\n",
    )
    ok(ip, "%%pointy --pipeline Numbers -o r\n# the class's own flow")
    assert ip.user_ns["r"].value == 6
    ok(ip, "%%pointy --pipeline Numbers --input n=5 -o r\nsquare")
    assert ip.user_ns["r"].value == 25


def test_the_executor_option_and_max_workers(ip: Any) -> None:
    ok(ip, "import threading\ndef where():\n    return threading.current_thread().name")
    ok(ip, "%%pointy --executor thread --max-workers 2 -o r\nwhere")
    assert ip.user_ns["r"].value.startswith("pointy")
    ok(ip, "%%pointy --executor inline -o r\nwhere")
    assert ip.user_ns["r"].value == threading.main_thread().name


def test_plan_shows_what_would_run_and_runs_nothing(ip: Any) -> None:
    ok(ip, EVENTS + "\ncalls = []\ndef noted():\n    calls.append(1)\n")
    captured = ok(
        ip,
        "%%pointy --plan -o p\nfetch |-> clean || noted * 3 |-> total (0 -> Report)",
    )
    assert ip.user_ns["calls"] == []
    plan = ip.user_ns["p"]
    assert isinstance(plan, Plan)
    frame = captured.outputs[-1].data["text/plain"]
    assert frame.splitlines() == [
        "         event             kind                 executor  max attempts",
        "node                                                                  ",
        "fetch    fetch         function                   inline             1",
        "clean    clean         function  thread (parallel group)             1",
        "noted    noted         function  thread (parallel group)             3",
        "total    total  @event function                   inline             1",
        "Report  Report  EventBase class                   inline             1",
    ]


def test_plan_names_a_max_workers_override(ip: Any) -> None:
    ok(ip, EVENTS)
    captured = ok(ip, "%%pointy --plan --executor process --max-workers 3\nfetch")
    assert "process, 3 workers" in captured.outputs[-1].data["text/plain"]


def test_background_returns_at_once_and_the_cancel_button_cancels(wip: Any) -> None:
    gate = threading.Event()
    wip.user_ns["gate"] = gate
    ok(wip, "def wait():\n    gate.wait(10)\n    return 'done'\ndef after():\n    return 1")
    try:
        ok(wip, "%%pointy --background -o r\nwait -> after")
        first: Run = wip.user_ns["r"]
        assert not first.done
        gate.set()
        assert first.wait(WAIT).status == "succeeded"
        gate.clear()
        ok(wip, "%%pointy --background --executor thread -o r\nwait -> after")
        second: Run = wip.user_ns["r"]
        widget = magics(wip).session.controllers[-1].widget
        assert isinstance(widget, RunWidget)
        widget.command({"type": "cancel"})
        assert second.wait(WAIT).status == "cancelled"
        assert second.nodes["after"].state == "cancelled"
    finally:
        gate.set()


def test_interrupt_cancels_the_run_and_says_so(wip: Any) -> None:
    ok(wip, "def stop():\n    raise KeyboardInterrupt\ndef after():\n    return 1")
    assert error(wip, "%%pointy -o r\nstop -> after") == "run cancelled"
    cancelled: Run = wip.user_ns["r"]
    assert cancelled.status == "cancelled"
    assert cancelled.nodes["after"].state == "cancelled"
    widget = magics(wip).session.controllers[-1].widget
    assert widget.status == "cancelled"
    result, _ = run(wip, "%%pointy\nstop")
    assert isinstance(result.error_in_exec, RunCancelled)


def test_timeout_cancels_a_run_that_takes_too_long(ip: Any) -> None:
    gate = threading.Event()
    ip.user_ns["gate"] = gate
    ok(ip, "def wait():\n    gate.wait(10)\n    return 1")
    try:
        captured = ok(ip, "%%pointy --timeout 0.2 --executor thread -o r\nwait")
    finally:
        gate.set()
    assert ip.user_ns["r"].status == "cancelled"
    assert captured.stdout == "wait: cancelled\nrun cancelled: 1 cancelled\n"
    assert captured.stderr == "run cancelled: it took longer than --timeout 0.2 s\n"


# --- the widget ---------------------------------------------------------------------------------


def test_the_widget_is_shown_then_updated_with_the_final_picture(wip: Any) -> None:
    ok(wip, EVENTS)
    captured = ok(wip, "%%pointy -o r\nfetch |-> clean")
    first, last = captured.outputs[0], captured.outputs[-1]
    run_id = wip.user_ns["r"].id
    assert (
        first.data["text/plain"]
        == f"RunWidget(run={run_id!r}, status='pending', nodes=2, pending=2)"
    )
    assert last.update
    assert last.data["text/plain"] == (
        f"RunWidget(run={run_id!r}, status='succeeded', nodes=2, succeeded=2)"
    )
    assert 'data-status="succeeded"' in last.data["text/html"]
    assert captured.stdout == ""  # no text progress with the widget


def test_rerun_failed_from_the_widget_uses_the_events_defined_now(wip: Any) -> None:
    ok(wip, "def fetch():\n    return 1\ndef publish(previous_result):\n    raise OSError('down')")
    ok(wip, "%%pointy -o r\nfetch |-> publish")
    first: Run = wip.user_ns["r"]
    assert first.status == "failed"
    ok(wip, "def publish(previous_result):\n    return f'published {previous_result}'")
    controller = magics(wip).session.controllers[-1]
    controller.widget.command({"type": "rerun", "mode": "failed", "node": None})
    second: Run = wip.user_ns["r"]
    assert second is not first
    assert controller.widget.run is second
    assert second.wait(WAIT).status == "succeeded"
    assert second.value == "published 1"
    assert second.nodes["fetch"].value == 1  # reused, not run again
    controller.widget.command({"type": "rerun", "mode": "all", "node": None})
    assert wip.user_ns["r"].wait(WAIT).status == "succeeded"


def test_a_rerun_that_cannot_be_planned_says_why_in_the_widget(wip: Any) -> None:
    ok(wip, "def gone():\n    return 1")
    ok(wip, "%%pointy\ngone")
    del wip.user_ns["gone"]
    widget = magics(wip).session.controllers[-1].widget
    widget.command({"type": "rerun", "mode": "all", "node": None})
    assert widget.message == (
        "re-run failed: PointyCellError: 1 problem in the pipeline:\n"
        "unknown event 'gone' at line 2, column 1\n"
        "  gone\n"
        "  ^^^^\n"
        "Names are looked up in the notebook: define each event above as a function, "
        "an @event function or an EventBase subclass."
    )


def test_the_widget_traceback_names_notebook_cells_as_ipython_does(wip: Any) -> None:
    ok(wip, "def shaky():\n    x = 1\n    raise ValueError('no')")
    ok(wip, "%%pointy\nshaky")
    widget = magics(wip).session.controllers[-1].widget
    widget.command({"type": "select", "node": "shaky"})
    traceback = widget.detail["traceback"]
    assert re.search(r"\n  Cell In\[\d+\], line 3, in shaky\n", traceback), traceback
    assert "ipython-input" not in traceback
    assert "ipykernel_" not in traceback
    assert traceback.endswith("ValueError: no\n")


def test_the_widget_details_show_what_a_node_printed(wip: Any) -> None:
    ok(wip, "def talk():\n    print('hello')\n    return 1")
    ok(wip, "%%pointy\ntalk")
    widget = magics(wip).session.controllers[-1].widget
    widget.command({"type": "select", "node": "talk"})
    assert widget.detail["output"] == "hello\n"


# --- the line magic -----------------------------------------------------------------------------


def test_runs_lists_the_kernels_runs_with_reruns(wip: Any) -> None:
    ok(wip, "def fetch():\n    return 1\ndef flaky():\n    raise OSError('down')")
    ok(wip, "%%pointy -o r\n# a comment first\nfetch -> flaky")
    ok(wip, "%%pointy -o s\nfetch")
    ok(wip, "again = r.rerun('failed').start()")
    ok(wip, "from engine_support import run_flow\napi = run_flow('fetch', {'fetch': fetch})")
    frame = wip.run_line_magic("pointy", "runs")
    assert list(frame.columns) == [
        "run",
        "status",
        "started",
        "duration",
        "nodes",
        "failed",
        "pipeline",
        "trigger",
    ]
    ids = [wip.user_ns[name].id for name in ("r", "s", "again", "api")]
    assert frame["run"].tolist() == ids
    assert frame["status"].tolist() == ["failed", "succeeded", "failed", "succeeded"]
    assert frame["nodes"].tolist() == [2, 1, 2, 1]
    assert frame["failed"].tolist() == [1, 0, 1, 0]
    assert frame["pipeline"].tolist() == ["fetch -> flaky", "fetch", "fetch -> flaky", ""]
    assert frame["trigger"].tolist() == ["cell", "cell", "cell", "api"]
    assert str(frame["started"].dtype) == "datetime64[ns, UTC]"
    assert (frame["duration"] >= 0).all()


def test_metrics_lists_every_attempt_of_the_kernels_runs(wip: Any) -> None:
    ok(wip, "def fetch():\n    return 1\ndef flaky():\n    raise OSError('down')")
    ok(wip, "%%pointy -o r\nfetch -> flaky")
    frame = wip.run_line_magic("pointy", "metrics")
    run_id = wip.user_ns["r"].id
    assert frame[["run_id", "node", "attempt", "state", "error_type"]].values.tolist() == [
        [run_id, "fetch", 1, "succeeded", pd.NA],
        [run_id, "flaky", 1, "failed", "OSError"],
    ]


def test_show_displays_a_runs_widget_again(wip: Any) -> None:
    ok(wip, "def fetch():\n    return 1")
    ok(wip, "%%pointy -o r\nfetch")
    widget = magics(wip).session.controllers[-1].widget
    captured = ok(wip, "%pointy show r")
    assert captured.outputs[0].data["text/plain"] == repr(widget)
    ok(wip, "other = r.rerun('all').start()")
    captured = ok(wip, "%pointy show other")
    assert f"run={wip.user_ns['other'].id!r}" in captured.outputs[0].data["text/plain"]
    assert magics(wip).session.controllers[-1].run is wip.user_ns["other"]
    ok(wip, "%pointy show")  # the last one


def test_line_magic_errors(ip: Any) -> None:
    ok(ip, "x = 1")
    assert error(ip, "%pointy show x") == "%pointy show: int 1 is not a Pointy run"
    assert error(ip, "%pointy show nope") == "%pointy show: no variable 'nope' in the notebook"
    assert error(ip, "%pointy show") == "%pointy show: no run yet"
    assert error(ip, "%pointy stop") == (
        "%pointy: argument command: invalid choice: 'stop' "
        "(choose from 'runs', 'metrics', 'show', 'jobs', 'history', 'cache')"
    )


# --- completion ---------------------------------------------------------------------------------


def completions(shell: Any, text: str) -> list[str]:
    with provisionalcompleter():
        return [c.text for c in shell.Completer.completions(text, len(text))]


def test_tab_completes_event_names_in_a_pointy_body(ip: Any) -> None:
    ok(ip, EVENTS + "\nfetch_more = fetch\nnot_an_event = 3\n_private = fetch")
    assert completions(ip, "%%pointy\nfe") == ["fetch", "fetch_more"]
    assert completions(ip, "%%pointy -o r\nfetch |-> cl") == ["clean"]
    assert completions(ip, "%%pointy\nfetch->R") == ["Report"]
    assert completions(ip, "%%pointy\nfetch ||t") == ["total"]
    assert "abs" in completions(ip, "%%pointy\n# a")  # in a comment: Python's, as usual
    assert "abs" in completions(ip, "x = 1\na")  # not a Pointy cell


# --- mistakes in the cell: one short message each, with line, column and caret ----------------


UNKNOWN_HINT = (
    "Names are looked up in the notebook: define each event above as a function, "
    "an @event function or an EventBase subclass."
)


def test_syntax_error_points_into_the_cell(ip: Any) -> None:
    ok(ip, EVENTS)
    assert error(ip, "%%pointy\nfetch |->\n  -> clean") == (
        "syntax error: unexpected '->'; expected an event name, a number or '(' "
        "at line 3, column 3\n"
        "    -> clean\n"
        "    ^^"
    )
    assert error(ip, "%%pointy\nfetch |->\n") == (
        "syntax error: unexpected end of input; expected an event name, a number or '(' "
        "at line 2, column 10\n"
        "  fetch |->\n"
        "           ^"
    )
    assert error(ip, "%%pointy -o r\nfetch $ clean") == (
        "syntax error: unexpected character '$' at line 2, column 7\n  fetch $ clean\n        ^"
    )
    assert error(ip, "%%pointy\n# nothing yet") == (
        "syntax error: empty pipeline; expected an event name at line 2, column 14\n"
        "  # nothing yet\n"
        "               ^"
    )


def test_unknown_names_are_all_reported_with_suggestions(ip: Any) -> None:
    ok(ip, EVENTS + "\nlimit = 3")
    assert error(ip, "%%pointy\nfetch |-> claen\n  |-> totl -> limit") == (
        "3 problems in the pipeline:\n"
        "unknown event 'claen' (did you mean 'clean'?) at line 2, column 11\n"
        "  fetch |-> claen\n"
        "            ^^^^^\n"
        "unknown event 'totl' (did you mean 'total'?) at line 3, column 7\n"
        "    |-> totl -> limit\n"
        "        ^^^^\n"
        "'limit' is a value of type int, not an event (a function or EventBase class)"
        " at line 3, column 15\n"
        "    |-> totl -> limit\n"
        "                ^^^^^\n" + UNKNOWN_HINT
    )


def test_check_errors_point_into_the_cell(ip: Any) -> None:
    ok(ip, EVENTS)
    assert error(ip, "%%pointy\nfetch (0 -> clean, 0 -> total)") == (
        "1 problem in the pipeline:\n"
        "descriptor 0 appears twice in one branch group at line 2, column 20\n"
        "  fetch (0 -> clean, 0 -> total)\n"
        "                     ^"
    )


def test_missing_arguments_point_at_the_event(ip: Any) -> None:
    ok(ip, EVENTS + "\ndef load(path):\n    return path")
    assert error(ip, "%%pointy\nfetch -> load") == (
        "event 'load' needs 'path', which no input field or previous result provides "
        "(input fields: none) at line 2, column 10\n"
        "  fetch -> load\n"
        "           ^^^^\n"
        "Give inputs with --input NAME=EXPR, --inputs DICT_VAR or --pipeline CLASS."
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "--executor fast",
            "%%pointy: argument --executor: invalid choice: 'fast' "
            "(choose from 'inline', 'thread', 'process', 'dask')",
        ),
        ("--colour", "%%pointy: unrecognized arguments: --colour"),
        ("--max-workers many", "%%pointy: argument --max-workers: invalid int value: 'many'"),
        ("-o 2x", "-o takes a Python name, not '2x'"),
        ("--max-workers 2", "--max-workers needs --executor thread or --executor process"),
        ("--executor thread --max-workers 0", "--max-workers must be a whole number >= 1, not 0"),
        ("--timeout 0", "--timeout must be a positive number of seconds, not 0"),
        ("--plan --background", "--plan runs nothing: leave out --background and --timeout"),
        ("-o fetch", "-o fetch would replace the event 'fetch'; bind the run to another name"),
        ("--input xs", "--input takes NAME=EXPR, not 'xs'"),
        ("--input 'x y=1'", "--input x y=1: 'x y' is not a Python name"),
        ("--input xs=[1,", "--input xs=[1,: SyntaxError: '[' was never closed (<string>, line 1)"),
        ("--input xs=nowhere", "--input xs=nowhere: NameError: name 'nowhere' is not defined"),
        ("--inputs nowhere", "--inputs: no variable 'nowhere' in the notebook"),
        ("--inputs numbers", "--inputs: 'numbers' is a list, not a dict"),
        ("--inputs bad_keys", "--inputs: key 1 of 'bad_keys' is not a Python name"),
        ("--pipeline Numbrs", "--pipeline: no 'Numbrs' in the notebook (did you mean 'Numbers'?)"),
        ("--pipeline numbers", "--pipeline: 'numbers' is a list, not a Pipeline subclass"),
        ("--pipeline Numbers --input m=1", "Numbers: unknown input 'm' (fields: n)"),
        ("--pipeline Numbers --input n='x'", "Numbers: input field 'n' expects int, got str 'x'"),
    ],
)
def test_option_mistakes(ip: Any, line: str, message: str) -> None:
    ok(
        ip,
        EVENTS + "\nfrom pointy_engine import Pipeline, InputDataField\n"
        "numbers = [1, 2]\nbad_keys = {1: 2}\n"
        "class Numbers(Pipeline):\n    n = InputDataField(data_type=int)\n",
    )
    assert error(ip, f"%%pointy {line}\nfetch") == message


def test_a_pipeline_class_without_a_flow_needs_a_body(ip: Any) -> None:
    ok(ip, "from pointy_engine import Pipeline\nclass Empty(Pipeline):\n    pass")
    assert error(ip, "%%pointy --pipeline Empty\n ") == (
        "Empty has no flow: give Meta.pointy, Meta.file, a meta dict, "
        "or a Empty.pty file beside its module"
    )


def test_a_syntax_error_in_a_pipeline_class_uses_its_own_lines(ip: Any) -> None:
    ok(
        ip,
        "from pointy_engine import Pipeline\nclass Broken(Pipeline):\n"
        "    class Meta:\n        pointy = 'a ->'\n",
    )
    assert error(ip, "%%pointy --pipeline Broken\n# its own flow") == (
        "syntax error: unexpected end of input; expected an event name, a number or '(' "
        "at line 1, column 5\n  a ->\n      ^"
    )


# --- output routing -----------------------------------------------------------------------------


class FakeOutput:
    """Stands in for ipywidgets.Output: the sink only assigns its `outputs` tuple."""

    def __init__(self) -> None:
        self.outputs: tuple[dict[str, str], ...] = ()


class FakeStream:
    encoding = "utf-8"

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_routers_send_what_a_run_context_writes_to_its_sink() -> None:
    stream, output = FakeStream(), FakeOutput()
    sink = OutputSink(output)
    router = StreamRouter(stream, "stderr")
    router.write("kernel\n")
    context = contextvars.copy_context()
    context.run(current_sink.set, sink)
    context.run(router.write, "from the run\n")
    context.run(router.write, "more\n")
    context.run(router.flush)
    assert stream.text == "kernel\n"
    assert output.outputs == (
        {"output_type": "stream", "name": "stderr", "text": "from the run\nmore\n"},
    )
    assert router.encoding == "utf-8"  # everything else is the wrapped stream's


def test_a_sink_keeps_streams_apart_and_only_the_tail() -> None:
    output = FakeOutput()
    sink = OutputSink(output)
    sink.write("stdout", "a")
    sink.write("stderr", "b")
    sink.write("stdout", "x" * (OUTPUT_LIMIT + 10))
    sink.flush()
    assert [(o["name"], len(o["text"])) for o in output.outputs] == [
        ("stdout", 1),
        ("stderr", 1),
        ("stdout", OUTPUT_LIMIT),
    ]
    assert output.outputs[-1]["text"].startswith("…x")


def test_thread_pool_tasks_run_in_the_submitters_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="none")
    executors = Session(object()).executors  # what a kernel's session runs thread events on
    pool = executors.get(executors.choose("thread", ExecutorInitializerConfig(max_workers=1), "e"))
    try:
        context = contextvars.copy_context()
        context.run(marker.set, "cell 7")
        assert context.run(pool.submit, marker.get).result() == "cell 7"
        assert pool.submit(marker.get).result() == "none"
    finally:
        pool.shutdown()


def test_installed_routers_come_out_again() -> None:
    before = sys.stdout, sys.stderr
    uninstall = install_routers()
    try:
        assert isinstance(sys.stdout, StreamRouter)
        assert sys.stdout.stream is before[0]
    finally:
        uninstall()
    assert (sys.stdout, sys.stderr) == before


# --- in a real kernel ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    setup = "%load_ext pointy_jupyter\nimport threading\ngate = threading.Event()"
    with running_kernel(tmp_path_factory.mktemp("kernel"), setup) as (manager, client):
        yield manager, client


@pytest.mark.slow
def test_kernel_widget_cell_sends_its_picture_in_few_messages(kernel: Any) -> None:
    _, client = kernel
    execute(client, "def one():\n    return 1\ndef two(previous_result):\n    return 2")
    cell = "%%pointy\none -> two"
    execute(client, cell)  # the session's shared layout opens with its first widget
    messages = [m for m in execute(client, cell) if m["mine"]]
    kinds = [m["msg_type"] for m in messages if m["msg_type"] not in ("status", "execute_input")]
    # the run widget and the output area under it; the final state; the final snapshot
    assert kinds == [
        "comm_open",
        "display_data",
        "comm_msg",
        "update_display_data",
        "comm_open",
        "display_data",
    ]
    opened = of_type(messages, "comm_open")
    widget, area = (content["data"]["state"] for content in opened)
    assert widget["_model_name"] == "AnyModel"
    assert area["_model_name"] == "OutputModel"
    assert widget["layout"] == area["layout"]  # one layout model for both, opened before
    assert widget["layout"].removeprefix("IPY_MODEL_") not in {c["comm_id"] for c in opened}
    # the comm_open carries the graph and the node table: no update follows to show them
    assert [node["id"] for node in json.loads(widget["graph_json"])["nodes"]] == ["one", "two"]
    assert json.loads(widget["nodes_json"])["ids"] == ["one", "two"]
    assert widget["controls"] == {
        "rerun_all": False,
        "rerun_failed": False,
        "rerun_from": False,
        "cancel": True,
        "rerun_stale": False,
    }
    (final,) = of_type(messages, "comm_msg")
    assert final["data"]["method"] == "update"
    assert json.loads(final["data"]["state"]["nodes_json"])["state"] == ["succeeded"] * 2
    assert "status='succeeded'" in of_type(messages, "update_display_data")[0]["data"]["text/plain"]


@pytest.mark.slow
def test_kernel_interrupt_cancels_the_run_with_a_short_message(kernel: Any) -> None:
    manager, client = kernel
    execute(client, "gate.clear()\ndef wait():\n    gate.wait(30)")
    messages = execute(client, "%%pointy -o r\nwait", on_display=manager.interrupt_kernel)
    assert [e["traceback"] for e in of_type(messages, "error")] == [["run cancelled"]]
    final = of_type(messages, "update_display_data")[-1]["data"]["text/plain"]
    assert "status='cancelled'" in final
    assert printed(execute(client, "print(r.status)")) == "cancelled\n"


@pytest.mark.slow
def test_kernel_background_output_goes_under_the_starting_cell(kernel: Any) -> None:
    _, client = kernel
    execute(client, "gate.clear()\ndef late():\n    gate.wait(30)\n    print('late print')")
    started = execute(client, "%%pointy --background -o bg\nlate")
    displays = of_type(started, "display_data")
    assert displays[-1]["data"]["text/plain"] == ""  # the empty output area saves no `Output()`
    area = displays[-1]["transient"]["display_id"]
    later = execute(client, "gate.set()\nbg.wait(30)\nprint(bg.status)")
    assert printed(later) == "succeeded\n"  # not the event's print
    seen = started + later
    while "late print\n" not in synced_outputs(seen):  # the sink's last sync may come later
        message = client.get_iopub_msg(timeout=10)
        message["mine"] = False
        seen.append(message)

    # at the run's end the output area's display is updated: its saved text is what was printed
    # (the run widget's own display is updated too: only the output area's updates count here)
    def area_updates() -> list[dict[str, Any]]:
        return [
            m["content"]["data"]
            for m in seen
            if m["msg_type"] == "update_display_data"
            and m["content"].get("transient", {}).get("display_id") == area
        ]

    while not any(update.get("text/plain") == "late print\n" for update in area_updates()):
        message = client.get_iopub_msg(timeout=10)
        message["mine"] = False
        seen.append(message)
    assert area_updates()[-1]["text/plain"] == "late print\n"


@pytest.mark.slow
def test_kernel_rerun_output_comes_under_a_header_naming_the_rerun(kernel: Any) -> None:
    _, client = kernel
    execute(client, "def noisy():\n    print('noisy ran')")
    first = execute(client, "%%pointy -o nr\nnoisy")
    assert printed(first) == "noisy ran\n"  # the blocking run prints into its cell
    rerun = (
        "controller = get_ipython().magics_manager.registry['PointyMagics']"
        ".session.controllers[-1]\n"
        "controller.on_command({'type': 'rerun', 'mode': 'all', 'node': None})\n"
        "controller.run.wait(30)\nprint(controller.run.status)"
    )
    # the cell shows two displays, the run widget and the output area under it
    (area,) = [
        d["transient"]["display_id"]
        for d in of_type(first, "display_data")
        if not d["data"]["text/plain"].startswith("RunWidget(")
    ]
    seen = execute(client, rerun)
    assert printed(seen) == "succeeded\n"

    def area_texts() -> list[str]:
        return [
            m["content"]["data"]["text/plain"]
            for m in seen
            if m["msg_type"] == "update_display_data"
            and m["content"].get("transient", {}).get("display_id") == area
        ]

    while not any("noisy ran" in text for text in area_texts()):
        message = client.get_iopub_msg(timeout=10)
        message["mine"] = False
        seen.append(message)
    assert re.fullmatch(r"── re-run all · \d\d:\d\d:\d\d ──\nnoisy ran\n", area_texts()[-1])


def test_unload_shuts_down_the_thread_pools_starts_shared(shell: Any) -> None:
    from pointy_engine.threads import shared_threads

    run(shell, "%load_ext pointy_jupyter")
    pool = shared_threads.get(2, "unload-shared")
    assert pool.submit(lambda: 1).result(5) == 1
    run(shell, "%unload_ext pointy_jupyter")
    with pytest.raises(RuntimeError, match=r"^cannot dispatch work after shutdown$"):
        pool.submit(lambda: 1)
    assert shared_threads.get(2, "unload-shared") is not pool  # the next start builds anew


def test_load_ext_leaves_the_heavy_imports_for_the_first_cell() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'pointy_jupyter')\n"
        "heavy = ('pandas', 'anywidget', 'ipywidgets', 'pointy_engine.plan',"
        " 'pointy_engine.graph', 'matplotlib')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "[]\n"


def test_executor_dask_runs_a_cells_events_on_the_local_cluster_until_unload(
    ip: Any, dask_client: Any
) -> None:
    from pointy_engine.dask_executor import local_cluster

    ok(ip, "import os\ndef where():\n    return os.getpid()")
    ok(ip, "%%pointy --executor dask -o r\nwhere")
    result = ip.user_ns["r"]
    assert result.status == "succeeded"
    assert result.value != os.getpid()
    assert result.network_ops[0].address.startswith("tcp://127.0.0.1:")
    assert local_cluster.running
    run(ip, "%unload_ext pointy_jupyter")
    assert not local_cluster.running
    assert dask_client.status == "closed"
