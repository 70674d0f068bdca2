"""Fit the prior over a VQ-VAE's codes, so that 'vaekit sample RUN_DIR' can draw new images.

A VQ-VAE's encoder maps each image to a grid of discrete codes (e.g. 7x7 for MNIST). This
command encodes the run's training images to their code grids and fits a small causal
transformer p(k) = prod_i p(k_i | k_<i) over them by maximum likelihood (van den Oord et al.
2017 use a PixelCNN; see vaekit.models.code_prior). The prior is saved in RUN_DIR as
prior.safetensors (weights and config) and prior.json (config and per-epoch NLL in nats per
image), replacing any earlier one; after that 'vaekit sample' and 'vaekit eval' use it.
"""

from __future__ import annotations

import argparse
import sys

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    count,
    positive,
    real,
)
from vaekit.errors import VaekitError

HELP = "fit the autoregressive prior over a VQ-VAE's codes (needed before sampling)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--epochs", type=count(1), default=5, help="passes over the training codes")
    p.add_argument("--batch-size", type=count(1), default=128, help="code grids per step")
    p.add_argument("--lr", type=positive, default=1e-3, help="Adam learning rate")
    p.add_argument("--dim", type=count(1), default=128, help="transformer width")
    p.add_argument("--layers", type=count(1), default=2, help="transformer layers")
    p.add_argument("--heads", type=count(1), default=4, help="attention heads (must divide --dim)")
    p.add_argument("--dropout", type=real(0.0, 1.0, high_open=True), default=0.1, help="dropout in the transformer")
    p.add_argument("--limit", type=count(1), default=None, help="fit on only the first N training images")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _check(args) -> None:
    for name in ("epochs", "batch_size", "dim", "layers", "heads"):
        if getattr(args, name) < 1:
            raise VaekitError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.dim % args.heads:
        raise VaekitError(f"--heads ({args.heads}) must divide --dim ({args.dim})")
    if args.limit is not None and args.limit < 1:
        raise VaekitError(f"--limit must be at least 1, got {args.limit}")
    if args.lr <= 0 or not 0 <= args.dropout < 1:
        raise VaekitError("--lr must be positive and --dropout in [0, 1)")


def run(args) -> int:
    from vaekit.train import lock

    _check(args)
    with lock.holding(args.run_dir, create=False):  # one writer per run folder: not while it is trained
        return _fit(args)


def _fit(args) -> int:
    from tqdm.auto import tqdm

    from vaekit.commands._common import open_run, open_split
    from vaekit.models.code_prior import CodePrior, bits_per_code, encode_codes, fit_code_prior, save_code_prior

    model, cfg, device = open_run(args)
    if not model.trainable_prior:
        raise VaekitError(
            f"{args.run_dir} holds a {cfg.model.name!r} run: train-prior is for VQ-VAE runs (vaekit train vqvae)"
        )
    train_x, _ = open_split(cfg, args, "train")
    val_x, _ = open_split(cfg, args, "val")
    train_x = train_x[: args.limit] if args.limit else train_x
    train_codes = encode_codes(model, train_x.to(device))  # (N, h, w)
    val_codes = encode_codes(model, val_x.to(device))
    grid = model.code_grid
    prior = CodePrior(grid.num_codes, grid.hw, args.dim, args.layers, args.heads, args.dropout).to(device)
    steps = max(1, train_codes.shape[0] // args.batch_size)
    print(
        f"fitting the code prior on {train_codes.shape[0]} code grids {grid.words()} "
        f"of {grid.num_codes} codes on {device}",
        file=sys.stderr,
    )
    with tqdm(total=args.epochs * steps, unit="step", disable=args.quiet, file=sys.stderr, mininterval=1.0) as bar:
        history = fit_code_prior(prior, train_codes, val_codes, args.epochs, args.batch_size, args.lr, args.seed, bar)
    final = history[-1]
    record = {
        "epochs": history,
        "val_nll": final["val_nll"],
        "val_bits_per_code": bits_per_code(final["val_nll"], grid.hw),
        "train_images": int(train_codes.shape[0]),
        "checkpoint": args.which,
        "seed": args.seed,
    }
    path = save_code_prior(args.run_dir, prior, record)
    print(
        f"code prior: validation NLL {final['val_nll']:.2f} nats per image "
        f"({record['val_bits_per_code']:.3f} bits per code); saved {path}"
    )
    return 0
