"""The report's figures that no command draws: use of each latent, codebook usage, the decoded manifold.

Like `vaekit.plots`, each function takes numbers and words and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no screen needed; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def latent_use_figure(values: Sequence[float], measure: str, unit: str, title: str, threshold: float):
    """One bar per latent dimension (z1, z2, ... in order), with the 'in use' threshold drawn."""
    values = np.asarray(values, dtype=float)
    d = len(values)
    fig, ax = plt.subplots(figsize=(min(12.0, max(6.0, 3.0 + 0.28 * d)), 3.4), dpi=100)
    used = values >= threshold
    ax.bar(np.arange(d), values, color=np.where(used, "tab:blue", "tab:gray"))
    ax.axhline(threshold, color="tab:red", linewidth=0.8, linestyle="--")
    ax.set_xticks(np.arange(d))
    ax.set_xticklabels([f"z{i + 1}" for i in range(d)], rotation=90 if d > 24 else 0, fontsize=8 if d > 24 else 9)
    ax.set_xlim(-0.6, d - 0.4)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel(f"{measure}{' (' + unit.strip() + ')' if unit.strip() else ''}")
    ax.set_title(
        f"{title}\n{int(used.sum())} of {d} latents with {measure} ≥ {threshold:g}{unit} "
        "(grey: below, the dashed line)",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def codebook_usage_figure(counts: Sequence[int], title: str):
    """How often each code of a VQ-VAE's codebook is chosen, most used first (a log scale shows the tail)."""
    counts = np.asarray(counts, dtype=float)
    k = len(counts)
    order = np.argsort(-counts, kind="stable")
    share = counts[order] / max(counts.sum(), 1.0)
    fig, ax = plt.subplots(figsize=(9.0, 3.4), dpi=100)
    ax.bar(np.arange(k), np.where(share > 0, share, np.nan), width=1.0, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_xlabel(f"codes of the codebook, most used first ({int((counts > 0).sum())} of {k} used)")
    ax.set_ylabel("share of grid cells")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def manifold_figure(images, z1: Sequence[float], z2: Sequence[float], title: str):
    """Decoded images over a grid of a 2-D code: images (R, K, C, H, W), row r at z2[r] (top: largest),
    column k at z1[k]; the rows and columns are labelled with their values of z2 and z1."""
    from vaekit.plots import labelled_grid

    return labelled_grid(
        list(images), title, [f"z2 = {v:+.2f}" for v in z2], [f"{v:+.1f}" for v in z1], xlabel="z1", min_tile_px=40
    )
