"""Small helpers on torch distributions that the layers above share.

peel(d)               the distribution under an `Independent` (d itself if there is none)
kl_or_estimate(q, p, estimate)
                      KL(q || p): torch's closed form where one is registered, else the Monte
                      Carlo estimate the caller holds (log q(z) - log p(z) at its draws)
tempered(p, T)        a prior made narrower (T < 1) or wider (T > 1): N(mu, sigma^2) -> N(mu, (T sigma)^2);
                      another kind of prior says how it is tempered with `register_tempered`, as
                      torch.distributions says how a KL is computed with `register_kl`
stages(d)             (the law of the layer drawn first, the conditional of the other given it) for
                      a code drawn in two stages (the two-layer VAE's z = (z1, z2)), else None; such
                      a distribution says how it splits with `register_stages`
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from vaekit.errors import VaekitError

_TEMPERED: dict[type, Callable[[Distribution, float], Distribution]] = {}
Stages = tuple[Distribution, Callable[[torch.Tensor], Distribution]]
_STAGES: dict[type, Callable[[Distribution], Stages]] = {}


def peel(d: Distribution) -> Distribution:
    """The base distribution of an `Independent` (its event dims reinterpreted), else d itself."""
    return d.base_dist if isinstance(d, Independent) else d


def kl_or_estimate(q: Distribution, p: Distribution, estimate: Callable[[], torch.Tensor]) -> torch.Tensor:
    """KL(q || p) per batch element: the closed form where torch registers one (`register_kl`), else
    `estimate()`, the caller's Monte Carlo estimate E_q[log q(z) - log p(z)] at its own draws (a
    mixture prior: the VampPrior, the cvae's marginal; the two-layer VAE's joint code)."""
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        return estimate()


def register_tempered(cls: type) -> Callable:
    """Decorator: `fn(prior, temperature) -> Distribution` tempers priors of class `cls` (and its subclasses)."""

    def wrap(fn: Callable[[Distribution, float], Distribution]):
        _TEMPERED[cls] = fn
        return fn

    return wrap


def tempered(prior: Distribution, temperature: float) -> Distribution:
    """The prior made narrower (T < 1) or wider (T > 1): a Gaussian's scale times T, or what its
    class registered (a VQ-VAE's code prior draws each code from softmax(logits / T))."""
    for cls in type(prior).__mro__:
        if cls in _TEMPERED:
            return _TEMPERED[cls](prior, temperature)
    base = peel(prior)
    if isinstance(base, Normal):
        return Independent(
            Normal(base.loc, base.scale * temperature, validate_args=False),
            prior.reinterpreted_batch_ndims if base is not prior else 0,
            validate_args=False,
        )
    raise VaekitError(f"--temperature is defined for Gaussian and code priors, not {type(base).__name__}")


def register_stages(cls: type) -> Callable:
    """Decorator: `fn(d) -> (first, then)` splits distributions of class `cls` (and its subclasses)
    drawn in two stages: `first` the law of the layer drawn first, `then(a)` that of the other given it."""

    def wrap(fn: Callable[[Distribution], Stages]):
        _STAGES[cls] = fn
        return fn

    return wrap


def stages(d: Distribution) -> Stages | None:
    """(first, then) of a distribution drawn in two stages (`register_stages`); None for one drawn at once."""
    for cls in type(d).__mro__:
        if cls in _STAGES:
            return _STAGES[cls](d)
    return None
