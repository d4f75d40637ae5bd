"""Inputs for fuzzing the language: token soup from its own alphabet and mutations of valid flows.

Used by the reliability tests (a few thousand inputs, with hypothesis) and by `scripts/reliability`
(a long seeded run). The contract checked is SPEC §1's: any string gives a graph or a `PointyError`,
never another exception, output or super-linear time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

# Every token kind of the language, its whitespace, and characters it rejects.
ALPHABET: tuple[str, ...] = (
    *"AB_z09",
    " ",
    "\t",
    "\n",
    "\r",
    "->",
    "|->",
    "||",
    "*",
    "(",
    ")",
    ",",
    "#",
    "@recursive-depth:3",
    "@",
    "-",
    "|",
    ">",
    "é",
    "$",
    "\x00",
    "Fetch",
    "12",
    "1000",
    "1001",
)


def token_soup(rng: random.Random, max_tokens: int = 40) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_tokens)))


def mutate(rng: random.Random, text: str, edits: int = 3) -> str:
    """`text` with a few random insertions, deletions and replacements from the alphabet."""
    chars = list(text)
    for _ in range(rng.randint(1, edits)):
        position = rng.randint(0, len(chars))
        action = rng.randrange(3)
        if action == 0 or not chars:
            chars.insert(position, rng.choice(ALPHABET))
        elif action == 1:
            del chars[min(position, len(chars) - 1)]
        else:
            chars[min(position, len(chars) - 1)] = rng.choice(ALPHABET)
    return "".join(chars)


def fuzz_inputs(seed: int, count: int, valid: Sequence[str]) -> Iterator[str]:
    """`count` inputs, half token soup and half mutations of `valid` flows, reproducible by seed."""
    rng = random.Random(seed)
    for index in range(count):
        if index % 2 and valid:
            yield mutate(rng, rng.choice(valid))
        else:
            yield token_soup(rng)
