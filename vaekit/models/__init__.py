"""Models under one contract, `vaekit.models.contract.LatentVariableModel`, which every command and
the trainer rely on and nothing more:

    encode(x, y=None) -> q(z|x)      a torch Distribution, batch (B,), event (D,)
    decode(z, y=None) -> p(x|z)      batch z.shape[:-1], event (C, H, W); z may carry leading dims
    has_prior                        whether prior() exists (False: an AE, a VQ-VAE before train-prior)
    prior(y=None) -> p(z)            a torch Distribution, event (D,); raises vaekit.errors.NoPrior if none;
                                     p(z|y), batch (B,), for labels y of a conditional model whose prior is learned
    forward(x, y=None)               the mean reconstruction, shaped like x
    num_labels                       classes of y for a conditional model, else 0
    own_evaluation                   True: `evaluate_split(x, y, ...)` gives its measures (no density q(z|x))
    data_kind                        "images", "sentences" or "pairs" (a target sequence given a source)
    code_kind                        "continuous", "grid" (discrete codes: code_grid, codes(x)) or "none"
    trainable_prior                  a code prior is fitted after training (`vaekit train-prior`)
    prior_words                      what prior() is, in words, for picture titles ("N(0, I)", "none", ...)

Every model is listed once, in `vaekit.models.registry.MODELS`; a person's own model comes from an
installed package's entry point or a package.module:build_fn (vaekit.models.plugins). `load_run`
(vaekit.models.run) reads a trained run back. See docs/architecture.md.
"""

from vaekit.models.contract import CODE_KINDS, DATA_KINDS, CodeGrid, LatentVariableModel, check_model
from vaekit.models.registry import (
    MODELS,
    ModelSpec,
    build_model,
    build_objective,
    data_defaults,
    default_config,
    default_train_config,
    get_spec,
    image_models,
    model_names,
    pair_models,
    resolve_options,
    spec_of,
    text_models,
)
from vaekit.models.run import load_run
from vaekit.models.vae import VAE

__all__ = [
    "CODE_KINDS",
    "DATA_KINDS",
    "MODELS",
    "CodeGrid",
    "LatentVariableModel",
    "ModelSpec",
    "VAE",
    "build_model",
    "build_objective",
    "check_model",
    "data_defaults",
    "default_config",
    "default_train_config",
    "get_spec",
    "image_models",
    "load_run",
    "pair_models",
    "model_names",
    "resolve_options",
    "spec_of",
    "text_models",
]
