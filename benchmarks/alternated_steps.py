"""CPU seconds of training steps of several variants, run in alternated blocks in one process.

Blocks of `block` steps alternate between the variants and the order flips every round, so a load
that drifts costs them alike. The cost is the thread's CPU time (run it with one thread): the
number comparable on a shared machine. Used by `seq2seq_step.py` and `text_step.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def cpu_seconds(programs: dict[str, Callable[[], None]], rounds: int, block: int = 5) -> dict[str, float]:
    """{variant: CPU seconds spent in its rounds * block steps}."""
    cpu = dict.fromkeys(programs, 0.0)
    for r in range(rounds):
        for variant in programs if r % 2 == 0 else reversed(list(programs)):
            start = time.thread_time()
            for _ in range(block):
                programs[variant]()
            cpu[variant] += time.thread_time() - start
    return cpu
