"""Executors: inline, threads, processes (also for events defined in __main__), custom classes."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from engine_support import WAIT, make_run, run_flow, states

from pointy_engine import EventBase, ExecutorInitializerConfig, Pipeline, PointyError, event
from pointy_engine.executors import Executors

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def executors():
    """One set of pools for the module, so the process pool starts once."""
    with Executors() as shared:
        yield shared


def test_inline_events_run_on_the_run_thread():
    run = run_flow("A -> B", {"A": lambda: threading.current_thread().name, "B": lambda: 1})
    assert run.values["A"] == threading.current_thread().name
    assert {r.worker for r in run.records()} == {threading.current_thread().name}


def test_thread_events_run_on_named_pool_threads():
    @event(executor="thread", thread_name_prefix="fetcher")
    def A():
        return True, threading.current_thread().name

    run = run_flow("A", {"A": A})
    assert run.values["A"].startswith("fetcher")
    assert run.nodes["A"].worker == run.values["A"]
    assert [r.worker for r in run.records() if r.node] == ["", run.values["A"]]


def test_process_events_run_in_another_process(executors):
    @event(executor="process")
    def A():
        return True, os.getpid()

    class B(EventBase, register=False):
        executor = "process"

        def process(self, factor):
            return True, (os.getpid(), self.previous_result * factor)

    run = make_run("A |-> B", {"A": A, "B": B}, {"factor": 2}, executors=executors).start()
    assert run.status == "succeeded", run.errors
    pid = run.values["A"]
    assert pid != os.getpid()
    assert run.values["B"] == (run.values["B"][0], pid * 2)
    assert run.nodes["A"].worker == f"pid:{pid}"


def test_process_event_failures_keep_type_message_and_traceback(executors):
    @event(executor="process")
    def A():
        raise LookupError("no such row")

    run = make_run("A", {"A": A}, executors=executors).start()
    error = run.nodes["A"].error
    assert (error.type, error.message) == ("LookupError", "no such row")
    # Formatted in the worker (cloudpickle names by-value code "<dynamic-code>").
    assert ", in A\n" in error.traceback
    assert error.traceback.endswith("LookupError: no such row\n")
    assert run.nodes["A"].worker.startswith("pid:")


def test_process_event_errors_that_cannot_travel_are_described(executors):
    class Odd(Exception):
        def __init__(self, first, second):
            super().__init__(first)

    @event(executor="process")
    def A():
        raise Odd("odd one", 2)

    @event(executor="process")
    def B():
        return True, threading.Lock()

    run = make_run("A -> B", {"A": A, "B": B}, executors=executors).start()
    odd = run.nodes["A"].error
    assert (odd.type, odd.message) == ("Odd", "odd one")
    assert ", in A\n" in odd.traceback
    assert odd.traceback.endswith("Odd: odd one\n")
    assert str(run.nodes["B"].error) == (
        "UnpicklableValueError: B returned a value of type _thread.lock that cannot be sent back "
        "from its worker process (TypeError: cannot pickle '_thread.lock' object); the event is "
        f"at {__file__}, line 90"
    )
    # The traceback names this file, not cloudpickle's "<dynamic-code>".
    assert f'File "{__file__}", line 88, in A\n' in odd.traceback


MAIN_SCRIPT = """
import json, os, sys
from pointy_engine import EventBase, Pipeline, event

class Double(EventBase):
    executor = "process"

    def process(self, number):
        return True, (number * 2, os.getpid())

def plus_one(previous_result):
    return previous_result[0] + 1, os.getpid()

@event(executor="process")
def Shout(previous_result):
    return True, str(previous_result[0]) + "!"

class Numbers(Pipeline):
    meta = {"pointy": "Double |-> PlusOne |-> Shout"}

def main():
    run = Numbers().start(
        events={"Double": Double, "PlusOne": plus_one, "Shout": Shout}, executor="process"
    )
    errors = {key: str(error) for key, error in run.errors.items()}
    print(json.dumps({"status": run.status, "values": run.values, "errors": errors,
                      "pid": os.getpid(), "module": Double.__module__}))
"""


def _run_python(arguments, cwd):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check_main_result(result):
    assert result["module"] == "__main__"
    assert result["status"] == "succeeded", result["errors"]
    values = result["values"]
    number, double_pid = values["Double"]
    plus, plus_pid = values["PlusOne"]
    assert (number, plus, values["Shout"]) == (42, 43, "43!")
    assert result["pid"] not in (double_pid, plus_pid)


@pytest.mark.parametrize("how", ["-c", "file"])
def test_process_events_defined_in_main(how, tmp_path):
    # A notebook's events live in __main__ and cannot be imported by a worker process.
    if how == "-c":
        code = MAIN_SCRIPT.replace("Numbers()", "Numbers(number=21)") + "\nmain()\n"
        code = code.replace("class Numbers(Pipeline):", _FIELD_CLASS)
        result = _run_python(["-c", code], tmp_path)
    else:
        code = MAIN_SCRIPT.replace("Numbers()", "Numbers(number=21)")
        code = code.replace("class Numbers(Pipeline):", _FIELD_CLASS)
        script = tmp_path / "numbers_script.py"
        script.write_text(code + '\nif __name__ == "__main__":\n    main()\n', encoding="utf-8")
        result = _run_python([str(script)], tmp_path)
    _check_main_result(result)


_FIELD_CLASS = textwrap.dedent(
    """
    from pointy_engine import InputDataField

    class Numbers(Pipeline):
        number = InputDataField(data_type=int, required=True)
    """
).strip()


class _Recording(ThreadPoolExecutor):
    made: list = []

    def __init__(self, max_workers=None, thread_name_prefix=""):
        _Recording.made.append((max_workers, thread_name_prefix))
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)


class _Immediate(Executor):
    """A custom executor that runs the call at once, in the caller's thread."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.parametrize(
    "config",
    [
        ExecutorInitializerConfig(max_workers=2, max_tasks_per_child=5, thread_name_prefix="rec"),
        {"max_workers": 2, "max_tasks_per_child": 5, "thread_name_prefix": "rec"},
    ],
)
def test_a_custom_executor_class_gets_the_config_fields_it_accepts(config):
    _Recording.made.clear()

    class A(EventBase, register=False):
        executor = _Recording
        executor_config = config

        def process(self):
            return True, threading.current_thread().name

    run = run_flow("A -> A", {"A": A})
    assert _Recording.made == [(2, "rec")]  # one pool for both occurrences
    assert run.values["A"].startswith("rec")


