"""Bad input to the language: any string gives a graph or a PointyError, quietly, in linear time."""

from __future__ import annotations

import contextlib
import gc
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointy_engine.errors import PointyError
from pointy_engine.fuzzing import ALPHABET, fuzz_inputs, mutate
from pointy_engine.graph import Graph, build_graph

# CI samples the inputs; scripts/reliability fuzzes 100,000 seeded ones for the volume.
FUZZ_EXAMPLES = 1500
FIXTURES = Path(__file__).parent.parent / "fixtures"
VALID = [
    line
    for line in (FIXTURES / "valid_pipelines.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def parse_quietly(text: str, capfd) -> Graph | PointyError:
    try:
        result: Graph | PointyError = build_graph(text)
    except PointyError as error:
        str(error)  # the message with its caret renders too
        result = error
    out, err = capfd.readouterr()
    assert (out, err) == ("", ""), f"parsing {text!r} printed something"
    return result


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join))
def test_token_soup_gives_a_graph_or_a_pointy_error(capfd, text):
    assert isinstance(parse_quietly(text, capfd), (Graph, PointyError))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(VALID), st.randoms(use_true_random=False))
def test_mutated_valid_flows_give_a_graph_or_a_pointy_error(capfd, flow, rng):
    assert isinstance(parse_quietly(mutate(rng, flow), capfd), (Graph, PointyError))


def test_the_seeded_fuzz_inputs_are_reproducible_and_mixed():
    first = list(fuzz_inputs(7, 200, VALID))
    assert first == list(fuzz_inputs(7, 200, VALID))
    assert first != list(fuzz_inputs(8, 200, VALID))
    assert len(set(first)) > 150


def _seconds_per_char(text: str) -> float:
    """Best of 5, with the cyclic GC paused: its pauses, not the parser, vary with heap size."""
    best = float("inf")
    gc.disable()
    try:
        for _ in range(5):
            started = time.perf_counter()
            with contextlib.suppress(PointyError):
                build_graph(text)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / len(text)


def test_time_per_character_stays_flat_as_inputs_grow():
    # Valid and invalid shapes, small and 16x larger: time per character must not grow with size.
    # A quadratic parser would be ~16x slower per character at the larger size; the bound leaves
    # room for a loaded machine.
    shapes = {
        "chain": lambda n: " -> ".join(f"E{i}" for i in range(n)),
        "fan": lambda n: " || ".join(f"E{i}" for i in range(n)),
        "nested arms": lambda n: "A (1 -> " * (n // 10) + "B" + ")" * (n // 10),
        "error at the end": lambda n: " -> ".join(f"E{i}" for i in range(n)) + " -> $",
    }
    for name, make in shapes.items():
        small, large = _seconds_per_char(make(1000)), _seconds_per_char(make(16000))
        assert large < small * 6, f"{name}: {large / small:.1f}x slower per character at 16x size"
