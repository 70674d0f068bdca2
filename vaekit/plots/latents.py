"""The latent space as a scatter plot: test codes in two dimensions, one colour per label."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

# Names of the classes of built-in datasets whose labels are not self-explanatory digits.
CLASS_NAMES = {
    "fashion-mnist": (
        "T-shirt/top",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ),
    "sprites": ("square", "ellipse", "heart"),
}


def class_names(data_name: str, num_classes: int) -> list[str]:
    """Legend entries for a dataset's labels 0..K-1: '3' for digits, '0 T-shirt/top' for Fashion-MNIST."""
    names = CLASS_NAMES.get(data_name)
    if names and len(names) == num_classes:
        return [f"{k} {name}" for k, name in enumerate(names)]
    return [str(k) for k in range(num_classes)]


def latent_scatter_figure(
    points,
    labels,
    axis_names: Sequence[str],
    title: str,
    label_names: Sequence[str] | None = None,
    label_title: str = "label",
    continuous: bool = False,
):
    """Codes (N, 2) as points; with labels (N,) (-1 = none) one discrete colour per label and a legend.

    axis_names: e.g. ('z1', 'z2') for a 2-D code, ('PC 1 (23% of variance)', 'PC 2 (...)') for PCA.
    continuous: `labels` is a quantity (e.g. words per sentence), shown on a colour scale named
    `label_title` instead of a legend.
    """
    points = points.detach().cpu().numpy() if torch.is_tensor(points) else np.asarray(points)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=100)
    has_labels = labels is not None and len(labels) and bool((np.asarray(labels) >= 0).all())
    if has_labels and continuous:
        shade = labels.cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        dots = ax.scatter(points[:, 0], points[:, 1], c=shade, cmap="viridis", s=5, alpha=0.7, rasterized=True)
        fig.colorbar(dots, ax=ax, label=label_title)
    elif has_labels:
        labels = labels.cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        classes = np.unique(labels)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, k in enumerate(classes):
            name = label_names[k] if label_names is not None and k < len(label_names) else str(k)
            chosen = labels == k
            ax.scatter(
                points[chosen, 0],
                points[chosen, 1],
                s=5,
                alpha=0.6,
                color=cmap(i % cmap.N),
                label=name,
                rasterized=True,
            )
        legend = ax.legend(
            title=label_title, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, markerscale=3, frameon=False
        )
        for handle in legend.legend_handles:
            handle.set_alpha(1.0)
    else:
        ax.scatter(points[:, 0], points[:, 1], s=5, alpha=0.6, color="tab:blue", rasterized=True)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
