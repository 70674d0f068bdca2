"""Training curves from metrics.json's per-epoch records."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

NATS = ("loss", "recon", "kl", "elbo")


def curves_figure(history: Sequence[dict], title: str | None = None, per: str = "image"):
    """One panel per logged term (train and validation), against the epoch; nats `per` image (or sentence)."""
    terms = [k[len("train_") :] for k in history[0] if k.startswith("train_")]
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3.4), squeeze=False, dpi=100)
    for ax, term in zip(axes[0], terms):
        ax.plot(epochs, [r[f"train_{term}"] for r in history], label="train")
        if f"val_{term}" in history[0]:
            ax.plot(epochs, [r[f"val_{term}"] for r in history], label="validation")
        ax.set_title(term + (f" (nats per {per})" if term in NATS else ""), fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
