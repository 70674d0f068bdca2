"""Rows of images as one matplotlib figure with a title, row labels and column labels.

Every picture of images in vaekit (samples, reconstructions, interpolations, traversals) is a
`labelled_grid`: the tiles are pasted into one array shown with nearest-neighbour scaling by a
whole factor, so each pixel is exactly what the model produced, and the words around it (title,
a label per row, a label per column, frames around chosen tiles) are ordinary matplotlib text
that tests and the report can read back from the figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

PAD = 1  # pixels of background between tiles
BACKGROUND = 1.0  # white: between tiles and in empty cells (data images here have dark backgrounds)
DPI = 100


@dataclass
class Frame:
    """A coloured frame around the tile at (row, col), e.g. to mark an interpolation's end points."""

    row: int
    col: int
    colour: str = "tab:orange"


@dataclass
class GridLayout:
    """Where things are in a labelled grid (canvas pixels), for tests and callers that add marks."""

    tile_h: int
    tile_w: int
    row_top: list[int] = field(default_factory=list)  # y of each row's top edge
    col_left: list[int] = field(default_factory=list)  # x of each column's left edge
    placed: int = 0  # number of images pasted


def to_numpy(images) -> np.ndarray:
    """(N, C, H, W) tensor or array -> float32 NumPy array clipped to [0, 1]."""
    if torch.is_tensor(images):
        images = images.detach().float().cpu().numpy()
    return np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)


def paste_rows(
    rows: Sequence, ncol: int, gap_before: Sequence[int] = (), col_gap_before: Sequence[int] = ()
) -> tuple[np.ndarray, GridLayout]:
    """Rows of images (each (k_i, C, H, W), k_i <= ncol) -> (canvas (H', W', 3), layout).

    Rows are left-aligned so column j of every row holds the j-th image of that row; cells past a
    short row stay background. `gap_before` lists rows preceded by an extra blank band (groups),
    `col_gap_before` columns preceded by one.
    """
    arrays = [to_numpy(r) for r in rows]
    c, h, w = next(a.shape[1:] for a in arrays if len(a))
    layout = GridLayout(h, w)
    y = PAD
    for i in range(len(arrays)):
        y += (h // 2) if i in gap_before and i > 0 else 0
        layout.row_top.append(y)
        y += h + PAD
    x = PAD
    for j in range(ncol):
        x += (w // 2) if j in col_gap_before and j > 0 else 0
        layout.col_left.append(x)
        x += w + PAD
    canvas = np.full((y, x, 3), BACKGROUND, dtype=np.float32)
    for top, row in zip(layout.row_top, arrays):
        if len(row) > ncol:
            raise ValueError(f"a row has {len(row)} images but the grid has {ncol} columns")
        for left, image in zip(layout.col_left, row):
            tile = image.transpose(1, 2, 0)  # (H, W, C)
            canvas[top : top + h, left : left + w] = tile if c == 3 else tile[..., :1].repeat(3, axis=2)
            layout.placed += 1
    return canvas, layout


def image_grid(images, nrow: int, min_size: int = 320) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one array, `nrow` images per row, for a caller's own `imshow`.

    Grey images give an (H', W') array, colour ones (H', W', 3). The grid is upscaled by the
    smallest whole factor that makes it at least `min_size` pixels wide (0: no upscaling), so
    each model pixel stays a block of equal pixels.
    """
    x = to_numpy(images)
    canvas, _ = paste_rows([x[i : i + nrow] for i in range(0, len(x), nrow)], min(nrow, len(x)))
    scale = max(1, -(-min_size // canvas.shape[1]))
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    return canvas[..., 0] if x.shape[1] == 1 else canvas


def labelled_grid(
    rows: Sequence,
    title: str,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    xlabel: str | None = None,
    ncol: int | None = None,
    gap_before: Sequence[int] = (),
    col_gap_before: Sequence[int] = (),
    frames: Sequence[Frame] = (),
    min_tile_px: int = 44,
    max_width_px: int = 1100,
):
    """A figure showing rows of images: title on top, `row_labels` at the left, `col_labels` below.

    Returns the matplotlib Figure with the title as its suptitle; its single image axes carries
    the row labels as y tick labels, the column labels as x tick labels, and `.grid_layout`.
    """
    ncol = ncol or max(len(r) for r in rows)
    canvas, layout = paste_rows(rows, ncol, gap_before, col_gap_before)
    canvas_h, canvas_w = canvas.shape[:2]
    scale = max(1, math.ceil(min_tile_px / max(layout.tile_h, layout.tile_w)))
    scale = max(1, min(scale, max_width_px // canvas_w))
    label_chars = max((len(s) for s in row_labels or []), default=0)
    left = 12 + 6.5 * label_chars + (8 if label_chars else 0)
    title_lines = title.count("\n") + 1
    top = 14 + 16 * title_lines
    bottom = 10 + (22 if col_labels else 0) + (18 if xlabel else 0)
    right = 14
    title_w = 7.2 * max(len(line) for line in title.split("\n")) + 24
    width = max(left + canvas_w * scale + right, title_w)
    left += (width - (left + canvas_w * scale + right)) / 2  # centre the images under a wide title
    height = top + canvas_h * scale + bottom
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((left / width, bottom / height, canvas_w * scale / width, canvas_h * scale / height))
    ax.imshow(canvas, interpolation="nearest", vmin=0.0, vmax=1.0, aspect="equal")
    fig.suptitle(title, fontsize=10, y=1 - 6 / height, va="top")
    ax.set_yticks([t + layout.tile_h / 2 - 0.5 for t in layout.row_top[: len(row_labels or [])]])
    ax.set_yticklabels(list(row_labels or []), fontsize=9)
    ax.set_xticks([x + layout.tile_w / 2 - 0.5 for x in layout.col_left[: len(col_labels or [])]])
    ax.set_xticklabels(list(col_labels or []), fontsize=8)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for f in frames:
        ax.add_patch(
            Rectangle(
                (layout.col_left[f.col] - 1, layout.row_top[f.row] - 1),
                layout.tile_w + 1,
                layout.tile_h + 1,
                fill=False,
                edgecolor=f.colour,
                linewidth=2,
            )
        )
    ax.grid_layout = layout
    return fig
