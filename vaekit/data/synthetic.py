"""Synthetic sentence pairs that measure the bottleneck: copy or reverse random strings of symbols.

    --data synthetic-copy      a b c ... -> a b c ...
    --data synthetic-reverse   a b c ... -> ... c b a

Each source is a string of `LENGTHS` (5 to 60) symbols drawn uniformly and independently from
`SYMBOLS` (20 letters, spaced so each is a token), its length uniform over the range; the target
is the same string (copy) or the string read backwards (reverse). Nothing but the source says what
the target is, so a model that reads it through a state of fixed size must store every symbol
there: Cho et al. (2014) and Bahdanau et al. (2015) saw such models fail as sentences grow, and
attention lets the decoder read each symbol where it stands. The strings are drawn by numpy's PCG64
seeded with `SEED`, so the task is the same on every machine; `vaekit.data.pairs` then splits it
like any pairs file (2,000 test and 1,000 validation strings).
"""

from __future__ import annotations

import numpy as np

from vaekit.errors import VaekitError

TASKS = ("copy", "reverse")
SYMBOLS = tuple("abcdefghijklmnopqrst")
LENGTHS = (5, 60)  # shortest and longest string, both included
PAIRS = 30_000
SEED = 1234


def synthetic_pairs(
    task: str, count: int = PAIRS, seed: int = SEED, lengths: tuple[int, int] = LENGTHS
) -> list[tuple[str, str]]:
    """`count` (source, target) pairs of the task, as space-separated symbols."""
    if task not in TASKS:
        raise VaekitError(f"unknown synthetic task {task!r}: use {' or '.join(TASKS)}")
    low, high = lengths
    if not 1 <= low <= high:
        raise VaekitError(f"string lengths must satisfy 1 <= shortest <= longest, got {lengths}")
    rng = np.random.default_rng(seed)
    sizes = rng.integers(low, high + 1, size=count)  # (count,) string lengths
    symbols = np.array(SYMBOLS)[rng.integers(0, len(SYMBOLS), size=int(sizes.sum()))]  # every string's, in a row
    ends = np.cumsum(sizes)
    pairs = []
    for start, end in zip(ends - sizes, ends):
        string = symbols[start:end].tolist()
        pairs.append((" ".join(string), " ".join(string if task == "copy" else string[::-1])))
    return pairs
