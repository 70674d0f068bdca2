"""CPU time per training step of the PTB sentence VAE (or LM) in each precision, variants alternated in one process.

    python benchmarks/text_step.py float32 bf16 bf16-torch-head bf16-bernoulli --hidden 512 --rounds 6
    python benchmarks/text_step.py bf16 --hidden 768 --encoder-hidden 256

Each variant gets its own Trainer for the PTB recipe of BENCHMARKS.md ("The Penn Treebank"): GRU
`--hidden` with a `--encoder-hidden` encoder, word vectors 256, dropout 0.5 on word vectors and
outputs, batch 128, z of 32, adaptive softmax, seed 0, and the first epoch's bucketed batches. Blocks
of 5 steps alternate between the variants (the order flips every round), so a drifting load costs
them alike; the cost is the thread's CPU time (one thread).

    float32           every product in float32
    bf16              `--precision bf16`: the recurrent layers' and the adaptive softmax's products in
                      bfloat16, every log-softmax in float32
    bf16-torch-head   bf16 with the adaptive softmax as torch's module computes it, in float32 (vaekit
                      before 2026-12-07: torch's forward would write bf16 rows into a float32 output)
    bf16-bernoulli    bf16 with torch's own dropout (a mask by `bernoulli_`) instead of vaekit's
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import types
from pathlib import Path

import torch
from torch import nn

from vaekit.cli import build_parser
from vaekit.commands._common import text_options
from vaekit.commands.train import config_from_args
from vaekit.data import load_dataset
from vaekit.data.text import bucketed_order
from vaekit.nn.recurrent import Dropout
from vaekit.nn.sequence import _float32
from vaekit.train.step import epoch_seed
from vaekit.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alternated_steps import cpu_seconds  # noqa: E402

BLOCK = 5
VARIANTS = ("float32", "bf16", "bf16-torch-head", "bf16-bernoulli")


def _torch_head(self, h, target):
    if self.adaptive is not None:
        with _float32(h):
            return self.adaptive(h.float(), target).output
    return torch.log_softmax(self._logits(h).float(), dim=-1).gather(1, target[:, None])[:, 0]


def program(variant: str, args, data):
    flags = ["train", args.model, "--data", "ptb", "--hidden", str(args.hidden), "--embedding-dim", "256"]
    flags += ["--dropout", "0.5", "--embedding-dropout", "0.5", "--batch-size", "128", "--seed", "0"]
    flags += ["--precision", "float32" if variant == "float32" else "bf16"]
    if args.model != "lm":
        flags += ["--encoder-hidden", str(args.encoder_hidden), "--latent-dim", "32", "--free-bits", "0.2"]
    cfg = config_from_args(build_parser().parse_args(flags))
    if data is None:
        data = load_dataset(cfg.data.name, cfg.data.data_dir, text=text_options(cfg.data))
    trainer = Trainer(cfg, data, Path(tempfile.mkdtemp()) / "run", show_progress=False)
    model = trainer.model
    if variant == "bf16-torch-head":
        model.head.target_log_prob = types.MethodType(_torch_head, model.head)
    if variant == "bf16-bernoulli":
        for parent in model.modules():
            for name, child in parent.named_children():
                if isinstance(child, Dropout):
                    setattr(parent, name, nn.Dropout(child.p))
    order = torch.Generator().manual_seed(epoch_seed(0, 0))
    perm = torch.randperm(trainer.train_x.shape[0], generator=order)
    trainer.program.start_epoch(bucketed_order(perm, trainer.lengths, 128, order), 0)
    model.train()
    return trainer.program, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", choices=VARIANTS)
    parser.add_argument("--model", default="vae", choices=("vae", "lm"))
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--encoder-hidden", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    programs, data = {}, None
    for variant in args.variants:
        programs[variant], data = program(variant, args, data)
        programs[variant]()  # a warm-up step
    cpu = cpu_seconds(programs, args.rounds, BLOCK)
    steps = BLOCK * args.rounds
    base = cpu[args.variants[0]]
    for variant, p in programs.items():
        ms = cpu[variant] / steps * 1000
        print(
            f"{args.model} GRU {args.hidden} {variant}: {ms:.1f} ms CPU a step, {128 / ms * 1000:.0f} sentences/s "
            f"({steps} steps, {base / cpu[variant]:.2f}x {args.variants[0]}), loss sum {p.sums[0]:.2f}"
        )


if __name__ == "__main__":
    main()
