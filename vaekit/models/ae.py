"""Deterministic autoencoders: the plain / denoising AE and the Wasserstein AE's network.

    z = f(x)            a code, no distribution over it
    p(x|z) = g(z)       the same likelihood heads as the VAE (Bernoulli logits, Gaussian)

Under the vaekit contract `encode(x)` must return a distribution q(z|x). Here it is a
`PointMass` at the code: `mean`, `sample()` and `rsample()` all return f(x) (with gradients
through rsample), and its variance is zero. Its `log_prob` is a point mass's (0 at the code,
-inf elsewhere), not a density, so the model declares `own_evaluation`: `vaekit eval` uses its
`evaluate_split` (reconstruction errors) instead of the importance-sampled likelihood.

The plain AE has no prior, so it cannot sample on its own: `has_prior` is False and `prior()`
raises a `NoPrior` error that suggests `vaekit sample RUN --prior gmm:10`, which fits a mixture
to the training codes, or a VAE. The WAE (Tolstikhin et al. 2017) is the same network trained so
that its codes follow p(z) = N(0, I), so it has that prior and samples through the decoder.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.errors import NoPrior
from vaekit.nn import decode_batched, image_backbones
from vaekit.nn.heads import PointMass
from vaekit.objectives import imq_mmd


class Autoencoder(nn.Module):
    """Encoder backbone -> linear code (D,) -> decoder backbone -> likelihood head.

    With `standard_prior=True` (the WAE) `prior()` is N(0, I) and the model samples; without it
    (the plain AE) it has no prior, see the module docstring.
    """

    num_labels = 0  # unconditional
    own_evaluation = True  # a point-mass q(z|x) has no density: `evaluate_split` reports reconstruction errors
    data_kind, code_kind, trainable_prior = "images", "continuous", False

    @property
    def prior_words(self) -> str:
        return "N(0, I)" if self.has_prior else "none"

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: nn.Module,
        latent_dim: int,
        standard_prior: bool = False,
    ):
        super().__init__()
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.code = nn.Linear(encoder.out_features, latent_dim)
        self.latent_dim, self.standard_prior = latent_dim, standard_prior
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """A point mass at the code f(x): batch (B,), event (D,)."""
        return PointMass(self.code(self.encoder(x)))  # (B, D)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """p(x|z): batch shape z.shape[:-1], event shape (C, H, W)."""
        return decode_batched(self.decoder, self.likelihood, z)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean reconstruction E[x | z = f(x)], shaped like x."""
        return self.decode(self.encode(x).mean).mean

    @property
    def has_prior(self) -> bool:
        return self.standard_prior

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        """p(z) = N(0, I), event shape (D,), for the WAE; the plain AE has none."""
        if not self.standard_prior:
            raise NoPrior(
                "an autoencoder has no prior p(z) to sample from: use 'vaekit sample RUN --prior gmm:10' "
                "(a mixture fitted to the training codes) or train a vae or wae"
            )
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1, validate_args=False)

    @torch.no_grad()
    def evaluate_split(self, x: torch.Tensor, y=None, batch_size: int = 500, seed: int = 0) -> dict:
        """What `vaekit eval` reports for an autoencoder; see `reconstruction_measures`."""
        return reconstruction_measures(self, x, batch_size, seed)


@torch.no_grad()
def reconstruction_measures(model: Autoencoder, x: torch.Tensor, batch_size: int = 500, seed: int = 0) -> dict:
    """Reconstruction errors of images x (N, C, H, W) through the codes, per image:

    recon   -log p(x | f(x)) in nats (the training loss without corruption)
    sse     sum over pixels of (x - E[x|f(x)])^2; mse is the same per pixel
    bce     binary cross-entropy of x against E[x|f(x)] clipped to [1e-6, 1 - 1e-6], summed over pixels
    mmd     (WAE only) unbiased MMD^2 between the codes and N(0, I) draws, averaged over blocks of batch_size
    n       images evaluated
    """
    model.eval()
    torch.manual_seed(seed)
    totals = torch.zeros(4, dtype=torch.float64, device=x.device)  # recon, sse, bce, mmd weighted by block size
    mmd_images = 0
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]  # (B, C, H, W)
        z = model.encode(xb).mean  # (B, D)
        p = model.decode(z)
        mean = p.mean.clamp(1e-6, 1 - 1e-6)
        bce = nn.functional.binary_cross_entropy(mean, xb.clamp(0, 1), reduction="none").flatten(1).sum(1)  # (B,)
        mmd = z.new_zeros(())
        if model.standard_prior and xb.shape[0] > 1:  # the unbiased estimate needs two codes at least
            mmd, mmd_images = imq_mmd(z, model.prior().sample((xb.shape[0],))), mmd_images + xb.shape[0]
        totals += torch.stack(
            [-p.log_prob(xb).sum(), (p.mean - xb).pow(2).sum(), bce.sum(), mmd * xb.shape[0]]
        ).double()
    n = x.shape[0]
    recon, sse, bce, mmd = totals.tolist()
    out = {"recon": recon / n, "sse": sse / n, "mse": sse / n / x[0].numel(), "bce": bce / n, "n": n}
    if model.standard_prior:
        out["mmd"] = mmd / max(mmd_images, 1)
    return out


def build_autoencoder(cfg, image_shape, num_classes: int, standard_prior: bool = False) -> Autoencoder:
    """An autoencoder from a ModelConfig: the VAE's backbones, a linear code layer, its likelihood head."""
    enc, dec, likelihood = image_backbones(cfg, image_shape)
    return Autoencoder(enc, dec, likelihood, cfg.latent_dim, standard_prior)


def build_wae(cfg, image_shape, num_classes: int) -> Autoencoder:
    """The WAE's network: a deterministic autoencoder with p(z) = N(0, I)."""
    return build_autoencoder(cfg, image_shape, num_classes, standard_prior=True)
