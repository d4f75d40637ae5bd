"""Soft signals: connect, disconnect, @listener, strong references, and the default signals."""

from __future__ import annotations

import gc
import threading

import pytest
from engine_support import WAIT

from pointy_engine import FakeClock, Pipeline, RetryPolicy, SoftSignal, event, listener
from pointy_engine import signals as default
from pointy_engine.signals import DEFAULT_SIGNALS, SignalListenerWarning


@pytest.fixture(autouse=True)
def _restore_default_signals():
    saved = {signal: signal._receivers for signal in DEFAULT_SIGNALS}
    yield
    for signal, receivers in saved.items():
        signal._receivers = receivers


# ----- SoftSignal ----------------------------------------------------------------------------


class Source:
    pass


class SpecialSource(Source):
    pass


def test_listeners_get_the_arguments_they_accept():
    signal = SoftSignal("saved", ["path", "size"])
    calls = []
    signal.connect(lambda path: calls.append(("path only", path)))
    signal.connect(lambda sender, signal, **kwargs: calls.append(("all", sender, signal, kwargs)))
    source = Source()
    signal.emit(source, path="/tmp/x", size=3)
    assert calls == [
        ("path only", "/tmp/x"),
        ("all", source, signal, {"path": "/tmp/x", "size": 3}),
    ]
    assert signal.provide_args == ("path", "size")
    assert repr(signal) == "<SoftSignal saved>"


def test_sender_filters_by_identity_or_class():
    signal = SoftSignal("changed")
    calls = []
    one, special = Source(), SpecialSource()
    signal.connect(lambda sender: calls.append(("any", sender)))
    signal.connect(lambda sender: calls.append(("one", sender)), sender=one)
    signal.connect(lambda sender: calls.append(("Special", sender)), sender=SpecialSource)
    signal.connect(lambda sender: calls.append(("Source", sender)), sender=Source)
    signal.emit(one)
    signal.emit(special)
    signal.emit(SpecialSource)  # a class sends too (as pipeline_pre_init does)
    signal.emit("other")
    assert calls == [
        ("any", one),
        ("one", one),
        ("Source", one),
        ("any", special),
        ("Special", special),
        ("Source", special),
        ("any", SpecialSource),
        ("Special", SpecialSource),
        ("Source", SpecialSource),
        ("any", "other"),
    ]


def test_connect_once_and_disconnect():
    signal = SoftSignal("ping")
    calls = []

    def on_ping():
        calls.append("ping")

    one = Source()
    signal.connect(on_ping)
    signal.connect(on_ping)
    signal.connect(on_ping, sender=one)
    signal.emit(one)
    assert calls == ["ping", "ping"]  # once for any sender, once for `one`
    assert signal.disconnect(on_ping, sender=one) is True
    signal.emit(one)
    assert calls == ["ping"] * 3
    assert signal.disconnect(on_ping) is True
    assert signal.disconnect(on_ping) is False
    assert not signal.has_listeners
    signal.emit(one)
    assert calls == ["ping"] * 3


def test_listener_decorator_connects_one_or_several_signals():
    first, second = SoftSignal("first"), SoftSignal("second")
    calls = []

    @listener(first)
    def on_first(signal):
        calls.append(signal.name)

    @listener([first, second], sender=Source)
    def on_both(sender, signal, *args, **kwargs):
        calls.append((signal.name, type(sender).__name__))

    assert on_first.__name__ == "on_first"  # the function itself is returned
    first.emit(Source())
    second.emit(Source())
    second.emit("not a Source")
    assert calls == ["first", ("first", "Source"), ("second", "Source")]


def test_a_listener_that_raises_is_reported_and_the_others_still_run():
    signal = SoftSignal("fragile")
    calls = []

    def broken():
        raise ValueError("listener bug")

    signal.connect(broken)
    signal.connect(lambda: calls.append("after"))
    with pytest.warns(SignalListenerWarning) as warned:
        signal.emit(None)
    assert calls == ["after"]
    assert str(warned[0].message) == (
        "listener 'test_a_listener_that_raises_is_reported_and_the_others_still_run.<locals>."
        "broken' of signal 'fragile' raised ValueError: listener bug"
    )


