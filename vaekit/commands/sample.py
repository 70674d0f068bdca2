"""Draw new images from a trained model's prior and decode them (a text run: sentences, printed
and written to RUN_DIR/samples.txt; --temperature then scales each word's distribution).

With --prior gmm:K the prior is replaced by a K-component Gaussian mixture fitted to the
posterior means of the training images ("ex-post density estimation", Ghosh et al. 2020), which
often gives sharper samples than N(0, I) where the aggregate posterior does not fill the prior.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    count,
    default_out,
    open_run,
    open_split,
    positive,
)
from vaekit.errors import VaekitError

HELP = "decode prior samples into a picture (and optionally an array)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("-n", type=count(1), default=64, help="how many samples")
    p.add_argument("--out", type=Path, default=None,
                   help="the picture (default: RUN_DIR/samples.png; a text run: samples.txt)")
    p.add_argument("--save-array", type=Path, default=None, metavar="FILE.npy",
                   help="also save the samples as an (n, C, H, W) float array in [0, 1]")
    p.add_argument("--label", type=count(0), default=None, help="class to draw, for a conditional model")
    p.add_argument("--prior", default="standard",
                   help="'standard' for p(z), or gmm:K for a K-component mixture fitted to training codes")
    p.add_argument("--temperature", type=positive, default=1.0,
                   help="below 1: less varied, more typical samples (Gaussian prior: z ~ N(0, T^2 I); "
                        "VQ-VAE code prior: softmax(logits / T))")
    p.add_argument("--nrow", type=count(1), default=8, help="images per row")
    p.add_argument("--greedy", action="store_true", help="text: the argmax word at every step instead of sampling")


def _gmm_prior(model, cfg, args, device):
    """A GaussianMixture fitted to posterior means of (up to 10,000) training images, as a
    torch Distribution (a MixtureSameFamily of full-covariance Gaussians) on `device`."""
    from vaekit.classical import GaussianMixture
    from vaekit.generate import posterior_means

    try:
        k = int(args.prior.split(":", 1)[1])
    except (IndexError, ValueError):
        raise VaekitError(f"--prior takes 'standard' or gmm:K with K a whole number, got {args.prior!r}") from None
    if k < 1:
        raise VaekitError(f"--prior gmm:K needs K at least 1 (mixture components), got {args.prior!r}")
    x, y = open_split(cfg, args, "train")
    codes = posterior_means(model, x[:10_000].to(device), y[:10_000].to(device))
    gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=args.seed).fit(codes.double())
    return gmm.to_distribution(codes.dtype, device)


def run(args) -> int:
    import io

    import numpy as np
    import torch

    from vaekit.io import atomic_write_bytes

    from vaekit.generate import sample
    from vaekit.plots import save_grid

    model, cfg, device = open_run(args)
    if cfg.vocab_size:  # a text run: sentences, printed and written to RUN_DIR/samples.txt
        from vaekit.commands import _text

        return _text.sample(args, model, cfg)
    prior = None
    if args.prior != "standard":
        if not args.prior.startswith("gmm:"):
            raise VaekitError(f"--prior takes 'standard' or gmm:K, got {args.prior!r}")
        prior = _gmm_prior(model, cfg, args, device)
    labels = None
    if args.label is not None:
        if not model.num_labels:
            raise VaekitError(f"--label is for conditional models (vaekit train cvae); this {cfg.model.name!r} run "
                              "samples without labels: drop --label")
        if not args.label < model.num_labels:
            raise VaekitError(f"--label must be a class from 0 to {model.num_labels - 1}, got {args.label}")
        labels = torch.full((args.n,), args.label, dtype=torch.long, device=device)
    images = sample(model, args.n, prior=prior, labels=labels, temperature=args.temperature)
    out = save_grid(default_out(args, "samples.png"), images, nrow=args.nrow)
    print(f"wrote {out}", file=sys.stderr)
    if args.save_array:
        args.save_array.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, images.clamp(0, 1).cpu().numpy().astype(np.float32))
        atomic_write_bytes(args.save_array, buffer.getvalue())
        print(f"wrote {args.save_array}", file=sys.stderr)
    return 0
