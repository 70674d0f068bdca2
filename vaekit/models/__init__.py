"""Models under one contract, which every command and the trainer rely on and nothing more:

    encode(x, y=None) -> q(z|x)      a torch Distribution, batch (B,), event (D,)
    decode(z, y=None) -> p(x|z)      batch z.shape[:-1], event (C, H, W); z may carry leading dims
    has_prior                        whether prior() exists (False: an AE, a VQ-VAE before train-prior)
    prior() -> p(z)                  event (D,); raises vaekit.errors.NoPrior, saying what to do, if none
    forward(x, y=None)               the mean reconstruction, shaped like x
    num_labels                       (conditional models) classes of y
    evaluate_split(x, y, ...)        (optional) a model without a density q(z|x) reports its own measures

Every model is listed once, in `vaekit.models.registry.MODELS`; `load_run` (vaekit.models.run)
reads a trained run back. See docs/architecture.md.
"""

from vaekit.models.registry import MODELS, ModelSpec, build_model, build_objective, get_spec, resolve_options
from vaekit.models.run import load_run
from vaekit.models.vae import VAE

__all__ = ["MODELS", "ModelSpec", "VAE", "build_model", "build_objective", "get_spec", "load_run", "resolve_options"]
