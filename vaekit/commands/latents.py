"""Look at the latent space: a scatter plot of the test images' codes and latent traversals.

latent-scatter.png: posterior means E[z|x] of test images, coloured by label; with more than two
latents they are projected on their first two principal components (vaekit.classical.PCA).
traversals.png: one test image's code with each of the most active latents swept from -3 to 3,
one row per latent (most active first), to see what each latent controls.
"""

from __future__ import annotations

import argparse
import sys

from vaekit.commands._common import add_data_dir_argument, add_run_arguments, count, open_run, open_split

HELP = "latent-space scatter plot and latent traversals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--limit", type=count(1), default=5000, help="test images in the scatter plot")
    p.add_argument("--rows", type=count(1), default=8, help="latents to traverse (the most active ones)")
    p.add_argument("--steps", type=count(1), default=9, help="images per traversal row")


def run(args) -> int:
    import torch

    from vaekit.generate import posterior_means, traverse
    from vaekit.plots import plot_latent_scatter, save_grid

    model, cfg, device = open_run(args)
    if cfg.vocab_size:  # a text run: the scatter plot only, points coloured by sentence length
        from vaekit.commands import _text

        return _text.latents(args, model, cfg)
    x, y = open_split(cfg, args, "test")
    x, y = x[: args.limit].to(device), y[: args.limit]
    codes = posterior_means(model, x, y.to(device))  # (N, D)
    if codes.shape[1] > 2:
        from vaekit.classical import PCA

        codes_2d = torch.as_tensor(PCA(n_components=2).fit_transform(codes.double().cpu()))
        title = f"test codes, first 2 principal components of {codes.shape[1]}"
    else:
        codes_2d, title = codes.cpu(), "test codes"
    out = plot_latent_scatter(args.run_dir / "latent-scatter.png", codes_2d, y, title)
    print(f"wrote {out}", file=sys.stderr)
    order = codes.var(dim=0).argsort(descending=True)[: args.rows].tolist()  # most active latents first
    if not model.num_labels:
        grid = traverse(model, x, order, steps=args.steps)
        out = save_grid(args.run_dir / "traversals.png", grid, nrow=args.steps)
        print(f"wrote {out}", file=sys.stderr)
    return 0
