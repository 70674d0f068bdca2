"""Writing a finished matplotlib figure to disk, atomically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed; must precede pyplot
import matplotlib.pyplot as plt

from vaekit.io import atomic_write_bytes


def figure_png(fig) -> bytes:
    """The figure as PNG bytes at its own size (100 dpi, no cropping, so image pixels stay exact); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path: str | Path) -> Path:
    """Writes the figure as a PNG atomically (a killed process leaves the old file or the new one) and closes it."""
    path = Path(path)
    atomic_write_bytes(path, figure_png(fig))
    return path
