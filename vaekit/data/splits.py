"""The in-memory form every dataset takes once loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaekit.errors import VaekitError


@dataclass
class DataSplits:
    """A dataset held in memory as float tensors in [0, 1], split three ways.

    Images are (N, C, H, W) float32 in [0, 1]; labels are (N,) int64, or -1 where a dataset
    has none. `dynamic_binarize` means the *training* images are grey levels to be read as
    Bernoulli probabilities: a fresh binary draw of every pixel each time a batch is drawn
    (Burda et al. 2015). Validation and test images of such a dataset are already binarized
    once with a fixed seed, so evaluations are repeatable.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    dynamic_binarize: bool = False
    likelihood: str = "bernoulli"  # the likelihood that suits the data: bernoulli | gaussian | categorical
    num_classes: int = 0  # 0 when unlabelled
    vocab: Any = None  # text only: the `vaekit.data.vocab.Vocabulary`; x is then (N, T) padded token ids
    notes: str = ""  # what loading did that a user should hear (sentences cut or skipped, ...)
    # sentence pairs only (`vaekit.data.pairs.PairInfo`): x are then the target sentences and the
    # "labels" y the source sentences (N, Ts) they translate; `vocab` is the target's
    pairs: Any = None

    @property
    def is_text(self) -> bool:
        return self.vocab is not None

    @property
    def is_pairs(self) -> bool:
        return self.pairs is not None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image; (T,) padded tokens of one sentence for text."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of 'train', 'val' or 'test'."""
        if name not in ("train", "val", "test"):
            raise VaekitError(f"unknown split {name!r}: use train, val or test")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")


# ---- helpers the loaders share to build a DataSplits -------------------------------------------


def split_counts(total: int) -> tuple[int, int, int]:
    """(train, val, test) sizes of the 80/10/10 split used for Frey and user data.

    Validation and test each get ``total // 10`` images (at least one), training the rest, so
    Frey's 1965 frames split 1573/196/196.
    """
    held_out = max(1, total // 10)
    if total < 3 or total - 2 * held_out < 1:
        raise VaekitError(f"only {total} images: need at least 3 to make train/val/test splits")
    return total - 2 * held_out, held_out, held_out


def permuted_splits(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    val_count: int,
    test_count: int,
    seed: int,
    **fields,
) -> DataSplits:
    """Shuffle with a seeded permutation, then cut into train / val / test in that order.

    Parameters
    ----------
    images : torch.Tensor
        (N, C, H, W) float32 in [0, 1].
    labels : torch.Tensor
        (N,) int64, -1 where unlabelled.
    val_count, test_count : int
        Sizes of the validation and test splits; training gets the remaining images.
    seed : int
        Seed of the permutation (numpy PCG64), so the same seed always gives the same split.
    **fields
        Passed on to `DataSplits` (likelihood, num_classes, ...).
    """
    total = len(images)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(total))
    train_end = total - val_count - test_count
    parts = (order[:train_end], order[train_end : total - test_count], order[total - test_count :])
    train, val, test = ((images[index], labels[index]) for index in parts)
    return DataSplits(name, *train, *val, *test, **fields)


def count_classes(labels: torch.Tensor) -> int:
    """Number of classes of int64 labels 0..K-1 (-1 = unlabelled); 0 when none are labelled."""
    return int(labels.max()) + 1 if len(labels) and int(labels.max()) >= 0 else 0


def suited_likelihood(images: torch.Tensor) -> str:
    """'bernoulli' for mostly-background-and-ink images, 'gaussian' for photo-like grey levels.

    The rule: Bernoulli when at least half the pixels lie within 0.1 of 0 or 1 (MNIST 91%,
    Fashion-MNIST 60%, sklearn digits 65%), Gaussian otherwise (Frey faces 0.1%).
    """
    extreme = (images < 0.1) | (images > 0.9)
    return "bernoulli" if extreme.float().mean().item() >= 0.5 else "gaussian"


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, H, W) images in [0, 1] to (N, C, *size), antialiased bilinear."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    resized = torch.nn.functional.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized.clamp_(0.0, 1.0)


def as_height_width(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """Normalise an ``image_size`` argument (one int = square) to (H, W), checking it."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise VaekitError(f"bad image size {image_size!r}: give one positive int or (height, width)")
    return size  # type: ignore[return-value]
