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


def test_a_run_without_a_cache_never_imports_the_hasher(tmp_path):
    """xxhash and the digests load with the first cached run (or staleness check), not before."""
    script = (
        "import sys\n"
        "from pointy_engine.graph import build_graph\n"
        "from pointy_engine.plan import Plan\n"
        "from pointy_engine.run import Run\n"
        "def A():\n    return 1\n"
        "def B(previous_result):\n    return previous_result + 1\n"
        "events = {'A': A, 'B': B}\n"
        "loaded = lambda: sorted(m for m in ('xxhash', 'pointy_engine.cache.fingerprint',"
        " 'pointy_engine.run.cached', 'pointy_engine.run.stale') if m in sys.modules)\n"
        "plain = Run(Plan(build_graph('A |-> B'), events), own_executors=True).start()\n"
        "print(plain.value, loaded())\n"
        "cached = Run(Plan(build_graph('A |-> B'), events), cache=sys.argv[1]).start()\n"
        "print(cached.value, loaded())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "2 []",
        "2 ['pointy_engine.cache.fingerprint', 'pointy_engine.run.cached', 'xxhash']",
    ]


# ----- what listeners see of a cache hit -------------------------------------------------


def test_a_cache_hit_record_carries_the_original_duration_and_when_it_ran(tmp_path):
    from pointy_engine.records import CacheOrigin

    first = run_flow(FLOW, EVENTS, cache=tmp_path)
    second = run_flow(FLOW, EVENTS, cache=tmp_path)
    hits = [r for r in second.records() if r.node]
    assert [(r.node, r.state, r.attempt, r.worker) for r in hits] == [
        ("A", "cached", 0, "cache"),
        ("B", "cached", 0, "cache"),
        ("C", "cached", 0, "cache"),
    ]
    for record in hits:
        original = first.nodes[record.node]
        result = second.nodes[record.node]
        assert record.origin == CacheOrigin(original.duration, result.cached_at)
        assert result.attempts == 0  # the event did not run
    assert all(r.origin is None for r in first.records())
    # A re-run that keeps a cached node says so again, with the same origin.
    again = second.rerun("from", node="C").start()
    kept = [r for r in again.records() if r.node == "B"]
    assert [(r.state, r.origin) for r in kept] == [("cached", hits[1].origin)]


def test_telemetry_shows_cache_hits_as_their_own_state_not_as_attempts(tmp_path):
    run_flow(FLOW, EVENTS, cache=tmp_path)
    run = run_flow(FLOW, {**EVENTS, "C": C_changed}, cache=tmp_path)
    metrics = run.metrics
    rows = [
        (row.node, row.attempt, row.state, row.executor, row.worker) for row in metrics.itertuples()
    ]
    assert rows == [
        ("A", 0, "cached", "", "cache"),
        ("B", 0, "cached", "", "cache"),
        ("C", 1, "succeeded", "inline", "MainThread"),
    ]
    hits = metrics[metrics["state"] == "cached"]
    assert hits["start"].isna().all()  # not a run of the event: no start, no duration here
    assert hits["duration"].isna().all()
    assert hits["end"].notna().all()
    summary = run.summary
    assert [(r.node, r.state, r.attempts, r.total_duration) for r in summary.itertuples()] == [
        ("A", "cached", 0, 0.0),
        ("B", "cached", 0, 0.0),
        ("C", "succeeded", 1, summary["total_duration"][2]),
    ]
    assert summary["total_duration"][2] > 0
    assert list(summary["value_type"]) == ["int", "int", "int"]
    assert "cached" in summary["state"].cat.categories


