"""my_vae_plugin: a person's own encoder and decoder, trained and opened by vaekit.

The package hands vaekit one build function (the entry point in pyproject.toml, or the import
path `my_vae_plugin:build`):

    build(cfg, image_shape, num_classes, *, width=32) -> (encoder, decoder)

`encoder(x)` returns q(z|x) and `decoder(z)` returns p(x|z), both `torch.distributions` objects;
vaekit wraps the pair in a VAE with the prior N(0, I) and trains it on the ELBO. `cfg` is vaekit's
ModelConfig (latent_dim, hidden, ...: use what you like of it); the keyword-only `width` is this
model's own option, `vaekit train my-conv-vae --set width=16`. Returning a whole model that keeps
vaekit's contract (encode, decode, prior, ...) works too; see docs/architecture.md.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal


class ConvEncoder(nn.Module):
    """q(z|x) = N(mu(x), diag sigma(x)^2) from two 3x3 convolutions (the second of stride 2)."""

    def __init__(self, image_shape, latent_dim: int, width: int):
        super().__init__()
        c, h, w = image_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Flatten(),
        )
        features = width * math.ceil(h / 2) * math.ceil(w / 2)
        self.loc, self.log_scale = nn.Linear(features, latent_dim), nn.Linear(features, latent_dim)

    def forward(self, x: torch.Tensor) -> Distribution:
        h = self.net(x)  # (B, F)
        scale = self.log_scale(h).clamp(-8.0, 8.0).exp()
        return Independent(Normal(self.loc(h), scale), 1)  # batch (B,), event (D,)


class ConvDecoder(nn.Module):
    """p(x|z): Bernoulli pixels whose logits come from a linear layer and a stride-2 transposed conv."""

    def __init__(self, image_shape, latent_dim: int, width: int):
        super().__init__()
        c, h, w = image_shape
        self.image_shape, self.grid = tuple(image_shape), (width, math.ceil(h / 2), math.ceil(w / 2))
        self.fc = nn.Linear(latent_dim, math.prod(self.grid))
        self.net = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, c, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> Distribution:
        """z (..., D), with any leading sample dims -> p(x|z), batch z.shape[:-1], event (C, H, W)."""
        lead, (c, h, w) = z.shape[:-1], self.image_shape
        grid = self.fc(z.reshape(-1, z.shape[-1])).reshape(-1, *self.grid)  # (N, width, H/2, W/2)
        logits = self.net(grid)[..., :h, :w]  # (N, C, H, W), cropped where H or W is odd
        # Grey levels in [0, 1] are scored as Bernoulli probabilities, as vaekit's own decoders do,
        # so the support check (0 or 1 only) is off.
        return Independent(Bernoulli(logits=logits.reshape(*lead, c, h, w), validate_args=False), 3)


def build(cfg, image_shape, num_classes: int, *, width: int = 32):
    """The (encoder, decoder) pair for images of `image_shape` (C, H, W) with pixels in [0, 1]."""
    return ConvEncoder(image_shape, cfg.latent_dim, width), ConvDecoder(image_shape, cfg.latent_dim, width)
