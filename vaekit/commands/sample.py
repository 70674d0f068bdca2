"""Draw new images from a trained model's prior and decode them (a text run: sentences, printed
and written to RUN_DIR/samples.txt; --temperature then scales each word's distribution).

With --prior gmm:K the prior is replaced by a K-component Gaussian mixture fitted to the
posterior means of the training images ("ex-post density estimation", Ghosh et al. 2020), which
often gives sharper samples than N(0, I) where the aggregate posterior does not fill the prior.

The picture's default name says how it was drawn, so drawing with other settings keeps the
earlier pictures: samples.png (the model's prior, temperature 1; the one training writes),
samples-gmm10.png, samples-t0.7.png, samples-label7.png. Replacing a file of the same name is
said on stderr.
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
    run_words,
    write_picture,
)
from vaekit.commands._text import add_decode_arguments, refuse_decode_flags
from vaekit.errors import VaekitError

HELP = "decode prior samples into a picture (and optionally an array)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("-n", type=count(1), default=64, help="how many samples")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the picture (default: RUN_DIR/samples.png, or samples-gmm10.png, samples-t0.7.png, "
        "samples-label7.png ... naming the settings; a text run: samples.txt)",
    )
    p.add_argument(
        "--save-array",
        type=Path,
        default=None,
        metavar="FILE.npy",
        help="also save the samples as an (n, C, H, W) float array in [0, 1]",
    )
    p.add_argument("--label", type=count(0), default=None, help="class to draw, for a conditional model")
    p.add_argument(
        "--prior",
        default="standard",
        help="'standard' for p(z), or gmm:K for a K-component mixture fitted to training codes",
    )
    p.add_argument(
        "--temperature",
        type=positive,
        default=1.0,
        help="below 1: less varied, more typical samples (Gaussian prior: z ~ N(0, T^2 I); "
        "VQ-VAE code prior: softmax(logits / T))",
    )
    p.add_argument("--nrow", type=count(1), default=8, help="images per row")
    p.add_argument("--greedy", action="store_true", help="text: the argmax word at every step instead of sampling")
    add_decode_arguments(p)


def picture_name(prior: str, temperature: float, label: int | None) -> str:
    """samples.png for the model's own prior at temperature 1; other settings in the name."""
    parts = ["samples"]
    if prior != "standard":
        parts.append(prior.replace(":", ""))
    if temperature != 1.0:
        parts.append(f"t{temperature:g}")
    if label is not None:
        parts.append(f"label{label}")
    return "-".join(parts) + ".png"


def _gmm_prior(model, cfg, args, device):
    """A GaussianMixture fitted to posterior means of (up to 10,000) training images, as a
    torch Distribution (a MixtureSameFamily of full-covariance Gaussians) on `device`."""
    from vaekit.classical import GaussianMixture
    from vaekit.generate.images import posterior_means

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


def prior_words(model, prior: str) -> str:
    """'gmm:K', or for --prior standard what the model's own prior is ("N(0, I)", a VampPrior, a code prior)."""
    return model.prior_words if prior == "standard" else prior


def run(args) -> int:
    import io

    import numpy as np
    import torch

    from vaekit.generate.images import sample
    from vaekit.io import atomic_write_bytes
    from vaekit.plots import prior_title, samples_figure

    model, cfg, device = open_run(args)
    if model.data_kind == "sentences":  # a text run: sentences, printed and written to RUN_DIR/samples.txt
        from vaekit.commands import _text

        return _text.sample(args, model, cfg)
    refuse_decode_flags(args)
    prior = None
    if args.prior != "standard":
        if not args.prior.startswith("gmm:"):
            raise VaekitError(f"--prior takes 'standard' or gmm:K, got {args.prior!r}")
        prior = _gmm_prior(model, cfg, args, device)
    labels = None
    if args.label is not None:
        if not model.num_labels:
            raise VaekitError(
                f"--label is for conditional models (vaekit train cvae); this {cfg.model.name!r} run "
                "samples without labels: drop --label"
            )
        if not args.label < model.num_labels:
            raise VaekitError(f"--label must be a class from 0 to {model.num_labels - 1}, got {args.label}")
        labels = torch.full((args.n,), args.label, dtype=torch.long, device=device)
    images = sample(model, args.n, prior=prior, labels=labels, temperature=args.temperature)
    words = prior_title(prior_words(model, args.prior), args.temperature, args.label)
    fig = samples_figure(images, run_words(cfg, args), words, ncol=args.nrow)
    write_picture(fig, default_out(args, picture_name(args.prior, args.temperature, args.label)))
    if args.save_array:
        args.save_array.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, images.clamp(0, 1).cpu().numpy().astype(np.float32))
        atomic_write_bytes(args.save_array, buffer.getvalue())
        print(f"wrote {args.save_array}", file=sys.stderr)
    return 0
