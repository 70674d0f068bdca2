"""The codes a trained model gives its inputs: what `vaekit encode` prints or saves.

    Codes.mean     (N, D)        E[z|x], the posterior mean; an autoencoder's code f(x)
    Codes.std      (N, D) | None the posterior's standard deviations; None for a point mass (AE, WAE)
    Codes.kl       (N,) | None   KL(q(z|x) || p(z)) in nats: torch's closed form where it has one, else a
                                 Monte Carlo estimate over `draws` draws of q (a mixture prior, two layers);
                                 None for a model without a prior
    Codes.indices  (N, h, w)     a VQ-VAE's code indices (int64); then mean, std and kl are None

Sentences are encoded in blocks with their all-padding columns cut, images in blocks as they are.
A model without a code (the language model, seq2seq) is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaekit.data.text import trim_padding
from vaekit.errors import VaekitError
from vaekit.nn.distributions import kl_or_estimate
from vaekit.nn.heads import PointMass


@dataclass(frozen=True)
class Codes:
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    kl: torch.Tensor | None = None
    kl_how: str = ""  # "closed form" or "Monte Carlo, K draws"; "" without a KL
    indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return (self.mean if self.indices is None else self.indices).shape[0]

    def arrays(self) -> dict[str, torch.Tensor]:
        """The tensors that exist, by name (mean, std, kl; an autoencoder's code; codes), on the CPU."""
        code = "mean" if self.std is not None else "code"  # a point mass: the code itself
        named = {code: self.mean, "std": self.std, "kl": self.kl, "codes": self.indices}
        return {k: v.detach().cpu() for k, v in named.items() if v is not None}


def check_has_code(model) -> None:
    """A one-line error for a model with no latent code to report."""
    if model.code_kind == "none":
        kind = "a translation model" if model.data_kind == "pairs" else "a language model"
        raise VaekitError(f"{kind} has no latent code z to encode into: train vae, beta-vae, iwae or ae")


@torch.no_grad()
def encode_inputs(
    model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 256, draws: int = 100
) -> Codes:
    """The codes of inputs x ((N, C, H, W) images or (N, T) padded sentences), labels y for a
    conditional model; `draws` samples of q estimate a KL that has no closed form."""
    check_has_code(model)
    model.eval()
    if model.num_labels and y is None:
        raise VaekitError("a conditional model encodes an image with its label: encode a split of its data (--split)")
    blocks = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        xb = trim_padding(xb) if model.data_kind == "sentences" else xb
        yb = y[i : i + batch_size] if model.num_labels else None
        blocks.append(_encode_block(model, xb, yb, draws))
    fields = {}
    for name in ("mean", "std", "kl", "indices"):
        parts = [getattr(b, name) for b in blocks]
        fields[name] = torch.cat(parts) if parts[0] is not None else None
    return Codes(**fields, kl_how=blocks[0].kl_how)


def _encode_block(model, x: torch.Tensor, y: torch.Tensor | None, draws: int) -> Codes:
    if model.code_kind == "grid":
        return Codes(indices=model.codes(x))  # (B, h, w)
    q = model.encode(x, y)  # batch (B,), event (D,)
    if isinstance(q, PointMass):
        return Codes(mean=q.mean)
    try:
        std = q.stddev  # (B, D)
    except NotImplementedError:  # a code drawn in two stages has no closed-form spread
        std = q.sample((draws,)).std(0)
    if not model.has_prior:
        return Codes(mean=q.mean, std=std)
    prior = model.prior(y)
    closed = [True]

    def estimate() -> torch.Tensor:
        closed[0] = False
        z = q.sample((draws,))  # (K, B, D)
        return (q.log_prob(z) - prior.log_prob(z)).mean(0)

    kl = kl_or_estimate(q, prior, estimate)  # (B,)
    how = "closed form" if closed[0] else f"Monte Carlo, {draws} draws of q(z|x)"
    return Codes(mean=q.mean, std=std, kl=kl, kl_how=how)
