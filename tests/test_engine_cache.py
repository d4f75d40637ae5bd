"""The cache: a node whose event code and inputs match a cached success is not run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from engine_support import WAIT, node_trail, plan_flow, run_flow, states

from pointy_engine import EventBase, event
from pointy_engine.cache import Cache
from pointy_engine.run import Run

CALLS: list[str] = []  # a global value: not part of any event's code digest


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


def A(previous_result=None):
    CALLS.append("A")
    return 1


def B(previous_result=None, x=1):
    CALLS.append("B")
    return previous_result + x


def C(previous_result=None):
    CALLS.append("C")
    return previous_result * 10


def C_changed(previous_result=None):
    CALLS.append("C")
    return previous_result * 100


EVENTS = {"A": A, "B": B, "C": C}
FLOW = "A |-> B |-> C"


def test_second_run_takes_every_node_from_the_cache(tmp_path):
    first = run_flow(FLOW, EVENTS, cache=tmp_path)
    second = run_flow(FLOW, EVENTS, cache=tmp_path)
    assert CALLS == ["A", "B", "C"]
    assert states(second) == {"A": "cached", "B": "cached", "C": "cached"}
    assert second.values == {"A": 1, "B": 2, "C": 20}
    assert second.value == 20
    assert second.status == "succeeded"
    assert node_trail(second) == [("A", "cached"), ("B", "cached"), ("C", "cached")]
    assert {r.worker for r in second.records() if r.node} == {"cache"}
    for node_id, result in second.nodes.items():
        original = first.nodes[node_id]
        assert result.duration == original.duration  # what the event originally took
        assert original.started <= result.cached_at <= original.finished + 1


def test_changed_code_reruns_that_node_and_reuses_the_rest(tmp_path):
    run_flow(FLOW, EVENTS, cache=tmp_path)
    again = run_flow(FLOW, {**EVENTS, "C": C_changed}, cache=tmp_path)
    assert CALLS == ["A", "B", "C", "C"]
    assert states(again) == {"A": "cached", "B": "cached", "C": "succeeded"}
    assert again.value == 200


def test_changed_input_reruns_only_what_depends_on_it(tmp_path):
    run_flow(FLOW, EVENTS, {"x": 1}, cache=tmp_path)
    again = run_flow(FLOW, EVENTS, {"x": 5}, cache=tmp_path)
    assert CALLS == ["A", "B", "C", "B", "C"]
    assert states(again) == {"A": "cached", "B": "succeeded", "C": "succeeded"}
    assert again.value == 60
    back = run_flow(FLOW, EVENTS, {"x": 1}, cache=tmp_path)
    assert states(back) == {"A": "cached", "B": "cached", "C": "cached"}


def test_a_changed_helper_in_the_same_module_changes_the_key(tmp_path):
    def notebook(helper_body: str) -> dict:
        namespace = {"__name__": "notebook_cells", "CALLS": CALLS}
        source = (
            f"def helper(v):\n    return {helper_body}\n\n"
            "def H(x):\n    CALLS.append('H')\n    return helper(x)\n"
        )
        exec(compile(source, "<cell>", "exec"), namespace)
        return {"H": namespace["H"]}

    assert run_flow("H", notebook("v + 1"), {"x": 1}, cache=tmp_path).value == 2
    same = run_flow("H", notebook("v + 1"), {"x": 1}, cache=tmp_path)
    changed = run_flow("H", notebook("v + 2"), {"x": 1}, cache=tmp_path)
    assert states(same) == {"H": "cached"}
    assert states(changed) == {"H": "succeeded"}
    assert changed.value == 3
    assert CALLS == ["H", "H"]


def test_opted_out_events_always_run_and_downstream_is_cached_by_its_input(tmp_path):
    @event(cache=False)
    def Send(previous_result=None):
        CALLS.append("Send")
        return True, 7

    class Log(EventBase):
        cache = False

        def process(self):
            CALLS.append("Log")
            return True, 7

    events = {"Send": Send, "Log": Log, "C": C}
    for _ in range(2):
        last = run_flow("Send |-> Log |-> C", events, cache=tmp_path)
    assert CALLS == ["Send", "Log", "C", "Send", "Log"]
    assert states(last) == {"Send": "succeeded", "Log": "succeeded", "C": "cached"}
    assert [row["event"] for row in Cache(tmp_path).entries()] == ["C"]


def test_an_unhashable_input_marks_the_node_not_cacheable_and_it_runs(tmp_path):
    lock = threading.Lock()

    def Locked(x):
        CALLS.append("Locked")
        return "done"

    for _ in range(2):
        run = run_flow("Locked", {"Locked": Locked}, {"x": lock}, cache=tmp_path)
        assert run.status == "succeeded"
        assert run.value == "done"
        assert run.nodes["Locked"].cache_note == (
            "not cacheable: input 'x': lock value cannot be pickled"
            " (cannot pickle '_thread.lock' object)"
        )
    assert CALLS == ["Locked", "Locked"]


def test_an_unpicklable_result_is_noted_and_not_stored(tmp_path):
    def MakeLock():
        CALLS.append("MakeLock")
        return threading.Lock()

    run = run_flow("MakeLock", {"MakeLock": MakeLock}, cache=tmp_path)
    assert run.status == "succeeded"
    assert run.nodes["MakeLock"].cache_note == "not cacheable: lock value cannot be pickled"
    assert Cache(tmp_path).entries() == []


def test_least_recently_used_entries_are_evicted_past_the_size_bound(tmp_path):
    cache = Cache(tmp_path, max_bytes=3500)
    for name in ("one", "two", "three"):
        assert cache.put(name, name, 0.1, b"x" * 1000)
    assert cache.get("one").value == b"x" * 1000  # "two" is now the least recently used
    cache.put("four", "four", 0.1, b"x" * 1000)
    assert sorted(row["event"] for row in cache.entries()) == ["four", "one", "three"]
    assert cache.get("two") is None
    assert cache.size <= 3500


def test_a_killed_writer_leaves_a_readable_cache(tmp_path):
    cache = Cache(tmp_path)
    cache.put("kept", "Kept", 0.5, "kept value")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pointy_engine.cache import Cache; "
            "Cache(sys.argv[1]).put('torn', 'Torn', 1.0, b'x' * 100_000_000)",
            str(tmp_path),
        ]
    )
    try:
        # Kill it as soon as its temporary file exists, that is while it writes.
        while not list(tmp_path.glob(".tmp-*")) and writer.poll() is None:
            os.sched_yield()
        writer.send_signal(signal.SIGKILL)
        writer.wait(WAIT)
    finally:
        writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert cache.get("torn") is None
    assert cache.get("kept").value == "kept value"
    assert [row["event"] for row in cache.entries()] == ["Kept"]
    assert cache.clear() == 1
    assert list(tmp_path.iterdir()) == []  # the stray temporary file is gone too


def test_two_concurrent_runs_share_one_cache(tmp_path):
    plans = [plan_flow(FLOW, EVENTS) for _ in range(2)]
    started = [Run(plan, cache=tmp_path).start(background=True) for plan in plans]
    for run in started:
        run.wait(WAIT)
        assert run.status == "succeeded"
        assert run.value == 20
    third = run_flow(FLOW, EVENTS, cache=tmp_path)
    assert states(third) == {"A": "cached", "B": "cached", "C": "cached"}
    assert len(Cache(tmp_path).entries()) == 3


def test_clear_one_event(tmp_path):
    run_flow(FLOW, EVENTS, cache=tmp_path)
    cache = Cache(tmp_path)
    assert cache.clear("B") == 1
    again = run_flow(FLOW, EVENTS, cache=tmp_path)
    assert states(again) == {"A": "cached", "B": "succeeded", "C": "cached"}


def test_a_bad_cache_option_is_named():
    with pytest.raises(TypeError) as raised:
        run_flow(FLOW, EVENTS, cache=3)
    assert str(raised.value) == "cache must be True, False, a folder path or a Cache, not 3"


def test_large_array_inputs_hash_by_content():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    from pointy_engine.cache import value_digest

    array = np.arange(1_000_000, dtype="float64")
    assert value_digest(array) == value_digest(array.copy())
    changed = array.copy()
    changed[-1] = -1
    assert value_digest(array) != value_digest(changed)
    frame = pd.DataFrame({"a": array, "b": array * 2})
    assert value_digest(frame) == value_digest(frame.copy())
    assert value_digest(frame) != value_digest(frame.assign(b=changed))


# ----- stale nodes -----------------------------------------------------------------------


def test_a_redefined_event_makes_it_and_its_downstream_stale():
    run = run_flow(FLOW, EVENTS)
    assert run.stale == []

    def B(previous_result=None, x=1):  # the same code, defined again: not a change
        CALLS.append("B")
        return previous_result + x

    assert run.mark_stale({**EVENTS, "B": B}) == set()
    assert run.mark_stale({**EVENTS, "B": C_changed}) == {"B", "C"}
    assert run.stale == ["B", "C"]


def test_rerun_stale_runs_only_the_stale_nodes_with_upstream_values():
    run = run_flow(FLOW, EVENTS)
    changed = {**EVENTS, "C": C_changed}
    run.mark_stale(changed)
    again = run.rerun("stale", plan=plan_flow(FLOW, changed)).start()
    assert CALLS == ["A", "B", "C", "C"]
    assert states(again) == {"A": "succeeded", "B": "succeeded", "C": "succeeded"}
    assert again.value == 200
    assert again.tags["mode"] == "stale"
