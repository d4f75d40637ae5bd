"""A sequence of steps on the engine's threads: a worker that finishes a step starts the next one
itself (`run.submit.run_chain`). What the run records and does must be exactly what it would be
if every step went back through the loop: order, values, retries, timeouts, stops, cancels,
re-runs, and a chain never starving the other work of its pool."""

from __future__ import annotations

import threading
import time

from pointy_engine import Pipeline, event
from pointy_engine.run import Run
from pointy_engine.run.submit import STILL_RUNNING

WAIT = 30


class Chain(Pipeline):
    class Meta:
        pointy = "A |-> B |-> C -> D"


def _steps() -> dict[str, object]:
    @event(executor="thread", name="A")
    def a():
        return True, 1

    @event(executor="thread", name="B")
    def b(previous_result):
        return True, previous_result + 10

    @event(executor="thread", name="C")
    def c(previous_result):
        return True, previous_result * 2

    @event(executor="thread", name="D")
    def d(previous_result=None):
        return True, ("D saw", previous_result)

    return {"A": a, "B": b, "C": c, "D": d}


def _node_states(run, state: str) -> list[str]:
    return [r.node for r in run.records() if r.state == state and r.node]


def test_a_chain_on_threads_pipes_values_and_records_each_step_in_order() -> None:
    run = Chain().start(events=_steps())
    assert run.status == "succeeded"
    assert run.values == {"A": 1, "B": 11, "C": 22, "D": ("D saw", None)}  # `->` pipes nothing
    order = [(r.node, r.state, r.attempt) for r in run.records() if r.node]
    assert order == [(name, state, 1) for name in "ABCD" for state in ("running", "succeeded")]
    # The chain went on on one worker: no hand-off back to the loop between the steps.
    workers = {run.nodes[name].worker for name in "ABCD"}
    assert len(workers) == 1
    assert next(iter(workers)).startswith("pointy")


def test_many_chained_runs_at_once_keep_their_own_values() -> None:
    results: list[object] = []

    def one(offset: int) -> None:
        steps = _steps()

        @event(executor="thread", name="A")
        def a():
            return True, offset

        steps["A"] = a
        results.append((offset, Chain().start(events=steps).values["C"]))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(results) == [(n, (n + 10) * 2) for n in range(20)]


def test_a_retried_step_goes_on_to_the_next_after_it_succeeds() -> None:
    calls = []

    @event(executor="thread", name="B", retry_policy={"max_attempts": 3, "backoff_factor": 0})
    def flaky(previous_result):
        calls.append(previous_result)
        if len(calls) == 1:
            raise ConnectionError("first try fails")
        return True, previous_result + 100

    run = Chain().start(events={**_steps(), "B": flaky})
    assert run.status == "succeeded"
    assert run.values["C"] == 202
    assert calls == [1, 1]
    assert [(r.state, r.attempt) for r in run.records() if r.node == "B"] == [
        ("running", 1),
        ("retrying", 1),
        ("running", 2),
        ("succeeded", 2),
    ]


def test_a_failed_step_ends_the_chain_as_the_loop_decides() -> None:
    @event(executor="thread", name="B")
    def fails(previous_result):
        return False, "no"

    run = Chain().start(events={**_steps(), "B": fails})
    assert run.nodes["B"].state == "failed"
    assert run.nodes["C"].state == "skipped"  # a failed source's pipe target is skipped
    assert run.nodes["D"].state == "succeeded"  # `->` runs whatever came before


def test_a_follower_with_a_timeout_still_times_out() -> None:
    release = threading.Event()

    @event(executor="thread", name="C", timeout=0.3)
    def slow(previous_result):
        release.wait(WAIT)
        return True, "late"

    try:
        began = time.monotonic()
        run = Chain().start(events={**_steps(), "C": slow})
        took = time.monotonic() - began
    finally:
        release.set()
    assert run.nodes["C"].state == "failed"
    assert run.nodes["C"].error.message == (f"event 'C' timed out after 0.3 s; {STILL_RUNNING}")
    assert run.nodes["D"].state == "succeeded"
    assert took < WAIT / 2


def test_cancel_inside_a_chain_starts_nothing_after_it() -> None:
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []

    @event(executor="thread", name="B")
    def hold(previous_result):
        ran.append("B")
        entered.set()
        release.wait(WAIT)
        return True, previous_result

    @event(executor="thread", name="C")
    def after(previous_result):
        ran.append("C")
        return True, previous_result

    run = Chain().start(events={**_steps(), "B": hold, "C": after}, background=True)
    assert entered.wait(WAIT)
    run.cancel()
    run.wait(WAIT)
    release.set()
    time.sleep(0.2)  # the worker returns from B: it must not go on to C
    assert run.status == "cancelled"
    assert ran == ["B"]
    assert run.nodes["B"].error.message == f"cancelled; {STILL_RUNNING}"
    assert [run.nodes[name].state for name in "ACD"] == ["succeeded", "cancelled", "cancelled"]


