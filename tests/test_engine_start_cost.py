"""What a start reuses from earlier starts, and that anything changed is still seen at once."""

from __future__ import annotations

import threading

import pytest

from pointy_engine import EventBase, Pipeline, event
from pointy_engine import plan as plan_module
from pointy_engine.plan import MissingArgumentError
from pointy_engine.registry import default_registry
from pointy_engine.retry import RetryPolicy
from pointy_engine.threads import ThreadPools, shared_threads


@pytest.fixture
def forget():
    """Names a test registers are unregistered afterwards."""
    names: list[str] = []
    yield names.append
    for name in names:
        default_registry.unregister(name)


def test_an_unchanged_start_reuses_the_last_binding(forget) -> None:
    class CostSame(EventBase):
        def process(self):
            return True, 1

    forget("CostSame")

    class Same(Pipeline):
        meta = {"pointy": "CostSame -> CostSame"}

    first, second = Same().start(), Same().start()
    assert second.plan.tasks is first.plan.tasks
    assert second.values == {"CostSame": 1, "CostSame#2": 1}


def test_a_name_used_many_times_is_analysed_once(forget, monkeypatch) -> None:
    @event
    def cost_many():
        return True, "x"

    forget("cost_many")
    seen: list[object] = []
    analyse = plan_module._analyse

    def counting(value):
        seen.append(value)
        return analyse(value)

    monkeypatch.setattr(plan_module, "_analyse", counting)

    class Many(Pipeline):
        meta = {"pointy": "cost_many -> cost_many -> cost_many || cost_many"}

    assert Many().start().status == "succeeded"
    assert Many().plan(events={"cost_many": cost_many}).tasks["cost_many#4"].kwargs == {}
    assert seen == [cost_many]  # once, for four occurrences and two plans


def test_a_class_attribute_changed_between_starts_takes_effect(forget) -> None:
    calls: list[int] = []

    class CostFlaky(EventBase):
        retry_policy = RetryPolicy(max_attempts=1)

        def process(self):
            calls.append(1)
            raise OSError("down")

    forget("CostFlaky")

    class Flaky(Pipeline):
        meta = {"pointy": "CostFlaky"}

    assert Flaky().start().nodes["CostFlaky"].attempts == 1
    CostFlaky.retry_policy = RetryPolicy(max_attempts=3, backoff_factor=0)
    assert Flaky().start().nodes["CostFlaky"].attempts == 3
    assert len(calls) == 4


def test_a_redefined_method_and_new_defaults_take_effect(forget) -> None:
    class CostMethod(EventBase):
        def process(self):
            return True, "old"

    @event
    def cost_needs(value):
        return True, value

    forget("CostMethod")
    forget("cost_needs")

    class Method(Pipeline):
        meta = {"pointy": "CostMethod"}

    class Needs(Pipeline):
        meta = {"pointy": "cost_needs"}

    assert Method().start().value == "old"
    CostMethod.process = lambda self: (True, "new")
    assert Method().start().value == "new"
    with pytest.raises(MissingArgumentError):
        Needs().start()
    cost_needs.function.__defaults__ = (5,)  # now nothing is missing
    assert Needs().start().value == 5


def test_new_inputs_reach_the_events(forget) -> None:
    from pointy_engine import InputDataField

    @event
    def cost_echo(text):
        return True, text

    forget("cost_echo")

    class Echo(Pipeline):
        text = InputDataField(data_type=str)
        meta = {"pointy": "cost_echo"}

    assert Echo(text="a").start().value == "a"
    assert Echo(text="b").start().value == "b"


def test_a_graph_is_built_once_per_flow_text() -> None:
    assert plan_module.graph_of("A -> B || C") is plan_module.graph_of("A -> B || C")
    assert plan_module.graph_of("A -> B") is not plan_module.graph_of("A -> C")


def test_starts_share_the_process_thread_pools(forget) -> None:
    workers: list[threading.Thread] = []

    @event(executor="thread", max_workers=2, thread_name_prefix="cost-shared")
    def cost_where():
        workers.append(threading.current_thread())
        return True, None

    forget("cost_where")

    class Where(Pipeline):
        meta = {"pointy": "cost_where"}

    for _ in range(6):
        assert Where().start().status == "succeeded"
    # A pool per start would have started a thread per start.
    assert len(set(workers)) <= 2
    assert all(thread.name.startswith("cost-shared_") for thread in workers)
    assert shared_threads.get(2, "cost-shared")._threads[0] in workers


def test_thread_pools_are_rebuilt_after_a_shutdown() -> None:
    pools = ThreadPools()
    pool = pools.get(2, "cost-rebuilt")
    assert pools.get(2, "cost-rebuilt") is pool
    assert pool.submit(lambda: 3).result(5) == 3
    pools.shutdown(wait=True)
    with pytest.raises(RuntimeError, match=r"^cannot dispatch work after shutdown$"):
        pool.submit(lambda: 3)
    again = pools.get(2, "cost-rebuilt")
    assert again is not pool
    assert again.submit(lambda: 4).result(5) == 4
    pools.shutdown(wait=True)
