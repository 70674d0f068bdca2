"""The image pictures: prior samples, reconstructions, interpolations and latent traversals.

Each function takes tensors or arrays of images (N, C, H, W) in [0, 1] and the words that say
what they are, and returns a matplotlib Figure (write it with `save_figure`). Titles come from
`run_title` / `prior_title`, so the CLI and the HTML report describe a run the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vaekit.plots.canvas import Frame, labelled_grid, to_numpy

ACTIVE_KL = 0.01  # nats: a latent whose average KL is below this carries (almost) nothing


def run_title(model: str, data: str, checkpoint: str | None = None) -> str:
    """'vae on mnist' (+ ', last checkpoint' when not the best one)."""
    return f"{model} on {data}" + (f", {checkpoint} checkpoint" if checkpoint and checkpoint != "best" else "")


def prior_title(prior: str = "N(0, I)", temperature: float = 1.0, label: int | None = None) -> str:
    """What the codes were drawn from, in words: 'prior N(0, I), temperature 0.7'.

    `prior` is 'gmm:K' (a mixture fitted to the training codes) or the model's `prior_words`.
    """
    if prior.startswith("gmm:"):
        words = f"prior: {prior[4:]}-component Gaussian mixture fitted to the training codes"
    elif prior.startswith("N("):
        words = f"prior {prior}"
    else:
        words = f"prior: {prior}"
    words += f", temperature {temperature:g}"
    return words + (f", label {label}" if label is not None else "")


def samples_figure(images, run: str, prior: str, ncol: int = 8):
    """Prior samples, ncol per row: title '<run>: N samples (decoded means)' and the prior on a second line."""
    n = len(images)
    rows = [images[i : i + ncol] for i in range(0, n, ncol)]
    title = f"{run}: {n} samples (decoded means E[x|z])\n{prior}"
    return labelled_grid(rows, title, ncol=min(ncol, n))


def reconstructions_figure(
    originals, reconstructions, run: str, split: str = "test", ncol: int = 8, requested: int | None = None
):
    """Aligned pairs of rows: originals, then their reconstructions right below, for any count.

    `requested` (when larger than the images given) is said in the title: the split had fewer.
    """
    n = len(originals)
    if len(reconstructions) != n:
        raise ValueError(f"{n} originals but {len(reconstructions)} reconstructions")
    rows, labels, groups = [], [], []
    for start in range(0, n, ncol):
        stop = min(n, start + ncol)
        span = f"{start + 1}-{stop}" if stop - start > 1 else f"{start + 1}"
        groups.append(len(rows))
        rows += [originals[start:stop], reconstructions[start:stop]]
        labels += [f"original {span}", f"reconstruction {span}"]
    title = f"{run}: {n} {split} images and their reconstructions E[x|z = E[z|x]]"
    if requested is not None and requested > n:
        title += f"\n(asked for {requested}; the {split} split has only {n})"
    return labelled_grid(rows, title, labels, ncol=min(ncol, n), gap_before=groups)


def interpolations_figure(linear, spherical, image_a, image_b, run: str, pair_labels: Sequence[str] | None = None):
    """Per pair of test images A, B: the linear path and the spherical one (slerp), each a labelled row.

    linear, spherical: (P, T, C, H, W) decoded paths from A's code (t = 0) to B's code (t = 1);
    image_a, image_b: (P, C, H, W) the real images, shown in the first and last columns. The
    decoded end points are framed (A orange, B blue). `pair_labels` (one per pair, e.g. 'label 3'
    for a conditional model that decodes the pair's path with that label) join the row names.
    """
    pairs, steps = len(linear), len(linear[0])
    rows, labels, frames, groups = [], [], [], []
    for p in range(pairs):
        groups.append(len(rows))
        for name, path in (("linear", linear[p]), ("spherical", spherical[p])):
            frames += [Frame(len(rows), 1, "tab:orange"), Frame(len(rows), steps, "tab:blue")]
            rows.append([image_a[p], *path, image_b[p]])
            labels.append(f"pair {p + 1}{f' ({pair_labels[p]})' if pair_labels else ''}, {name}")
    ts = [f"{t / (steps - 1):.2g}" for t in range(steps)]
    cols = ["A", *ts, "B"]
    title = (
        f"{run}: walks between the codes of test images A and B\n"
        "linear: z = (1-t) zA + t zB; spherical: along the great circle (slerp); framed: decoded end points"
    )
    xlabel = "t (A and B: the real test images)"
    fig = labelled_grid(
        [_stack(r) for r in rows],
        title,
        labels,
        cols,
        xlabel=xlabel,
        gap_before=groups,
        col_gap_before=(1, steps + 1),
        frames=frames,
    )
    ticks = fig.axes[0].get_xticklabels()  # A and its code in the colour of its frame, B and its code in B's
    for i, colour in ((0, "tab:orange"), (1, "tab:orange"), (steps, "tab:blue"), (steps + 1, "tab:blue")):
        ticks[i].set_color(colour)
    return fig


def traversals_figure(
    images,
    dims: Sequence[int],
    activity: Sequence[float],
    values: Sequence[float],
    run: str,
    measure: str = "KL",
    unit: str = " nats",
    left_out: int = 0,
    latent_dim: int | None = None,
    more_active: int = 0,
):
    """One row per latent: the decoded code of one test image with that latent swept over `values`.

    images: (R, T, C, H, W); dims: the latent index of each row (0-based, shown 1-based as z1, z2 ...);
    activity: each row's average KL (or another measure of use), shown beside its name.
    `left_out` latents were not drawn because they do nothing, `more_active` active ones for want
    of rows; the title says how many.
    """
    labels = [f"z{d + 1} ({measure} {a:.2f}{unit})" for d, a in zip(dims, activity)]
    title = f"{run}: latent traversals of one test image, most active latents first"
    if left_out:
        total = f" of {latent_dim}" if latent_dim else ""
        title += f"\n{left_out}{total} latents left out: inactive ({measure} < {ACTIVE_KL:g}{unit})"
    if more_active:
        title += f"\n{more_active} more active latents not shown"
    if measure == "var":
        title += "\nvar: variance of the latent's E[z|x] over the test images (the model has no KL per latent)"
    cols = [f"{v:+.1f}" for v in values]
    xlabel = "value of the row's latent (the others stay at the image's code E[z|x])"
    return labelled_grid([_stack(r) for r in images], title, labels, cols, xlabel=xlabel)


def _stack(row):
    """A list of (C, H, W) images -> one (k, C, H, W) array."""
    return np.stack([to_numpy(im) for im in row]) if isinstance(row, list) else row