def test_run_history_keeps_cache_hits_with_their_original_duration(tmp_path):
    from engine_support import make_run

    from pointy_engine.scheduling.history import RunHistory

    history = RunHistory(tmp_path / "history.sqlite3")
    try:
        first = make_run(FLOW, EVENTS, cache=tmp_path / "cache")
        history.observe(first)
        first.start()
        second = make_run(FLOW, EVENTS, cache=tmp_path / "cache")
        history.observe(second)
        second.start()
        history.flush()
        frame = history.frame()
    finally:
        history.close()
    newest = frame[frame["run_id"] == second.id].iloc[0]
    assert newest["status"] == "succeeded"
    assert newest["nodes"] == {
        node_id: {
            "state": "cached",
            "attempts": 0,
            "duration": first.nodes[node_id].duration,
            "computed": second.nodes[node_id].cached_at,
        }
        for node_id in ("A", "B", "C")
    }
    oldest = frame[frame["run_id"] == first.id].iloc[0]
    assert {k: v["state"] for k, v in oldest["nodes"].items()} == dict.fromkeys("ABC", "succeeded")


def test_rerun_stale_without_a_plan_runs_the_new_definitions():
    namespace = dict(EVENTS)
    run = run_flow(FLOW, namespace)
    namespace["C"] = C_changed  # what a later notebook cell does
    assert run.mark_stale(namespace) == {"C"}
    again = run.rerun("stale").start()
    assert CALLS == ["A", "B", "C", "C"]
    assert again.value == 200  # C_changed ran, not the C the run started with
    assert again.plan.events["C"] is C_changed
    assert run.rerun("failed").plan.events["C"] is C  # other modes keep the events it had


def test_pipeline_start_takes_a_cache_folder_and_the_default_folder_is_configurable(
    tmp_path, monkeypatch
):
    from pointy_engine import Pipeline
    from pointy_engine.cache.store import default_directory

    class Chain(Pipeline):
        class Meta:
            pointy = FLOW

    first = Chain().start(events=EVENTS, cache=tmp_path / "given")
    second = Chain().start(events=EVENTS, cache=Cache(tmp_path / "given"))
    assert (first.status, states(second)) == ("succeeded", dict.fromkeys("ABC", "cached"))
    assert sorted(row["event"] for row in Cache(tmp_path / "given").entries()) == ["A", "B", "C"]

    monkeypatch.setenv("POINTY_CACHE", str(tmp_path / "from-env"))
    assert Cache().directory == default_directory() == tmp_path / "from-env"
    assert states(Chain().start(events=EVENTS, cache=True)) == dict.fromkeys("ABC", "succeeded")
    assert states(Chain().start(events=EVENTS, cache=True)) == dict.fromkeys("ABC", "cached")
    monkeypatch.delenv("POINTY_CACHE")
    assert default_directory().parts[-2:] == ("pointy", "results")  # platformdirs' cache dir


# ----- what a re-run keeps -----------------------------------------------------------------


def test_a_rerun_shows_what_it_keeps_from_the_start_and_records_it_even_when_cancelled():
    entered, gate = threading.Event(), threading.Event()

    def Start():
        return 1

    @event(executor="thread")
    def Flaky():
        CALLS.append("Flaky")
        if len(CALLS) == 1:
            raise ValueError("first time")
        entered.set()
        gate.wait(WAIT)
        return True, 2

    def End():
        return 3

    events = {"Start": Start, "Flaky": Flaky, "End": End}
    run = run_flow("Start -> Flaky -> End", events)
    assert states(run) == {"Start": "succeeded", "Flaky": "failed", "End": "succeeded"}
    again = run.rerun("failed")
    # Not started yet: a picture of it shows the kept steps as they are, never as pending.
    assert states(again) == {"Start": "succeeded", "Flaky": "pending", "End": "succeeded"}
    again.start(background=True)
    assert entered.wait(WAIT)
    again.cancel()
    again.wait(WAIT)
    gate.set()
    assert again.status == "cancelled"
    assert states(again) == {"Start": "succeeded", "Flaky": "cancelled", "End": "succeeded"}
    assert again.values == {"Start": 1, "End": 3}
    # End was never reached; it is still recorded, once, as kept.
    assert [(r.node, r.state) for r in again.records() if r.node] == [
        ("Start", "succeeded"),
        ("Flaky", "running"),
        ("Flaky", "cancelled"),
        ("End", "succeeded"),
    ]