def test_listeners_are_held_strongly():
    signal = SoftSignal("kept")
    calls = []

    def connect_inline():
        def inline(value):
            calls.append(value)

        signal.connect(inline)
        signal.connect(lambda value: calls.append(("lambda", value)))

    connect_inline()
    gc.collect()
    signal.emit(None, value=1)
    assert calls == [1, ("lambda", 1)]


def test_emitting_from_several_threads_while_connecting():
    signal = SoftSignal("busy")
    calls = []
    lock = threading.Lock()

    def on_busy(value):
        with lock:
            calls.append(value)

    signal.connect(on_busy)
    threads = [
        threading.Thread(target=lambda n=n: [signal.emit(None, value=n) for _ in range(100)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for n in range(50):
        signal.connect(lambda value, n=n: None)  # connecting while others emit is safe
    for thread in threads:
        thread.join(WAIT)
    assert sorted(calls) == sorted([n for n in range(4) for _ in range(100)])


# ----- the default signals --------------------------------------------------------------------


class Billing(Pipeline):
    meta = {"pointy": "Charge * 2 -> Receipt"}


def _spy():
    seen = []

    def spy(sender, signal, **kwargs):
        seen.append((signal.name, sender, kwargs))

    for signal in DEFAULT_SIGNALS:
        signal.connect(spy)
    return seen


def test_every_default_signal_fires_with_the_readme_arguments():
    attempts = []

    @event(retry_policy=RetryPolicy(max_attempts=5, backoff_factor=0.25))
    def Charge():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("card network down")
        return True, "charged"

    def Receipt():
        return "sent"

    billing = Billing()
    seen = _spy()
    run = billing.start(events={"Charge": Charge, "Receipt": Receipt}, clock=FakeClock())
    assert run.status == "succeeded"
    names = [name for name, _, _ in seen]
    assert names == [
        "pipeline_execution_start",
        "event_execution_init",
        "event_execution_start",
        "event_execution_retry",
        "event_execution_start",
        "event_execution_end",
        "event_execution_retry_done",
        "event_execution_init",
        "event_execution_start",
        "event_execution_end",
        "pipeline_execution_end",
        "pipeline_shutdown",
    ]
    assert all(sender is billing for _, sender, _ in seen)
    arguments = [kwargs for _, _, kwargs in seen]
    assert arguments[0] == {"pipeline": billing}
    assert arguments[1] == {
        "event": "Charge",
        "execution_context": run,
        "executor": "inline",
        "call_kwargs": {},
    }
    assert arguments[2] == {"event": "Charge", "execution_context": run}
    assert arguments[3] == {
        "event": "Charge",
        "execution_context": run,
        "task_id": "Charge",
        "backoff": 0.25,
        "retry_count": 1,
        "max_attempts": 2,  # the `* 2` of this occurrence, not the policy's 5
    }
    assert arguments[5] == {
        "event": "Charge",
        "execution_context": run,
        "future": run.nodes["Charge"],
    }
    assert arguments[5]["future"].value == "charged"
    assert arguments[6] == {
        "event": "Charge",
        "execution_context": run,
        "task_id": "Charge",
        "max_attempts": 2,
    }
    assert arguments[-2] == {"execution_context": run}
    assert arguments[-1] == {}


def test_init_signals_fire_when_a_pipeline_is_built():
    seen = _spy()

    class Invoice(Pipeline):
        meta = {"pointy": "Charge"}

    invoice = Invoice()
    assert seen == [
        ("pipeline_pre_init", Invoice, {"cls": Invoice, "args": (), "kwargs": {}}),
        ("pipeline_post_init", Invoice, {"pipeline": invoice}),
    ]


def test_pipeline_stop_fires_on_cancel_and_on_a_stop_setting():
    seen = _spy()

    def Charge():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Billing().start(events={"Charge": Charge, "Receipt": lambda: 1})
    names = [name for name, _, _ in seen]
    assert names[-3:] == ["pipeline_stop", "pipeline_execution_end", "pipeline_shutdown"]
    assert seen[-3][2] == {}  # pipeline_stop has no arguments

    seen.clear()
    Billing().start(
        events={
            "Charge": event(lambda: 1 / 0, name="Charge", stop_on_exception=True),
            "Receipt": lambda: 1,
        }
    )
    names = [name for name, _, _ in seen]
    assert "event_execution_retry" in names  # `* 2` retries before the stop
    assert names[-3:] == ["pipeline_stop", "pipeline_execution_end", "pipeline_shutdown"]

    seen.clear()
    Billing().start(events={"Charge": lambda: 1, "Receipt": lambda: 1})
    assert "pipeline_stop" not in [name for name, _, _ in seen]


def test_a_listener_for_one_pipeline_class():
    calls = []

    class Other(Pipeline):
        meta = {"pointy": "Charge"}

    default.pipeline_execution_start.connect(
        lambda pipeline: calls.append(pipeline), sender=Billing
    )
    billing = Billing()
    billing.start(events={"Charge": lambda: 1, "Receipt": lambda: 1})
    Other().start(events={"Charge": lambda: 1})
    assert calls == [billing]


def test_a_broken_signal_listener_does_not_break_the_run():
    def broken(event):
        raise RuntimeError("observer bug")

    default.event_execution_start.connect(broken)
    with pytest.warns(SignalListenerWarning):
        run = Billing().start(events={"Charge": lambda: 1, "Receipt": lambda: 2})
    assert run.status == "succeeded"
    assert run.values == {"Charge": 1, "Receipt": 2}


def test_an_inline_default_signal_listener_survives_garbage_collection():
    calls = []

    def connect():
        def on_end(execution_context):
            calls.append(execution_context.status)

        default.pipeline_execution_end.connect(on_end)

    connect()
    gc.collect()
    Billing().start(events={"Charge": lambda: 1, "Receipt": lambda: 1})
    assert calls == ["succeeded"]


def test_signals_of_a_rerun_describe_the_rerun():
    seen = _spy()
    run = Billing().start(events={"Charge": lambda: 1, "Receipt": lambda: 1})
    again = run.rerun("all").start()
    contexts = [
        kwargs["execution_context"] for name, _, kwargs in seen if name == "pipeline_execution_end"
    ]
    assert contexts == [run, again]
    starts = [
        kwargs["execution_context"] for name, _, kwargs in seen if name == "event_execution_start"
    ]
    assert starts == [run, run, again, again]


def test_a_rerun_signals_only_the_events_it_runs():
    seen = _spy()
    run = Billing().start(events={"Charge": lambda: 1, "Receipt": lambda: 1 / 0})
    seen.clear()
    run.rerun("failed").start()
    ran = [kwargs["event"] for name, _, kwargs in seen if name.startswith("event_execution")]
    assert ran == ["Receipt", "Receipt", "Receipt"]  # init, start, end: Charge was reused


def test_a_hung_signal_receiver_does_not_stall_the_run():
    # Signals reach receivers through a record listener, which runs off the run's path.
    from pointy_engine.records import ListenerStalledWarning

    release, heard = threading.Event(), []

    def hangs(event, **kwargs):
        release.wait(WAIT)
        heard.append(event)

    default.event_execution_start.connect(hangs)

    @event(name="QuickOne")
    def quick():
        return True, 1

    class Quick(Pipeline):
        meta = {"pointy": "QuickOne"}

    import time

    began = time.monotonic()
    try:
        with pytest.warns(ListenerStalledWarning, match=r"^record listener 'SignalBridge'"):
            run = Quick().start()
        assert run.status == "succeeded"
        assert time.monotonic() - began < WAIT / 2  # not the receiver's 10 s
    finally:
        release.set()
    deadline = time.monotonic() + WAIT
    while not heard:
        assert time.monotonic() < deadline, "the receiver never got its signal"
        release.wait(0.01)
    assert heard == ["QuickOne"]
