"""Load, memory, soak and kill -9, small: the checks `scripts/reliability` runs at full size."""

from __future__ import annotations

import json

import pytest
import reliability_checks as checks
from kernel_support import execute, printed, running_kernel


def test_100_concurrent_runs_keep_their_own_values_records_and_output():
    figures = checks.concurrent_runs(100)
    assert figures["concurrent runs"] == 100
    assert figures["runs with crosstalk or a wrong value"] == 0


def test_the_crosstalk_check_sees_a_foreign_line():
    run = checks.Tagged(n=7).start(events=checks.LOAD_EVENTS, capture_output=True)
    assert checks.crosstalk_of(run, 7) == []
    run.nodes["Double"].output += "triple 8\n"
    assert checks.crosstalk_of(run, 7) == [
        "run 7: Double captured 'double 7\\ntriple 8\\n', not 'double 7\\n'"
    ]


def test_a_5000_event_run_retains_at_most_2_kib_per_finished_event():
    figures = checks.memory_per_event(5_000)  # 100,000 in scripts/reliability
    assert figures["bytes retained per finished event"] <= checks.MEMORY_TARGET, figures


def test_back_to_back_runs_leave_threads_and_fds_flat():
    figures = checks.soak_runs(300, warmup=50)
    assert figures["soak runs failed"] == 0
    assert (figures["soak leaked threads"], figures["soak leaked fds"]) == (0, 0), figures
    assert figures["soak memory growth (KiB)"] < 4096, figures


def test_scheduled_runs_leave_threads_and_fds_flat_and_are_all_kept():
    figures = checks.soak_scheduled(60, warmup=20)  # 1,000 in scripts/reliability
    assert figures["scheduled runs failed"] == 0
    assert figures["scheduled runs in history"] >= 80  # warm-up and counted runs, all kept
    assert (figures["scheduled leaked threads"], figures["scheduled leaked fds"]) == (0, 0)
    assert figures["scheduled thread growth while running"] <= 10  # APScheduler's pool size
    assert figures["scheduled memory growth (KiB)"] < 4096, figures


def test_the_history_survives_kill_9_during_writes():
    figures = checks.history_kill9(3)
    assert figures["history runs committed before the kills"] >= 3
    assert figures["history corrupt after kill -9"] == 0
    assert figures["history committed runs lost"] == 0


# 100 background cells whose runs are all going at once (each waits at a gate in Tag), then
# released together: each run's captured output and its cell's Output widget hold its own lines.
KERNEL_SETUP = """\
%load_ext pointy_jupyter
import threading, time
gate = threading.Event()
started = []
def Tag(n):
    started.append(n)
    gate.wait(60)
    print(f"tag {n}")
    return n
def Double(previous_result):
    time.sleep(0.01)
    print(f"double {previous_result}")
    return previous_result * 2
def Triple(previous_result):
    print(f"triple {previous_result}")
    return previous_result * 3
def Check(previous_result):
    print(f"check {previous_result[0]} {previous_result[1]}")
    return sum(previous_result)
"""

KERNEL_CHECK = """\
import json
magics = get_ipython().magics_manager.registry["PointyMagics"]
def expected(n):
    return sorted([f"tag {n}", f"double {n}", f"triple {n}", f"check {2 * n} {3 * n}"])
def only_its_own(text, n):
    # Double and Triple print from two threads at once, so in the shared Output their text and
    # newlines may interleave (as in a terminal); each print's text is one write, whole.
    rest = text
    for line in expected(n):
        rest = rest.replace(line, "", 1)
    return rest == "\\n" * 4
wrong = []
for n in range(COUNT):
    run = globals()[f"r{n}"]
    run.wait(60)
    if (run.status, run.value) != ("succeeded", 5 * n):
        wrong.append([n, run.status, run.value])
    captured = "".join(run.nodes[node].output for node in ("Tag", "Double", "Triple", "Check"))
    if sorted(captured.splitlines()) != expected(n):
        wrong.append([n, "captured", captured])
    sink = magics.session.controller_of(run).sink
    sink.flush()
    shown = "".join(item["text"] for item in sink.output.outputs)
    if not only_its_own(shown, n):
        wrong.append([n, "widget", shown])
print(json.dumps(wrong))
"""


@pytest.mark.slow
def test_100_concurrent_background_cells_in_a_kernel_keep_their_own_output(tmp_path):
    count = 100
    with running_kernel(tmp_path, KERNEL_SETUP) as (_, client):
        for n in range(count):
            flow = "Tag |-> Double || Triple |-> Check"
            execute(client, f"%%pointy --background -o r{n} --input n={n}\n{flow}")
        wait = (
            "until = time.monotonic() + 30\n"
            f"while len(started) < {count} and time.monotonic() < until:\n"
            "    time.sleep(0.01)\n"
            "print(len(started))"
        )
        going = printed(execute(client, wait))
        assert going == f"{count}\n"  # all 100 are inside Tag at once
        execute(client, "gate.set()")
        wrong = json.loads(printed(execute(client, KERNEL_CHECK.replace("COUNT", str(count)))))
        assert wrong == []
