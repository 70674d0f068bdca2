"""Models that live outside vaekit: a person's own networks, found by entry point or import path.

    vaekit train NAME                   NAME registered by an installed package, in its pyproject.toml:
                                            [project.entry-points."vaekit.models"]
                                            my-vae = "my_package.nets:build"
    vaekit train my_package.nets:build  the same without installing (the module importable)

What the entry point names is one of

- a build function `build(cfg, image_shape, num_classes, *, options...)` that returns an
  (encoder, decoder) pair of modules: `encoder(x)` returns q(z|x) and `decoder(z)` returns p(x|z)
  (z of shape (..., D), any leading dims), both `torch.distributions` objects. vaekit wraps the
  pair in `EncoderDecoderVAE` (prior N(0, I)) and trains it on the ELBO;
- a build function of the same signature that returns a whole model keeping the contract
  (`vaekit.models.contract`), trained on the ELBO;
- a `vaekit.models.ModelSpec` (build, objective, summary, ...), as the built-in models are listed.

The keyword-only arguments of the build function are the model's options (`--set width=16`).
A run records the import path in config.json (`model.plugin`), so every command opens it by
importing that module again: weights are safetensors, code is never pickled.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.errors import VaekitError

GROUP = "vaekit.models"  # the entry-point group a package registers its models in


def entry_points() -> dict[str, str]:
    """{name: 'package.module:attr'} of the models installed packages register."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=GROUP)}


def import_path(name: str) -> str | None:
    """The 'package.module:attr' a model name stands for: the name itself when it is one, the value
    of an installed entry point of that name, else None (not a plugin)."""
    if ":" in name:
        return name
    return entry_points().get(name)


def load(path: str, name: str | None = None):
    """The object `path` ('package.module:attr') names, imported; a VaekitError in one line when
    the module cannot be imported or has no such attribute."""
    module_name, sep, attr = path.partition(":")
    who = f"model {name!r} comes from {path}" if name and name != path else f"model {path}"
    if not sep or not module_name or not attr:
        raise VaekitError(f"{who}: an import path is written package.module:build_fn")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as err:
        raise VaekitError(
            f"{who}, but {module_name} cannot be imported ({err}): install the package that provides it "
            "(pip install ...), or put it on PYTHONPATH"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise VaekitError(f"{who}, but {module_name} has no {attr}")
        obj = getattr(obj, part)
    return obj


def pair_build(build):
    """`build` with its result made a model: an (encoder, decoder) pair is wrapped in
    `EncoderDecoderVAE`; a model is returned as it is. Keeps `build`'s signature (its options)."""

    @functools.wraps(build)
    def wrapped(cfg, image_shape, num_classes: int, **options):
        made = build(cfg, image_shape, num_classes, **options)
        if isinstance(made, tuple) and len(made) == 2 and all(isinstance(m, nn.Module) for m in made):
            return EncoderDecoderVAE(*made, latent_dim=cfg.latent_dim)
        if not isinstance(made, nn.Module):
            raise VaekitError(
                f"{build.__module__}.{build.__qualname__} returned a {type(made).__name__}: "
                "a model builder returns an (encoder, decoder) pair of modules or a model"
            )
        return made

    return wrapped


class EncoderDecoderVAE(nn.Module):
    """A VAE made of a person's own encoder and decoder, which return distributions.

    encoder(x) -> q(z|x), batch (B,), event (D,); decoder(z) -> p(x|z), batch z.shape[:-1], event
    (C, H, W). The prior is N(0, I) of size `latent_dim`. The model keeps vaekit's contract, so the
    objectives, evaluation, sampling, the report and the explorer use it as any built-in VAE.
    """

    has_prior = True
    own_evaluation = False
    num_labels = 0
    data_kind = "images"  # x is (B, C, H, W)
    code_kind = "continuous"  # z is a vector of latent_dim
    trainable_prior = False  # the prior is N(0, I), nothing to fit after training
    prior_words = "N(0, I)"

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        return self.decoder(z)

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1, validate_args=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean reconstruction E[x | z = E[z|x]], shaped like x."""
        return self.decode(self.encode(x).mean).mean
