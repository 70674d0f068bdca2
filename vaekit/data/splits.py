"""The in-memory form every dataset takes once loaded."""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
    likelihood: str = "bernoulli"  # the likelihood that suits the data: bernoulli | gaussian
    num_classes: int = 0  # 0 when unlabelled

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of 'train', 'val' or 'test'."""
        if name not in ("train", "val", "test"):
            from vaekit.errors import VaekitError

            raise VaekitError(f"unknown split {name!r}: use train, val or test")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")
