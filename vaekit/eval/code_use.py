"""Whether a trained model uses its code z, said in one line, with what to try when it does not.

A VAE whose decoder can model the data alone learns to ignore z: q(z|x) sits on the prior, the
KL term goes to 0 and no latent varies with the input (posterior collapse; Bowman et al. 2016 for
sentences). Reconstructions, interpolations and the explorer then show one output for every
input. `train`, `eval`, `report` and `explore` say so instead of leaving it to be found:

    KL             E_x KL(q(z|x) || p(z)), nats per example
    active units   latents whose posterior mean varies over the data, Var_x(E[z_d|x]) > 0.01
                   (Burda et al. 2015)

The code counts as unused when no latent is active or the KL is under `COLLAPSED_KL` nats.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import kl_divergence

from vaekit.eval.latent import active_units

COLLAPSED_KL = 0.5  # nats per example: below this z says next to nothing about x
ACTIVE_VARIANCE = 0.01  # Burda et al.'s threshold on Var_x(E[z_d|x])

TEXT_TRY = (
    "more epochs, --kl-warmup 2, a higher --free-bits (e.g. 0.5), --word-dropout 0.5, a smaller --batch-size, "
    "or for long runs --set pretrain_epochs=4 (an autoencoder first, then a fresh decoder; Li et al. 2019)"
)
IMAGE_TRY = "more epochs, --kl-warmup 10, --free-bits 0.1, or a smaller --beta"


@dataclass(frozen=True)
class CodeUse:
    """How much a model's code carries: mean KL (nats per example) and active latents of `latent_dim`."""

    kl: float
    active: int
    latent_dim: int
    text: bool = False

    @property
    def collapsed(self) -> bool:
        return self.active == 0 or self.kl < COLLAPSED_KL

    def summary(self) -> str:
        per = "sentence" if self.text else "example"
        return f"KL {self.kl:.2f} nats per {per}, {self.active} of {self.latent_dim} latents active"

    def warning(self) -> str | None:
        """One line for a collapsed code (what it means, what to try); None when z is in use."""
        if not self.collapsed:
            return None
        shows = "sentence" if self.text else "output"
        return (
            f"posterior collapse: {self.summary()} - the decoder ignores z, so reconstructions, "
            f"interpolations and samples show about the same {shows} for every input; "
            f"try {TEXT_TRY if self.text else IMAGE_TRY}"
        )


def code_size(model, cfg) -> int:
    """How many latents a model's code has: the model's own count (z1 and z2 together for a
    two-layer model, whose --latent-dim is z1's alone), else the configured --latent-dim."""
    return int(getattr(model, "latent_dim", None) or cfg.model.latent_dim)


def from_results(r: dict, latent_dim: int, text: bool = False) -> CodeUse | None:
    """The CodeUse of an evaluation's results (needs 'kl' and 'active_units'); None without them."""
    if "kl" not in r or "active_units" not in r:
        return None
    return CodeUse(float(r["kl"]), int(r["active_units"]), latent_dim, text)


@torch.no_grad()
def measure(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 500) -> CodeUse | None:
    """KL and active units of `model` over data x (N, ...) (labels y for a conditional model).

    None for a model without a Gaussian posterior and a prior (an AE, a VQ-VAE, a language model):
    there is no KL to collapse.
    """
    if not model.has_prior or model.code_kind != "continuous":
        return None
    text = model.data_kind == "sentences"
    model.eval()
    means, kl = [], 0.0
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        yb = None if y is None or not model.num_labels else y[i : i + batch_size]
        if text:
            from vaekit.data.text import trim_padding

            xb = trim_padding(xb)
        q = model.encode(xb, yb)
        try:
            kl += float(kl_divergence(q, model.prior(yb)).double().sum())
        except NotImplementedError:  # a prior without a closed-form KL (VampPrior)
            return None
        means.append(q.mean.double())
    m = torch.cat(means)  # (N, D)
    active = active_units(m, ACTIVE_VARIANCE) if m.shape[0] > 1 else 0
    return CodeUse(kl / x.shape[0], active, m.shape[1], text)


def describe(use: CodeUse | None, where: str) -> str | None:
    """The line `train`, `eval` and `report` print: the warning, or the KL and active units."""
    if use is None:
        return None
    return f"warning: {use.warning()} ({where})" if use.collapsed else f"code in use: {use.summary()} ({where})"