def test_a_stop_elsewhere_never_shows_a_step_that_ran_as_skipped() -> None:
    class Stopping(Pipeline):
        class Meta:
            pointy = "(A -> B -> C -> D) || Stop"

    ran: list[str] = []

    def step(name: str):
        @event(executor="thread", name=name)
        def body():
            ran.append(name)
            time.sleep(0.01)
            return True, name

        return body

    @event(executor="thread", name="Stop", stop_on_error=True)
    def stop():
        time.sleep(0.015)
        return False, "stop"

    for _ in range(10):
        ran.clear()
        run = Stopping().start(events={**{n: step(n) for n in "ABCD"}, "Stop": stop})
        assert run.status == "failed"
        for name in "ABCD":
            state = run.nodes[name].state
            assert state == ("succeeded" if name in ran else "skipped"), (name, state, ran)
        assert ran == list("ABCD")[: len(ran)]  # in order, none after a gap


def test_a_chain_lets_queued_work_of_its_pool_go_first() -> None:
    class Two(Pipeline):
        class Meta:
            pointy = "(A1 -> A2 -> A3) || (B1 -> B2 -> B3)"

    order: list[str] = []

    def step(name: str):
        @event(executor="thread", executor_config={"max_workers": 1}, name=name)
        def body():
            order.append(name)
            if name == "A1":
                time.sleep(0.1)  # B1 is queued meanwhile
            return True, name

        return body

    run = Two().start(events={n: step(n) for n in ("A1", "A2", "A3", "B1", "B2", "B3")})
    assert run.status == "succeeded"
    # One worker for both chains: B1 was queued while A1 ran, so it runs before A2.
    assert order.index("B1") < order.index("A2")
    assert order.index("A1") < order.index("B2")


def test_a_rerun_keeps_what_it_keeps_and_chains_the_rest() -> None:
    fail = [True]
    ran: list[str] = []

    def step(name: str):
        @event(executor="thread", name=name)
        def body(previous_result=None):
            ran.append(name)
            if name == "B" and fail[0]:
                return False, "broken"
            return True, (previous_result or 0) + 1

        return body

    events = {n: step(n) for n in "ABCD"}
    first = Chain().start(events=events)
    assert first.nodes["B"].state == "failed"
    fail[0] = False
    ran.clear()
    again = first.rerun("failed").start()
    assert again.status == "succeeded"
    assert ran == ["B", "C"]  # A and D kept (D succeeded the first time)
    assert again.values["C"] == 3
    assert _node_states(again, "running") == ["B", "C"]


def test_the_loop_hands_a_chain_to_its_worker_once(monkeypatch) -> None:
    from pointy_engine.threads import WorkerThreads

    dispatched: list[str] = []
    original = WorkerThreads.dispatch

    def counting(self, fn, *args):
        dispatched.append(fn.__name__)
        return original(self, fn, *args)

    monkeypatch.setattr(WorkerThreads, "dispatch", counting)
    run = Chain().start(events=_steps())
    assert run.status == "succeeded"
    assert dispatched == ["run_chain"]  # one hand-off for four steps


def test_steps_a_worker_started_before_a_stop_are_recorded_as_run() -> None:
    class Stopping(Pipeline):
        class Meta:
            pointy = "(A -> B -> C) || Stop"

    ran: list[str] = []

    def step(name: str):
        @event(executor="thread", name=name)
        def body():
            ran.append(name)
            return True, name

        return body

    @event(executor="thread", name="Stop", stop_on_error=True)
    def stop():
        return False, "stop"

    def hold_the_loop(record) -> None:
        # The loop sleeps while Stop's failure waits in its inbox: the worker meanwhile goes on
        # through the chain, so the loop settles A (and adopts B) after it has stopped the run.
        if record.node == "A" and record.state == "running":
            time.sleep(0.3)

    run = Run(Stopping().plan(events={**{n: step(n) for n in "ABC"}, "Stop": stop}))
    run.add_listener(hold_the_loop, on_loop=True)
    run.start()
    assert run.status == "failed"
    states = {name: [r.state for r in run.records() if r.node == name] for name in "ABC"}
    for name in "ABC":
        expected = ["running", "succeeded"] if name in ran else ["skipped"]
        assert states[name] == expected, (name, states, ran)
