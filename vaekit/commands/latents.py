"""Look at the latent space: a scatter plot of the test images' codes and latent traversals.

latent-scatter.png: posterior means E[z|x] of test images, one colour per label; a 2-D code is
shown as it is (axes z1, z2), a larger one projected on its first two principal components
(--projection pca, the axes say how much variance each explains) or embedded by t-SNE
(--projection tsne, written as latent-scatter-tsne.png).
traversals.png: one test image's code with one latent at a time swept from -3 to 3, one row per
latent, most active first, each row named with its latent and its average KL; latents with a KL
below 0.01 nats (posterior collapse: the decoder ignores them) are left out, and the title says
how many. For a conditional VAE the traversed image is the first test image of --label L (default:
the first test image) and every row is decoded with its label, held fixed. Both pictures go to
--out (default RUN_DIR).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    check_label,
    count,
    open_run,
    open_split,
    positive,
    run_words,
    write_picture,
)
from vaekit.errors import VaekitError

HELP = "latent-space scatter plot and latent traversals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--limit", type=count(1), default=5000, help="test images in the scatter plot")
    p.add_argument(
        "--projection",
        choices=("pca", "tsne"),
        default="pca",
        help="how codes of more than 2 dimensions are drawn in 2-D",
    )
    p.add_argument("--rows", type=count(1), default=8, help="latents to traverse at most (the most active ones)")
    p.add_argument("--steps", type=count(2), default=9, help="images per traversal row")
    p.add_argument("--span", type=positive, default=3.0, help="each traversal sweeps its latent over [-span, span]")
    p.add_argument(
        "--label",
        type=count(0),
        default=None,
        help="conditional model: traverse the first test image of this class, decoded with it (default: the first)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="folder for latent-scatter.png and traversals.png (default: RUN_DIR)"
    )


def run(args) -> int:
    import torch

    from vaekit.eval.latent import latent_activity, project_2d
    from vaekit.generate.images import posterior_means, traverse
    from vaekit.plots import ACTIVE_KL, class_names, latent_scatter_figure, traversals_figure

    out_dir = Path(args.out) if args.out else Path(args.run_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise VaekitError(f"--out is a folder for two pictures, but {out_dir} is a file")
    model, cfg, device = open_run(args)
    if model.data_kind == "sentences":  # a text run: the scatter plot only, points coloured by sentence length
        from vaekit.commands import _text

        return _text.latents(args, model, cfg)
    check_label(model, args.label)
    x, y = open_split(cfg, args, "test")
    x, y = x[: args.limit].to(device), y[: args.limit]
    first = 0  # the test image to traverse: for a conditional model, the first of --label
    if model.num_labels and args.label is not None:
        found = (y == args.label).nonzero().flatten()
        if not len(found):
            raise VaekitError(f"no test image among the first {x.shape[0]} has label {args.label}: raise --limit")
        first = int(found[0])
    label = y[first : first + 1].to(device) if model.num_labels else None
    run = run_words(cfg, args)
    codes = posterior_means(model, x, y.to(device))  # (N, D)
    points, axes, how = project_2d(codes, args.projection, seed=args.seed)
    names = class_names(Path(cfg.data.name).name, max(cfg.num_classes, int(y.max()) + 1 if len(y) else 0))
    title = f"{run}: E[z|x] of {x.shape[0]} test images\n{how}"
    scatter = "latent-scatter.png" if args.projection == "pca" or codes.shape[1] == 2 else "latent-scatter-tsne.png"
    write_picture(latent_scatter_figure(points, y, axes, title, names), out_dir / scatter)
    activity = latent_activity(model, x, y.to(device))
    active = [d for d in activity.order() if activity.values[d] >= ACTIVE_KL]
    dims = active[: args.rows]
    if not dims:
        raise VaekitError(
            f"no latent is active ({activity.measure} >= {ACTIVE_KL:g} for none of {codes.shape[1]}): "
            "nothing to traverse"
        )
    steps = args.steps
    grid = traverse(model, x[first:], dims, steps=steps, span=args.span, y=label).view(len(dims), steps, *x.shape[1:])
    if label is not None:  # the title says which class every row is decoded with
        run += f", label {int(label)} held fixed"
    values = torch.linspace(-args.span, args.span, steps).tolist()
    fig = traversals_figure(
        grid,
        dims,
        [float(activity.values[d]) for d in dims],
        values,
        run,
        activity.measure,
        activity.unit,
        left_out=codes.shape[1] - len(active),
        latent_dim=codes.shape[1],
        more_active=len(active) - len(dims),
    )
    write_picture(fig, out_dir / "traversals.png")
    return 0
