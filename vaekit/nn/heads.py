"""Heads: turn backbone outputs into `torch.distributions` objects.

Argument validation is switched off: it checks supports with host syncs on every call, and
Bernoulli's check would also reject grey-level targets. Every density in vaekit is a distribution
whose `log_prob` already sums over the event
dimensions, so objectives never hand-roll a Gaussian: q(z|x) is `Independent(Normal, 1)` with
event shape (D,), p(x|z) is `Independent(Bernoulli or Normal, 3)` with event shape (C, H, W).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    Normal,
    OneHotCategorical,
    constraints,
)

from vaekit.errors import VaekitError
from vaekit.nn.distributions import peel


def _densities_dtype(t: torch.Tensor) -> torch.Tensor:
    """Distribution parameters in float32 at least: under bfloat16 autocast the network's products
    are bf16, but log-densities summed over hundreds of pixels need float32 (float64 stays)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


class GaussianLatentHead(nn.Module):
    """Features (B, F) -> q(z|x) = N(mu, diag(sigma^2)), event shape (D,).

    sigma = softplus(raw) + 1e-4 rather than exp(logvar / 2): it cannot overflow, which removes the
    most common source of NaN losses early in training.
    """

    def __init__(self, in_features: int, latent_dim: int):
        super().__init__()
        self.linear = nn.Linear(in_features, 2 * latent_dim)

    def forward(self, h: torch.Tensor) -> Distribution:
        mu, raw = _densities_dtype(self.linear(h)).chunk(2, dim=-1)  # (B, D) each
        return Independent(Normal(mu, nn.functional.softplus(raw) + 1e-4, validate_args=False), 1, validate_args=False)


class PointMass(Distribution):
    """A point mass at `loc` (B, D): batch shape (B,), event shape (D,); rsample = mean = loc.

    The q(z|x) of deterministic encoders (AE, WAE, VQ-VAE), so they keep the encode/decode
    contract. Its `log_prob` is that of a point mass (0 at the point, -inf elsewhere), not a density
    over R^D, so importance-sampled likelihoods do not apply: these models declare `own_evaluation`.
    """

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: torch.Tensor):
        self.loc = loc
        super().__init__(loc.shape[:-1], loc.shape[-1:], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        return torch.zeros_like(self.loc)

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        return self.loc.expand(*sample_shape, *self.loc.shape)  # (*S, B, D)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log 1 = 0 where value is the point, log 0 = -inf elsewhere (as Pyro's `Delta`): (..., B)."""
        at_point = (value == self.loc).all(-1)  # (..., B)
        zero = torch.zeros((), dtype=self.loc.dtype, device=self.loc.device)
        return torch.where(at_point, zero, zero - torch.inf)


class BernoulliLikelihood(nn.Module):
    """Decoder output (..., C, H, W) read as logits: p(x|z) = Bernoulli(sigmoid(logits)) per pixel.

    For binary images, and for grey images in [0, 1] read as probabilities (the usual MNIST
    practice; then log p(x|z) is a cross-entropy, not a normalized density).
    """

    params_per_pixel = 1

    def __init__(self, image_shape):
        super().__init__()

    def forward(self, out: torch.Tensor) -> Distribution:
        return Independent(Bernoulli(logits=_densities_dtype(out), validate_args=False), 3, validate_args=False)


class GaussianLikelihood(nn.Module):
    """p(x|z) = N(mean, sigma^2) per pixel, for real-valued data such as Frey Face.

    mean = sigmoid(first half of the decoder output), so it lies in the data range [0, 1].
    variance='pixel': the decoder outputs a scale for every pixel (Kingma & Welling 2013).
    variance='global': one learned scale shared by all pixels; the decoder outputs only the mean.
    sigma is floored at `min_scale`: without a floor a per-pixel scale collapses onto pixels the
    decoder predicts exactly and the likelihood grows without bound.
    """

    def __init__(self, image_shape, variance: str = "pixel", min_scale: float = 1e-2):
        super().__init__()
        if variance not in ("pixel", "global"):
            raise VaekitError(f"unknown Gaussian variance {variance!r}: choose pixel or global")
        self.variance = variance
        self.params_per_pixel = 2 if variance == "pixel" else 1
        self.min_scale = min_scale
        if variance == "global":
            self.raw_scale = nn.Parameter(torch.tensor(math.log(math.expm1(0.1))))  # sigma starts at ~0.1

    def forward(self, out: torch.Tensor) -> Distribution:
        out = _densities_dtype(out)
        if self.variance == "pixel":
            mean_raw, scale_raw = out.chunk(2, dim=-3)  # (..., C, H, W) each
        else:
            mean_raw, scale_raw = out, self.raw_scale.expand_as(out)
        scale = nn.functional.softplus(scale_raw) + self.min_scale
        return Independent(Normal(torch.sigmoid(mean_raw), scale, validate_args=False), 3, validate_args=False)


def decode_batched(net, head: nn.Module, z: torch.Tensor) -> Distribution:
    """p(x|z) for codes z (..., D) with any leading dims: `net` sees them flattened to (N, D), and
    `head` its output (N, ...) reshaped back to (..., ...), so its batch shape is z.shape[:-1]."""
    lead = z.shape[:-1]
    out = net(z.reshape(-1, z.shape[-1]))  # (N, P*C, H, W)
    return head(out.reshape(*lead, *out.shape[1:]))


def is_discrete(p_x: Distribution) -> bool:
    """Whether p(x|z) gives probabilities of discrete values (Bernoulli pixels, categorical tokens)
    rather than densities; bits per dimension of a density need the dequantization term."""
    base = peel(p_x)
    return isinstance(base, (Bernoulli, Categorical, OneHotCategorical))


LIKELIHOODS = {"bernoulli": BernoulliLikelihood, "gaussian": GaussianLikelihood}


def build_likelihood(name: str, image_shape, variance: str = "pixel") -> nn.Module:
    if name == "bernoulli":
        return BernoulliLikelihood(image_shape)
    if name == "gaussian":
        return GaussianLikelihood(image_shape, variance)
    raise VaekitError(f"unknown likelihood {name!r}: choose one of {', '.join(LIKELIHOODS)}")
