"""An exponential moving average of the weights (`--ema DECAY`): what is validated, kept and evaluated.

Late in training the weights wander around a minimum with the gradient noise; their recent average
sits nearer its centre and usually generalises better than any one iterate (Polyak & Juditsky 1992;
AWD-LSTM averages its iterates for the same reason). After every optimizer step

    average <- d * average + (1 - d) * weights,   d = min(DECAY, (1 + n) / (10 + n)) at update n,

so the first updates are not dominated by the random initial weights (the warm-up of TensorFlow's
ExponentialMovingAverage). The raw weights keep training; validation, model.safetensors and
last.safetensors see the average. --resume restores both (they travel in last-optimizer.safetensors).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from vaekit.errors import VaekitError

PREFIX = "average."  # the average's tensors in a checkpoint: average.<parameter name>


class WeightAverage:
    """The running average of `model`'s floating-point parameters (buffers are the model's own)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        named = [(k, p) for k, p in model.named_parameters() if p.dtype.is_floating_point]
        self.names = [k for k, _ in named]
        self.params = [p.detach() for _, p in named]  # views of the weights, made once: the step reads them
        self.shadow = [p.clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        """One step of the average towards the current weights (no host sync: all on the device)."""
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, self.params, 1.0 - d)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self):
        """The model holds the average inside the block, its own weights again after it."""
        raw = [p.clone() for p in self.params]
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, raw)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Leaves the average in the model (at the end of training: the weights one uses)."""
        torch._foreach_copy_(self.params, self.shadow)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The average for a checkpoint, named average.<parameter>."""
        return {PREFIX + k: v for k, v in zip(self.names, self.shadow)}

    @torch.no_grad()
    def load(self, tensors: dict[str, torch.Tensor], updates: int) -> None:
        """Restores the average `tensors` holds (average.<parameter>, as `tensors()` wrote them)."""
        missing = [k for k in self.names if PREFIX + k not in tensors]
        if missing:
            raise VaekitError(
                f"the checkpoint holds no weight average for {missing[:3]}: it was not trained with --ema; "
                "resume it without changing --ema"
            )
        for k, s in zip(self.names, self.shadow):
            s.copy_(tensors[PREFIX + k].to(s.device))
        self.updates = updates
