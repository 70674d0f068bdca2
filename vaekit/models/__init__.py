"""Models under one contract: `encode(x, y) -> q(z|x)`, `decode(z, y) -> p(x|z)`, `prior() -> p(z)`.

Importing this package registers every model in `MODELS` (see `vaekit.models.registry`).
"""

from vaekit.models.registry import MODELS, ModelSpec, build_model, build_objective, get_spec, resolve_options
from vaekit.models import vae  # noqa: F401  (registers vae)
from vaekit.models import ae  # noqa: F401  (registers ae)
from vaekit.models import family  # noqa: F401  (registers beta-vae, cvae, iwae, wae)
from vaekit.models import vqvae  # noqa: F401  (registers vqvae)
from vaekit.models.vae import VAE

__all__ = ["MODELS", "ModelSpec", "VAE", "build_model", "build_objective", "get_spec", "resolve_options"]
