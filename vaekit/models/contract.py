"""The contract every model keeps, as code: `LatentVariableModel`.

Commands, the trainer, evaluation and generation rely on these members and nothing more. What a
model is and can do is declared by every model (class attributes or properties), not discovered
with `isinstance`, `hasattr` or by peeking at its networks:

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
    data_kind                        what x is (DATA_KINDS): "images" (B, C, H, W) floats; "sentences"
                                     (B, T) padded token ids, decode(z) a distribution over whole
                                     sentences; "pairs": a conditional model of a target sequence given
                                     a source sequence (translation)
    code_kind                        what z is (CODE_KINDS): "continuous" (a vector); "grid" (a grid of
                                     discrete codes from a codebook: the model then has `code_grid`, a
                                     `CodeGrid`, and `codes(x) -> (B, h, w)` int64); "none" (no z: the
                                     language model, whose decode(z) for z of shape (..., 0) is p(x))
    trainable_prior                  True: a prior over the codes is fitted after training
                                     (`vaekit train-prior`, the VQ-VAE's code prior)
    prior_words                      what prior() is, in words, for titles ("N(0, I)", "p(z2) p(z1|z2),
                                     N(0, I) on z2", "none"): pictures say what their codes came from

A model is an `nn.Module` that has these members; it need not inherit from anything but
`nn.Module`. `check_model` says which member a new model is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch.distributions import Distribution

DATA_KINDS = ("images", "sentences", "pairs")
CODE_KINDS = ("continuous", "grid", "none")


@dataclass(frozen=True)
class CodeGrid:
    """The code of a model with code_kind "grid": h x w cells, each one of num_codes vectors of dim D."""

    num_codes: int  # K, the codebook's size
    dim: int  # D, each code vector's size
    height: int
    width: int

    @property
    def hw(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, h, w): the grid of code vectors, which encode(x) flattens."""
        return (self.dim, self.height, self.width)

    def words(self) -> str:
        """'7x7', the grid in words."""
        return f"{self.height}x{self.width}"


@runtime_checkable
class LatentVariableModel(Protocol):
    num_labels: int
    own_evaluation: bool
    data_kind: str
    code_kind: str
    trainable_prior: bool
    prior_words: str

    @property
    def has_prior(self) -> bool: ...

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution: ...

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution: ...

    def prior(self, y: torch.Tensor | None = None) -> Distribution: ...

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor: ...


_MEMBERS = (
    "encode",
    "decode",
    "prior",
    "forward",
    "has_prior",
    "num_labels",
    "own_evaluation",
    "data_kind",
    "code_kind",
    "trainable_prior",
    "prior_words",
)
_TYPES = {"has_prior": bool, "own_evaluation": bool, "trainable_prior": bool, "num_labels": int, "prior_words": str}


def check_model(model) -> None:
    """Raises TypeError naming what of the contract `model` lacks or declares wrongly (for tests and
    for whoever adds a model; the library itself trusts the registry)."""
    name = type(model).__name__
    if not isinstance(model, LatentVariableModel):
        missing = [m for m in _MEMBERS if not hasattr(model, m)]
        raise TypeError(f"{name} does not keep the model contract: it lacks {', '.join(missing)}")
    wrong = [m for m, kind in _TYPES.items() if not isinstance(getattr(model, m), kind)]
    if wrong:
        raise TypeError(f"{name} declares {', '.join(wrong)} with the wrong type")
    for member, kinds in (("data_kind", DATA_KINDS), ("code_kind", CODE_KINDS)):
        if getattr(model, member) not in kinds:
            raise TypeError(f"{name} declares {member} {getattr(model, member)!r}: one of {', '.join(kinds)}")
    if model.own_evaluation and not callable(getattr(model, "evaluate_split", None)):
        raise TypeError(f"{name} declares own_evaluation but has no evaluate_split(x, y, batch_size, seed)")
    if model.code_kind == "grid":
        if not isinstance(getattr(model, "code_grid", None), CodeGrid) or not callable(getattr(model, "codes", None)):
            raise TypeError(f"{name} declares a grid of codes but has no code_grid (a CodeGrid) or codes(x)")
    if model.trainable_prior and model.code_kind != "grid":
        raise TypeError(f"{name} declares a trainable prior, which `vaekit train-prior` fits over a grid of codes")
