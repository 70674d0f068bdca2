"""CPU time per training step of `vaekit train seq2seq --data fra-eng`, variants alternated in one process.

    python benchmarks/seq2seq_step.py dot additive --rounds 8
    python benchmarks/seq2seq_step.py additive additive-per-step-lookup --rounds 12

Each variant gets its own Trainer at the defaults (batch 64, GRU 256, seed 0) and the first epoch's
bucketed batches; blocks of 5 steps alternate between the variants (the order flips every round), so
a load that drifts costs them alike. The cost is the thread's CPU time (one thread), the number
comparable on a shared machine. `additive-per-step-lookup` is the additive decoder as it was before
its word vectors were looked up once for all steps (BENCHMARKS.md, "The step profiled").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import types
from pathlib import Path

import torch

from vaekit.cli import build_parser
from vaekit.commands._common import pair_options, text_options
from vaekit.commands.train import config_from_args
from vaekit.data import load_dataset
from vaekit.data.text import bucketed_order
from vaekit.train.step import epoch_seed
from vaekit.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alternated_steps import cpu_seconds  # noqa: E402

BLOCK = 5


def _looked_up_per_step(self, target, memo):
    state = self.initial_state(memo)
    outs, weights = [], []
    for t in range(target.shape[1] - 1):
        out, state, w = self._advance(target[:, t], memo, state)  # one lookup (and dense gradient) a step
        outs.append(out)
        weights.append(w)
    return self.decoder.dropout(torch.stack(outs, 1)), torch.stack(weights, 1)


def program(variant: str, data):
    kind = variant.removesuffix("-per-step-lookup")
    cfg = config_from_args(build_parser().parse_args(["train", "seq2seq", "--data", "fra-eng", "--attention", kind]))
    if data is None:
        data = load_dataset(cfg.data.name, cfg.data.data_dir, text=text_options(cfg.data), pairs=pair_options(cfg.data))
    trainer = Trainer(cfg, data, Path(tempfile.mkdtemp()) / "run", show_progress=False)
    if variant.endswith("-per-step-lookup"):
        trainer.model._step_through = types.MethodType(_looked_up_per_step, trainer.model)
    order = torch.Generator().manual_seed(epoch_seed(0, 0))
    perm = torch.randperm(trainer.train_x.shape[0], generator=order)
    trainer.program.start_epoch(bucketed_order(perm, trainer.lengths, 64, order), 0)
    trainer.model.train()
    return trainer.program, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="dot, additive, none, additive-per-step-lookup")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    programs, data = {}, None
    for variant in args.variants:
        programs[variant], data = program(variant, data)
        programs[variant]()  # a warm-up step
    cpu = cpu_seconds(programs, args.rounds, BLOCK)
    steps = BLOCK * args.rounds
    for variant, p in programs.items():
        print(f"{variant}: {cpu[variant] / steps * 1000:.1f} ms CPU a step ({steps} steps), loss sum {p.sums[0]:.4f}")


if __name__ == "__main__":
    main()
