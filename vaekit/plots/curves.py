"""Training curves from metrics.json's per-epoch records."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

NATS = ("loss", "recon", "kl", "elbo")


def curves_figure(history: Sequence[dict], title: str | None = None, per: str = "image"):
    """One panel per logged term (train and validation), against the epoch; nats `per` image (or sentence).
    Each epoch is marked (up to 30 of them), so a 1-epoch run shows its point."""
    terms = [k[len("train_") :] for k in history[0] if k.startswith("train_")]
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3.4), squeeze=False, dpi=100)
    marker = "o" if len(epochs) <= 30 else None  # one epoch is a point: a line through it is not drawn
    for ax, term in zip(axes[0], terms):
        ax.plot(epochs, [r[f"train_{term}"] for r in history], label="train", marker=marker, markersize=4)
        if f"val_{term}" in history[0]:
            ax.plot(epochs, [r[f"val_{term}"] for r in history], label="validation", marker=marker, markersize=4)
        ax.set_title(term + (f" (nats per {per})" if term in NATS else ""), fontsize=10)
        ax.set_xlabel("epoch")
        if len(epochs) <= 10:  # epochs are whole: a tick at each, none at 0.96
            ax.set_xticks(epochs)
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
