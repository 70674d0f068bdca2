"""The first picture functions, write-to-a-path and untitled, kept for callers that still use them
(vaekit.report.pictures). New code: the titled, labelled `*_figure` functions of vaekit.plots.

Grids are assembled in NumPy and written with matplotlib's `imsave`, pixel for pixel (upscaled by
an integer factor so 8x8 digits are visible), so a picture shows exactly what the model produced.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaekit.io import atomic_write_bytes


def image_grid(images: torch.Tensor | np.ndarray, nrow: int, pad: int = 1, min_size: int = 320) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one (H', W') or (H', W', 3) array, `nrow` images per row.

    The grid is upscaled by the largest integer factor keeping it under ~4 * min_size pixels wide,
    and at least until it is min_size wide, so small images stay legible.
    """
    x = images.detach().float().cpu().numpy() if torch.is_tensor(images) else np.asarray(images, dtype=np.float32)
    n, c, h, w = x.shape
    ncol = -(-n // nrow)
    grid = np.ones((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = x[i]
    scale = max(1, -(-min_size // grid.shape[2]))
    grid = grid.repeat(scale, axis=1).repeat(scale, axis=2).clip(0, 1)
    return grid[0] if c == 1 else grid[:3].transpose(1, 2, 0)


def save_png(path: Path, array: np.ndarray) -> Path:
    """Writes an image array atomically."""
    buf = io.BytesIO()
    plt.imsave(buf, array, cmap="gray" if array.ndim == 2 else None, vmin=0.0, vmax=1.0, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def save_grid(path: Path, images: torch.Tensor, nrow: int) -> Path:
    return save_png(path, image_grid(images, nrow))


def save_reconstructions(path: Path, originals: torch.Tensor, recons: torch.Tensor, per_row: int = 8) -> Path:
    """Rows of originals, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, originals.shape[0], per_row):
        rows += [originals[start : start + per_row], recons[start : start + per_row]]
    return save_grid(path, torch.cat(rows), per_row)


def _save_figure(fig, path: Path) -> Path:
    """Lays out, writes atomically as PNG, and closes a matplotlib figure."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def plot_curves(path: Path, history: Sequence[dict]) -> Path:
    """Training curves from metrics.json's per-epoch records: one panel per logged term."""
    terms = [k[len("train_") :] for k in history[0] if k.startswith("train_")]
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3.2), squeeze=False)
    for ax, term in zip(axes[0], terms):
        ax.plot(epochs, [r[f"train_{term}"] for r in history], label="train")
        if f"val_{term}" in history[0]:
            ax.plot(epochs, [r[f"val_{term}"] for r in history], label="validation")
        ax.set_title(term + (" (nats)" if term in ("loss", "recon", "kl", "elbo") else ""))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    return _save_figure(fig, path)


def plot_latent_scatter(
    path: Path,
    codes: torch.Tensor,
    labels: torch.Tensor | None,
    title: str,
    colour_label: str = "label",
    cmap: str = "tab10",
) -> Path:
    """Posterior means (N, 2) as points, coloured by label (or another value per point) when given."""
    codes = codes.detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    has_labels = labels is not None and bool((labels >= 0).all())
    colour = labels.cpu().numpy() if has_labels else None
    points = ax.scatter(codes[:, 0], codes[:, 1], c=colour, cmap=cmap if has_labels else None, s=6, alpha=0.7)
    if has_labels:
        fig.colorbar(points, ax=ax, label=colour_label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save_figure(fig, path)
