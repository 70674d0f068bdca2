"""How close the sentence models' evaluation gets to the machine's matrix-product rate.

An importance-sampled NLL of a PTB model is mostly one product: K draws x tokens hidden states
(M, 512) times the (512, 10,000) output matrix, then log p(word) = logit - logsumexp(logits).
This times, without gradients and in float32 as `vaekit eval` runs:

    products    the (M, 512) x (512, 10,000) product alone: the floor
    one pass    log_softmax over the whole (M, 10,000) logits, then the gather (vaekit before)
    blocked     TokenHead.target_log_prob: rows in blocks whose logits stay in the cache, logit -
                logsumexp, no (M, classes) log-softmax written (vaekit now)

    OMP_NUM_THREADS=1 python benchmarks/eval_logits.py [--run RUN] [--rows 16000] [--repeats 3]

With --run (a trained sentence model), its own output layer scores the decoder's hidden states of
its test sentences under their posterior means: the logits' real spread (where exp underflows, and
how fast) is part of the cost. Without, a fresh tied layer (word vectors in U(-0.1, 0.1)) scores
random states.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from vaekit.nn.sequence import TokenHead


def trained_rows(run: str, rows: int):
    """A run's output layer, and `rows` of its decoder's hidden states on test sentences with their targets."""
    from types import SimpleNamespace

    from vaekit.commands._common import open_split
    from vaekit.data.vocab import FIRST_OUTPUT_ID, PAD_ID
    from vaekit.train import load_run

    model, cfg = load_run(run)
    x, _ = open_split(cfg, SimpleNamespace(run_dir=run, data_dir=None), "test")
    states, targets, have = [], [], 0
    with torch.no_grad():
        for start in range(0, x.shape[0], 100):
            xb = x[start : start + 100]
            z = model.encode(xb).mean if model.has_prior else xb.new_zeros((xb.shape[0], 0), dtype=torch.float32)
            hidden, target = model.decoder(xb, z), xb[:, 1:]
            scored = target != PAD_ID
            states.append(hidden[scored])
            targets.append(target[scored] - FIRST_OUTPUT_ID)
            have += int(scored.sum())
            if have >= rows:
                break
    return model.head, torch.cat(states)[:rows], torch.cat(targets)[:rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16000, help="hidden states scored at once (K draws x tokens)")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--classes", type=int, default=10000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--run", default=None, help="a trained sentence model's run folder (default: a fresh layer)")
    args = p.parse_args()
    torch.manual_seed(0)
    if args.run:
        head, h, target = trained_rows(args.run, args.rows)
    else:
        words = nn.Embedding(args.classes + 2, args.hidden)  # tied, as the PTB default: vectors are the matrix
        nn.init.uniform_(words.weight, -0.1, 0.1)
        head = TokenHead(args.hidden, args.classes, "full", words).eval()
        h, target = torch.rand(args.rows, args.hidden) * 2 - 1, torch.randint(0, args.classes, (args.rows,))
    args.hidden, args.classes = h.shape[1], head.classes

    def products():
        return nn.functional.linear(h, head.output_weight(), head.bias)

    def one_pass():
        return torch.log_softmax(products(), dim=-1).gather(1, target[:, None])[:, 0]

    def blocked():
        return head.target_log_prob(h, target)

    flops = 2 * args.rows * args.hidden * args.classes
    times: dict[str, list[float]] = {"products": [], "one pass": [], "blocked": []}
    with torch.no_grad():
        gap = float((blocked() - one_pass()).abs().max())
        for _ in range(args.repeats):  # interleaved, so a neighbour's load falls on all three alike
            for name, f in (("products", products), ("one pass", one_pass), ("blocked", blocked)):
                start = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - start)
    print(f"{args.rows} rows x {args.hidden} -> {args.classes} classes, {torch.get_num_threads()} thread(s), float32")
    floor = statistics.median(times["products"])
    for name, t in times.items():
        t = statistics.median(t)
        print(f"  {name:9s} {t:6.2f} s   {flops / t / 1e9:6.1f} GFLOP/s   products are {floor / t:.0%} of it")
    print(f"  largest difference blocked - one pass: {gap:.1e} nats")


if __name__ == "__main__":
    main()
