"""The one place where the report turns tensors into PNG bytes, with vaekit.plots' own functions.

vaekit.plots writes pictures to files; the report needs their bytes, so each picture is written
into a private temporary folder and read back. The words around a picture (what each row is,
the axes) go into the report's caption. When vaekit.plots gains titled, labelled figures, only
this module changes.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch


def _written(write: Callable[[Path], Path]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="vaekit-report-") as folder:
        return Path(write(Path(folder) / "picture.png")).read_bytes()


def grid_png(images: torch.Tensor, per_row: int) -> bytes:
    """Images (N, C, H, W) in [0, 1], `per_row` to a row, pixel for pixel."""
    from vaekit.plots import save_grid

    return _written(lambda path: save_grid(path, images.detach().float().cpu(), per_row))


def reconstructions_png(originals: torch.Tensor, reconstructions: torch.Tensor, per_row: int = 8) -> bytes:
    """Rows of originals, each followed by the row of their reconstructions."""
    from vaekit.plots import save_reconstructions

    return _written(
        lambda path: save_reconstructions(
            path, originals.detach().float().cpu(), reconstructions.detach().float().cpu(), per_row
        )
    )


def curves_png(history: list[dict]) -> bytes:
    from vaekit.plots import plot_curves

    return _written(lambda path: plot_curves(path, history))


def scatter_png(points: torch.Tensor, labels: torch.Tensor | None, title: str) -> bytes:
    """Points (N, 2) coloured by label (the caption names the axes)."""
    from vaekit.plots import plot_latent_scatter

    return _written(lambda path: plot_latent_scatter(path, points.detach().float().cpu(), labels, title))


def figure_png(fig) -> bytes:
    """A matplotlib figure of the report's own (vaekit.report.figures) as PNG bytes; closes it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