def test_an_executor_that_is_not_a_pool():
    @event(executor=_Immediate)
    def A():
        return True, threading.current_thread().name

    run = run_flow("A", {"A": A})
    assert run.values["A"] == threading.current_thread().name


def test_an_executor_instance_is_used_as_is_and_left_running():
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine")
    try:

        @event(executor=pool)
        def A():
            return True, threading.current_thread().name

        run = run_flow("A", {"A": A})
        assert run.values["A"].startswith("mine")
        assert pool.submit(lambda: 5).result(WAIT) == 5  # not shut down by the run
    finally:
        pool.shutdown()


def test_a_pipeline_wide_executor_overrides_each_event():
    @event(executor="thread")
    def A():
        return True, threading.current_thread().name

    class OneStep(Pipeline):
        meta = {"pointy": "A"}

    here = threading.current_thread().name
    assert OneStep().start(events={"A": A}).value != here
    assert OneStep().start(events={"A": A}, executor="inline").value == here


def test_members_on_different_executors_overlap(executors):
    manager = multiprocessing.get_context("spawn").Manager()
    try:
        barrier = manager.Barrier(3, timeout=WAIT)

        @event(executor="process")
        def P(barrier):
            barrier.wait()
            return True, os.getpid()

        @event(executor=_Recording)
        def T(barrier):
            barrier.wait()
            return True, "thread"

        def I(barrier):  # noqa: E743 - inline, moved to a thread inside the group
            barrier.wait()
            return "inline"

        run = make_run(
            "P || T || I", {"P": P, "T": T, "I": I}, {"barrier": barrier}, executors=executors
        ).start()
        assert run.status == "succeeded", run.errors
        assert run.value[1:] == ("thread", "inline")
    finally:
        manager.shutdown()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"executor": "gpu"},
            "event 'A': unknown executor 'gpu'; known: dask, inline, process, thread",
        ),
        (
            {"executor": 42},
            "event 'A': executor must be 'inline', 'thread', 'process', a registered name, "
            "an Executor class or instance, not 42",
        ),
    ],
)
def test_executor_setting_errors_before_the_run(settings, message):
    A = event(lambda: 1, name="A", **settings)
    with pytest.raises(PointyError) as caught:
        run_flow("A", {"A": A})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max_workers": 0}, "executor_config.max_workers must be a whole number >= 1, not 0"),
        (
            {"workers": 2},
            "unknown executor_config key 'workers'; known: max_tasks_per_child, max_workers, "
            "thread_name_prefix",
        ),
        (
            {"thread_name_prefix": 3},
            "executor_config.thread_name_prefix must be a str, not 3",
        ),
    ],
)
def test_executor_config_errors(config, message):
    with pytest.raises(PointyError) as caught:
        ExecutorInitializerConfig.coerce(config)
    assert str(caught.value) == message

    class A(EventBase, register=False):
        executor_config = config

    with pytest.raises(PointyError) as caught:
        A.settings()
    assert str(caught.value) == f"event 'A': {message}"


def test_a_run_that_owns_its_executors_shuts_them_down():
    @event(executor="thread")
    def A():
        return True, 1

    run = run_flow("A", {"A": A})
    assert run.plan.executors._closed
    shared = Executors()
    run = make_run("A", {"A": A}, executors=shared).start()
    assert not shared._closed
    shared.shutdown()
    assert states(run) == {"A": "succeeded"}


PRELOAD_PROBE = """
import json, multiprocessing.forkserver as forkserver, sys
from concurrent.futures import ProcessPoolExecutor
from loaded import loaded
from pointy_engine.executors import _process_context

with ProcessPoolExecutor(1, mp_context=_process_context()) as pool:
    names = ["pointy_engine.invoke", "pointy_engine.process_pool", "cloudpickle", "loaded"]
    in_worker = pool.submit(loaded, names).result()
print(json.dumps({"preload": forkserver._forkserver._preload_modules, "in_worker": in_worker}))
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_process_workers_start_with_pointy_preloaded_by_the_fork_server(tmp_path):
    # `loaded` imports nothing of Pointy: the worker has Pointy's modules from its fork server.
    (tmp_path / "loaded.py").write_text(
        "import sys\n\ndef loaded(names):\n    return [n in sys.modules for n in names]\n"
    )
    (tmp_path / "probe.py").write_text(PRELOAD_PROBE)
    result = _run_python(["probe.py"], tmp_path)
    assert result["preload"] == [  # no __main__
        "pointy_engine.invoke",
        "pointy_engine.process_pool",
        "cloudpickle",
    ]
    assert result["in_worker"] == [True, True, True, True]
