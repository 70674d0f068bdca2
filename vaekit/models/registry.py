"""The model registry: every model vaekit can train, listed once, in `MODELS` below.

An entry says how to build the network and which objective trains it. Adding a model is one model
file (or one objective) plus one line here; the registry-driven tests then cover it. Nothing
registers itself on import.

Options (`--set KEY=VALUE`, saved as `ModelConfig.options`) are the keyword arguments of the two
callables, and their defaults are written once, in those signatures:

    build(cfg, image_shape, num_classes, *, network options...)  -> the nn.Module
    objective(objective options...)                              -> objective(model, x, y, progress)

so a network option (a VQ-VAE's codebook size) never reaches the loss and an objective option
(beta) never reaches the network.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from vaekit.errors import VaekitError
from vaekit.models.ae import build_autoencoder, build_wae
from vaekit.models.family import beta_vae_objective, build_cvae, iwae_objective
from vaekit.models.vae import build_vae
from vaekit.models.vqvae import VQLoss, build_vqvae, load_code_prior_into
from vaekit.objectives import ELBO, WAEMMD, Reconstruction

@dataclass(frozen=True)
class ModelSpec:
    build: Callable[..., Any]  # (ModelConfig, image_shape (C, H, W), num_classes, **network options) -> nn.Module
    objective: Callable[..., Any]  # (**objective options) -> objective(model, x, y, progress) -> LossOutput
    summary: str = ""
    load_extras: Callable[..., None] | None = None  # (model, run_dir, device): what a run holds beyond weights

    @property
    def network_options(self) -> dict[str, Any]:
        """Keyword-only options of `build` -> their defaults."""
        return _keyword_defaults(self.build, kinds=(inspect.Parameter.KEYWORD_ONLY,))

    @property
    def objective_options(self) -> dict[str, Any]:
        """Options of the objective factory -> their defaults."""
        return _keyword_defaults(self.objective, kinds=(inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                        inspect.Parameter.KEYWORD_ONLY))

    @property
    def options(self) -> dict[str, Any]:
        """Every option of the model (network and objective) -> its default."""
        return {**self.network_options, **self.objective_options}


def _keyword_defaults(fn: Callable, kinds: tuple) -> dict[str, Any]:
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.kind in kinds and p.default is not inspect.Parameter.empty}


MODELS: dict[str, ModelSpec] = {
    "vae": ModelSpec(build_vae, ELBO, "variational autoencoder trained on the ELBO (Kingma & Welling 2013)"),
    "ae": ModelSpec(build_autoencoder, Reconstruction,
                    "deterministic autoencoder, reconstruction loss; --set noise=0.3 makes it denoising "
                    "(corruption=gaussian or mask); no prior: sample with --prior gmm:K"),
    "beta-vae": ModelSpec(build_vae, beta_vae_objective,
                          "beta-VAE: KL weighted by beta (Higgins et al. 2017); --set capacity_max=25 for capacity "
                          "annealing (Burgess et al. 2018)"),
    "cvae": ModelSpec(build_cvae, ELBO,
                      "conditional VAE: q(z|x,y), p(x|z,y) (Sohn et al. 2015); sample with --label L"),
    "iwae": ModelSpec(build_vae, iwae_objective,
                      "importance-weighted autoencoder: the VAE trained on the k-sample bound (Burda et al. 2015)"),
    "wae": ModelSpec(build_wae, WAEMMD,
                     "Wasserstein autoencoder, MMD penalty with IMQ kernels (Tolstikhin et al. 2017)"),
    "vqvae": ModelSpec(build_vqvae, VQLoss,
                       "VQ-VAE: discrete code grid, EMA or learned codebook (van den Oord et al. 2017); "
                       "sample after 'vaekit train-prior'", load_extras=load_code_prior_into),
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise VaekitError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]


def resolve_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The model's options: its defaults overridden by `given`; unknown names are errors."""
    defaults = get_spec(name).options
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(defaults) or "none"
        raise VaekitError(f"option(s) {', '.join(unknown)} do not apply to model {name!r} (its options: {known})")
    return {**defaults, **given}


def build_model(cfg, image_shape, num_classes: int):
    """The network for a ModelConfig, on the CPU, in float32."""
    spec = get_spec(cfg.name)
    options = resolve_options(cfg.name, cfg.options)
    return spec.build(cfg, image_shape, num_classes, **{k: options[k] for k in spec.network_options})


def build_objective(cfg):
    """The objective for a ModelConfig, with its options."""
    spec = get_spec(cfg.name)
    options = resolve_options(cfg.name, cfg.options)
    return spec.objective(**{k: options[k] for k in spec.objective_options})
