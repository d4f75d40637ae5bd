"""Per-node output capture: printed and logged text kept on each node, still shown as usual."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from engine_support import WAIT, make_run, run_flow

from pointy_engine import Pipeline, RetryPolicy, event
from pointy_engine.executors import Executors


def test_inline_output_is_kept_per_node_and_still_shown(capsys):
    def A():
        print("loading", 3, "rows")
        print("careful", file=sys.stderr)
        return 3

    def B(previous_result):
        sys.stdout.write(f"got {previous_result}\n")
        return previous_result

    stdout = sys.stdout
    run = run_flow("A |-> B", {"A": A, "B": B}, capture_output=True)
    assert run.nodes["A"].output == "loading 3 rows\ncareful\n"
    assert run.nodes["B"].output == "got 3\n"
    shown = capsys.readouterr()
    assert shown.out == "loading 3 rows\ngot 3\n"
    assert shown.err == "careful\n"
    assert sys.stdout is stdout  # put back after the run


def test_nothing_is_captured_or_wrapped_when_capture_is_off(capsys):
    streams = []

    def A():
        streams.append(sys.stdout)
        print("plain")

    run = run_flow("A", {"A": A})
    assert run.nodes["A"].output == ""
    assert streams == [sys.stdout]
    assert capsys.readouterr().out == "plain\n"


def test_log_records_are_captured_one_line_each(caplog):
    log = logging.getLogger("pointy.tests.shop")

    def A():
        log.warning("low stock: %d left", 3)
        log.info("not shown: below the logger's level")
        log.error("two\nlines")
        return 1

    run = run_flow("A", {"A": A}, capture_output=True)
    assert run.nodes["A"].output == (
        "WARNING:pointy.tests.shop:low stock: 3 left\nERROR:pointy.tests.shop:two\nlines\n"
    )
    assert [r.getMessage() for r in caplog.records] == ["low stock: 3 left", "two\nlines"]

    log.setLevel(logging.INFO)
    try:
        run = run_flow("A", {"A": A}, capture_output=True)
    finally:
        log.setLevel(logging.NOTSET)
    assert "INFO:pointy.tests.shop:not shown: below the logger's level\n" in run.nodes["A"].output


def test_logging_with_no_handlers_still_reaches_stderr_once(monkeypatch, capsys):
    monkeypatch.setattr(logging.root, "handlers", [])  # as in a fresh interpreter

    def A():
        logging.getLogger("pointy.tests.bare").warning("disk almost full")

    run = run_flow("A", {"A": A}, capture_output=True)
    assert run.nodes["A"].output == "WARNING:pointy.tests.bare:disk almost full\n"
    assert capsys.readouterr().err == "disk almost full\n"  # logging's last resort, as usual
    assert logging.root.handlers == []


def test_threads_printing_at_once_are_told_apart():
    barrier = threading.Barrier(3, timeout=WAIT)

    def talker(name):
        @event(executor="thread", name=name)
        def function():
            barrier.wait()
            for line in range(200):
                print(f"{name} {line}")
            logging.getLogger("pointy.tests").warning("%s done", name)
            return True, name

        return function

    events = {name: talker(name) for name in ("A", "B", "C")}
    run = run_flow("A || B || C", events, capture_output=True)
    assert run.status == "succeeded"
    for name in ("A", "B", "C"):
        expected = "".join(f"{name} {line}\n" for line in range(200))
        assert run.nodes[name].output == expected + f"WARNING:pointy.tests:{name} done\n"


def test_each_attempt_adds_to_the_output():
    attempts = []

    @event(retry_policy=RetryPolicy(max_attempts=3))
    def A():
        attempts.append(1)
        print(f"attempt {len(attempts)}")
        if len(attempts) < 3:
            raise ConnectionError("again")
        return True, "ok"

    run = run_flow("A", {"A": A}, capture_output=True)
    assert run.nodes["A"].output == "attempt 1\nattempt 2\nattempt 3\n"


def test_output_before_a_timeout_is_kept():
    printed, release, finished = threading.Event(), threading.Event(), threading.Event()

    @event(timeout=0.2)
    def A():
        print("started")
        printed.set()
        release.wait(WAIT)
        print("too late")
        finished.set()

    try:
        run = run_flow("A", {"A": A}, capture_output=True)
        assert printed.is_set()
        assert run.nodes["A"].error.type == "TimeoutError"
        assert run.nodes["A"].output == "started\n"
    finally:
        release.set()
        assert finished.wait(WAIT)  # its late print must not reach the next test


def test_threads_an_event_starts_itself_are_shown_but_not_captured(capsys):
    def A():
        helper = threading.Thread(target=lambda: print("from a helper"))
        helper.start()
        helper.join(WAIT)
        print("from the event")

    run = run_flow("A", {"A": A}, capture_output=True)
    assert run.nodes["A"].output == "from the event\n"
    assert capsys.readouterr().out == "from a helper\nfrom the event\n"


def test_process_events_send_their_output_back():
    @event(executor="process")
    def A():
        print("in a worker process")
        logging.getLogger("pointy.tests.worker").warning("worker warning")
        return True, 1

    with Executors() as executors:
        run = make_run("A", {"A": A}, capture_output=True, executors=executors).start()
    assert run.status == "succeeded", run.errors
    assert run.nodes["A"].output == (
        "in a worker process\nWARNING:pointy.tests.worker:worker warning\n"
    )


def test_pipeline_start_captures_and_reruns_keep_capturing():
    class Talky(Pipeline):
        meta = {"pointy": "Say"}

    run = Talky().start(events={"Say": lambda: print("hello")}, capture_output=True)
    assert run.nodes["Say"].output == "hello\n"
    again = run.rerun("all").start()
    assert again.nodes["Say"].output == "hello\n"


def test_streams_are_put_back_after_an_interrupt_and_after_overlapping_runs():
    stdout, stderr = sys.stdout, sys.stderr

    def A():
        print("before the interrupt")
        raise KeyboardInterrupt

    run = make_run("A", {"A": A}, capture_output=True)
    with pytest.raises(KeyboardInterrupt):
        run.start()
    assert run.nodes["A"].output == "before the interrupt\n"
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    assert not any(type(h).__name__ == "_LogHandler" for h in logging.root.handlers)

    # Two capturing runs that overlap: the streams stay wrapped until the last one ends.
    inside, release = threading.Event(), threading.Event()

    @event(executor="thread")
    def Wait():
        inside.set()
        release.wait(WAIT)
        print("waited")

    first = make_run("Wait", {"Wait": Wait}, capture_output=True).start(background=True)
    assert inside.wait(WAIT)
    second = run_flow("B", {"B": lambda: print("second")}, capture_output=True)
    assert second.nodes["B"].output == "second\n"
    assert sys.stdout is not stdout  # the first run still captures
    release.set()
    assert first.wait(WAIT).nodes["Wait"].output == "waited\n"
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
