"""Small helpers on torch distributions that the layers above share.

peel(d)               the distribution under an `Independent` (d itself if there is none)
tempered(p, T)        a prior made narrower (T < 1) or wider (T > 1): N(mu, sigma^2) -> N(mu, (T sigma)^2);
                      another kind of prior says how it is tempered with `register_tempered`, as
                      torch.distributions says how a KL is computed with `register_kl`
"""

from __future__ import annotations

from collections.abc import Callable

from torch.distributions import Distribution, Independent, Normal

from vaekit.errors import VaekitError

_TEMPERED: dict[type, Callable[[Distribution, float], Distribution]] = {}


def peel(d: Distribution) -> Distribution:
    """The base distribution of an `Independent` (its event dims reinterpreted), else d itself."""
    return d.base_dist if isinstance(d, Independent) else d


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
