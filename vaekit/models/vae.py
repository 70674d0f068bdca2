"""The variational autoencoder: q(z|x) and p(x|z) as distributions, p(z) = N(0, I) (or a learned p(z|y)).

    p(x) = ∫ p(x|z) p(z) dz  is intractable; the encoder's q(z|x) makes the ELBO tractable.

The network is composed, not inherited: an encoder backbone and a Gaussian head give q(z|x), a
decoder backbone and a likelihood head give p(x|z). The objective (ELBO, IWAE bound, ...) is a
separate callable, so VAE, beta-VAE and IWAE share this one class.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from vaekit.nn import GaussianLatentHead, decode_batched, image_backbones


class VAE(nn.Module):
    """A latent-variable model with a Gaussian encoder, a likelihood decoder and a N(0, I) prior.

    With `num_labels > 0` it is conditional (Sohn et al. 2015): encoder and decoder also see the
    one-hot label, q(z|x, y) and p(x|z, y). The prior is N(0, I), or with `label_prior` a learned
    p(z|y) = N(mu_y, diag sigma_y^2), one mean and scale per class trained with the rest (Sohn et
    al.'s "prior network" for a one-hot y is a table); then samples for label y come from p(z|y)
    and the ELBO and likelihood are those of log p(x|y).
    """

    def __init__(
        self,
        encoder: nn.Module,
        latent_head: nn.Module,
        decoder: nn.Module,
        likelihood: nn.Module,
        latent_dim: int,
        num_labels: int = 0,
        label_prior: bool = False,
    ):
        super().__init__()
        self.encoder, self.latent_head = encoder, latent_head
        self.decoder, self.likelihood = decoder, likelihood
        self.latent_dim, self.num_labels = latent_dim, num_labels
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))
        if label_prior and not num_labels:
            raise ValueError("a label-conditional prior needs num_labels > 0")
        # p(z|y): per class a mean and a log-scale (L, D), starting at N(0, I)
        self.label_prior_loc = nn.Parameter(torch.zeros(num_labels, latent_dim)) if label_prior else None
        self.label_prior_log_scale = nn.Parameter(torch.zeros(num_labels, latent_dim)) if label_prior else None

    has_prior = True  # it samples: z ~ p(z), x ~ p(x|z)
    own_evaluation = False  # q(z|x) is a density: vaekit.eval.likelihood estimates log p(x) by importance sampling
    data_kind, code_kind, trainable_prior = "images", "continuous", False

    @property
    def prior_words(self) -> str:
        return "N(0, I)" if self.label_prior_loc is None else "p(z|y), a learned Gaussian per label"

    def _labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if not self.num_labels:
            return None
        if y is None:
            raise ValueError("this model is conditional: pass labels y")
        return nn.functional.one_hot(y, self.num_labels).to(self.prior_loc.dtype)  # (B, L)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """q(z|x): batch shape (B,), event shape (D,)."""
        return self.latent_head(self.encoder(x, self._labels(y)))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """p(x|z): batch shape z.shape[:-1], event shape (C, H, W). z may carry extra leading dims."""
        labels = self._labels(y)
        if labels is not None:  # the one-hot label rides along with every code: (..., D + L)
            z = torch.cat([z, labels.expand(*z.shape[:-1], self.num_labels)], dim=-1)
        return decode_batched(self.decoder, self.likelihood, z)

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        """p(z) = N(0, I), event shape (D,); with a learned label prior p(z|y), batch (B,) for labels y (B,),
        and without labels the marginal (1/L) sum_y p(z|y) (a mixture)."""
        if self.label_prior_loc is None:
            return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1, validate_args=False)
        loc, scale = self.label_prior_loc, self.label_prior_log_scale.exp()  # (L, D) each
        if y is not None:
            return Independent(Normal(loc[y], scale[y], validate_args=False), 1, validate_args=False)
        classes = Categorical(logits=torch.zeros_like(loc[:, 0]), validate_args=False)  # p(y) uniform
        return MixtureSameFamily(classes, Independent(Normal(loc, scale, validate_args=False), 1), validate_args=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean reconstruction E[x | z = E[z|x]], shaped like x."""
        return self.decode(self.encode(x, y).mean, y).mean


def build_vae(
    cfg,
    image_shape,
    num_classes: int,
    conditional: bool = False,
    label_every_layer: bool = False,
    label_prior: bool = False,
) -> VAE:
    """A VAE from a ModelConfig for images of `image_shape` (C, H, W)."""
    labels = num_classes if conditional else 0
    enc, dec, likelihood = image_backbones(cfg, image_shape, extra_in=labels, extra_every_layer=label_every_layer)
    return VAE(
        enc, GaussianLatentHead(enc.out_features, cfg.latent_dim), dec, likelihood, cfg.latent_dim, labels, label_prior
    )
