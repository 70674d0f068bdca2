"""Sprites: a synthetic dSprites-like dataset with known generating factors, made by vaekit itself.

Every image is a white shape on black, 64x64, binary, fully determined by five factors
(Higgins et al. 2017's dSprites has the same ones and the same grid of values):

=============  =======  ==============================================================
factor         values   meaning
=============  =======  ==============================================================
shape          3        square, ellipse, heart
scale          6        size, linearly from 0.5 to 1
orientation    40       rotation, linearly over [0, 2 pi)
pos_x          32       horizontal centre, linearly across the image
pos_y          32       vertical centre, linearly across the image
=============  =======  ==============================================================

The full product has 737,280 images (12 GB as float32); `load_sprites` draws a random subset of
`SPRITES_COUNT` factor combinations with a seeded numpy PCG64 generator and renders them on the
fly (a few seconds, no files), then splits them 80/10/10. Images are float32 (N, 1, 64, 64) in
{0, 1}; labels are the shape (3 classes); all five factor indices are kept per split in
`SpritesSplits.factors[split]` (N, 5) int64, for disentanglement metrics such as MIG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vaekit.data.splits import DataSplits, as_height_width, resize_images, split_counts

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
SPRITES_COUNT = 20_000
SIZE = 64
RADIUS = 10.0  # pixels spanned by a shape of scale 1 from its centre
MARGIN = 10.0  # centres run from MARGIN to SIZE - MARGIN


@dataclass
class SpritesSplits(DataSplits):
    """DataSplits plus each split's generating factors: factors['train'] is (N_train, 5) int64."""

    factors: dict[str, torch.Tensor] = field(default_factory=dict)
    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES


def factor_values(factors: torch.Tensor) -> dict[str, torch.Tensor]:
    """Factor indices (N, 5) -> their physical values (N,) each: scale, angle in radians, centre in pixels."""
    f = factors.to(torch.float32)
    return {
        "shape": factors[:, 0],
        "scale": 0.5 + 0.5 * f[:, 1] / (FACTOR_SIZES[1] - 1),
        "orientation": 2 * math.pi * f[:, 2] / FACTOR_SIZES[2],
        "pos_x": MARGIN + (SIZE - 2 * MARGIN) * f[:, 3] / (FACTOR_SIZES[3] - 1),
        "pos_y": MARGIN + (SIZE - 2 * MARGIN) * f[:, 4] / (FACTOR_SIZES[4] - 1),
    }


def _inside(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether points (u, v) in a shape's own frame (units of its radius) lie inside it. (B, S, S) each."""
    square = torch.maximum(u.abs(), v.abs()) <= 0.8
    ellipse = u.pow(2) + (v / 0.5).pow(2) <= 1.0
    hx, hy = 1.15 * u, -1.15 * v + 0.15  # the heart curve (x^2 + y^2 - 1)^3 = x^2 y^3, point up = image up
    heart = (hx.pow(2) + hy.pow(2) - 1).pow(3) - hx.pow(2) * hy.pow(3) <= 0
    s = shape[:, None, None]
    return torch.where(s == 0, square, torch.where(s == 1, ellipse, heart))


def render(factors: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Factor indices (N, 5) int64 -> binary images (N, 1, size, size) float32 (drawn at 64, then resized)."""
    val = factor_values(factors)
    grid = torch.arange(SIZE, dtype=torch.float32) + 0.5  # pixel centres
    dx = (grid[None, None, :] - val["pos_x"][:, None, None]) / (RADIUS * val["scale"][:, None, None])  # (N, 1, S)
    dy = (grid[None, :, None] - val["pos_y"][:, None, None]) / (RADIUS * val["scale"][:, None, None])  # (N, S, 1)
    cos, sin = torch.cos(val["orientation"])[:, None, None], torch.sin(val["orientation"])[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # (N, S, S): rotate the image frame into the shape's
    images = _inside(factors[:, 0], u, v).to(torch.float32)[:, None]  # (N, 1, S, S)
    return images if size == SIZE else resize_images(images, (size, size))


def sample_factors(n: int, seed: int = 0) -> torch.Tensor:
    """n factor combinations (n, 5) int64, each factor uniform over its values, independent."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([rng.integers(0, k, n) for k in FACTOR_SIZES], axis=1).astype(np.int64))


def render_many(factors: torch.Tensor, size=None, chunk: int = 2000) -> torch.Tensor:
    """`render` in chunks into one preallocated tensor (N, 1, H, W), so memory peaks at the result."""
    h, w = size or (SIZE, SIZE)
    out = torch.empty(factors.shape[0], 1, h, w)
    for i in range(0, factors.shape[0], chunk):
        images = render(factors[i : i + chunk])
        out[i : i + chunk] = images if size is None else resize_images(images, size)
    return out


def make_sprites(n: int = SPRITES_COUNT, seed: int = 0, image_size=None) -> SpritesSplits:
    """n rendered sprites split 80/10/10 (``n // 10`` each for val and test), all from `seed`.

    The split follows `permuted_splits`' rule (shuffle, then train / val / test in that order);
    the draws are already independent, so the shuffle only fixes which rows go where.
    """
    factors = sample_factors(n, seed)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    _, val_count, test_count = split_counts(n)
    cuts = {
        "train": order[: n - val_count - test_count],
        "val": order[n - val_count - test_count : n - test_count],
        "test": order[n - test_count :],
    }
    size = as_height_width(image_size)
    parts = {k: (render_many(factors[rows], size), factors[rows, 0].clone(), factors[rows]) for k, rows in cuts.items()}
    return SpritesSplits(
        "sprites",
        *parts["train"][:2],
        *parts["val"][:2],
        *parts["test"][:2],
        likelihood="bernoulli",
        num_classes=len(SHAPES),
        factors={k: v[2] for k, v in parts.items()},
    )


def load_sprites(
    data_dir: Path | None = None, *, image_size=None, seed: int = 0, download: bool = True
) -> SpritesSplits:
    """The `sprites` dataset: SPRITES_COUNT = 20,000 images (1, 64, 64), split 16000/2000/2000.

    Generated, not downloaded: `data_dir` and `download` are ignored. `seed` (default 0) picks the
    subset and the split; `image_size` resizes (no longer binary then).
    """
    return make_sprites(SPRITES_COUNT, seed, image_size)
