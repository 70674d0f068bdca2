"""The contract every model keeps, as code: `LatentVariableModel`.

Commands, the trainer, evaluation and generation rely on these members and nothing more. The
optional capabilities are declared by every model, not discovered with `hasattr`:

    encode(x, y=None) -> q(z|x)      a torch Distribution, batch (B,), event (D,)
    decode(z, y=None) -> p(x|z)      batch z.shape[:-1], event (C, H, W); z may carry leading dims
    forward(x, y=None)               the mean reconstruction, shaped like x
    has_prior                        whether prior() exists (False: an AE, a VQ-VAE before train-prior)
    prior(y=None) -> p(z)            a torch Distribution with event (D,), `sample` and `log_prob`;
                                     raises vaekit.errors.NoPrior, saying what to do, when there is none.
                                     A conditional model may have a prior that depends on the label
                                     (a cvae's learned p(z|y)): given labels y (B,) it returns p(z|y)
                                     with batch (B,), and without them the marginal sum_y p(y) p(z|y).
                                     Every other model ignores y, so callers that hold labels pass them
    num_labels                       classes of y for a conditional model (it needs y), else 0
    own_evaluation                   True: q(z|x) has no density (a point mass), so `vaekit eval` reports
                                     the model's `evaluate_split(x, y, batch_size, seed) -> dict`
                                     (reconstruction errors, codebook usage) instead of an
                                     importance-sampled likelihood; only such a model needs that method

A model is an `nn.Module` that has these members; it need not inherit from anything but
`nn.Module`. `check_model` says which member a new model is missing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch.distributions import Distribution


@runtime_checkable
class LatentVariableModel(Protocol):
    num_labels: int
    own_evaluation: bool

    @property
    def has_prior(self) -> bool: ...

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution: ...

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution: ...

    def prior(self, y: torch.Tensor | None = None) -> Distribution: ...

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor: ...


def check_model(model) -> None:
    """Raises TypeError naming what of the contract `model` lacks or declares wrongly (for tests and
    for whoever adds a model; the library itself trusts the registry)."""
    name = type(model).__name__
    if not isinstance(model, LatentVariableModel):
        members = ("encode", "decode", "prior", "forward", "has_prior", "num_labels", "own_evaluation")
        missing = [m for m in members if not hasattr(model, m)]
        raise TypeError(f"{name} does not keep the model contract: it lacks {', '.join(missing)}")
    declared = {"has_prior": model.has_prior, "own_evaluation": model.own_evaluation, "num_labels": model.num_labels}
    wrong = [m for m, value in declared.items() if not isinstance(value, bool if m != "num_labels" else int)]
    if wrong:
        raise TypeError(f"{name} declares {', '.join(wrong)} with the wrong type")
    if model.own_evaluation and not callable(getattr(model, "evaluate_split", None)):
        raise TypeError(f"{name} declares own_evaluation but has no evaluate_split(x, y, batch_size, seed)")
