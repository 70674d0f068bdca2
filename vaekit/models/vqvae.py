"""The VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017): a grid of discrete codes instead of a Gaussian z.

    z_e = enc(x)                  (B, D, h, w)   a D-dim vector per cell, e.g. 7x7 for 28x28 images
    k   = argmin_k ||z_e - e_k||  (B, h, w)      the codes
    z_q = e_k                     (B, D, h, w)   decoded to p(x | z_q) by a likelihood head

q(k|x) is a point mass, so the model has no ELBO to train on; `VQLoss` below is the paper's
objective, and sampling needs a prior over the code grid fitted afterwards
(`vaekit train-prior RUN_DIR`, see `vaekit.models.code_prior`).

Under the vaekit contract the latent z of this model is the *pre-quantization* grid flattened
to (B, D*h*w): `encode(x)` returns a point mass there, and `decode(z)` quantizes z to its
nearest codes before decoding. So reconstructions go through the codes, and interpolation
walks between two images' encoder outputs and decodes the quantized points along the way.
The networks are always convolutional (whatever `arch` says): stride-2 4x4 convolutions and
residual blocks, mirrored by transposed convolutions in the decoder; `latent_dim` is the code
dimension D and `channels` the widths of the stride-2 layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Distribution

from vaekit.errors import NoPrior, VaekitError
from vaekit.info import bits_per_dim
from vaekit.models.code_prior import CodeGridPrior, load_code_prior
from vaekit.models.contract import CodeGrid
from vaekit.nn import build_likelihood, decode_batched
from vaekit.nn.backbones import activation
from vaekit.nn.heads import PointMass, is_discrete
from vaekit.nn.quantize import build_quantizer, perplexity
from vaekit.objectives import LossOutput


class ResidualBlock(nn.Module):
    """x + conv1x1(act(conv3x3(act(x)))), as in the paper's encoder and decoder."""

    def __init__(self, channels: int, hidden: int, act: str):
        super().__init__()
        self.net = nn.Sequential(
            activation(act), nn.Conv2d(channels, hidden, 3, padding=1), activation(act), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def _encoder(c: int, channels, code_dim: int, blocks: int, act: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c_in, c_out in zip([c, *channels[:-1]], channels):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
    width = channels[-1]
    layers += [nn.Conv2d(width, width, 3, padding=1)]
    layers += [ResidualBlock(width, max(1, width // 2), act) for _ in range(blocks)]
    return nn.Sequential(*layers, activation(act), nn.Conv2d(width, code_dim, 1))


def _decoder(code_dim: int, channels, out_channels: int, blocks: int, act: str) -> nn.Sequential:
    rev = list(reversed(channels))
    layers: list[nn.Module] = [nn.Conv2d(code_dim, rev[0], 3, padding=1)]
    layers += [ResidualBlock(rev[0], max(1, rev[0] // 2), act) for _ in range(blocks)]
    layers.append(activation(act))
    for c_in, c_out in zip(rev[:-1], rev[1:]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
    layers.append(nn.ConvTranspose2d(rev[-1], out_channels, 4, stride=2, padding=1))
    return nn.Sequential(*layers)


class VQVAE(nn.Module):
    """Encoder -> vector quantizer -> decoder -> likelihood, with an optional prior over codes.

    It can sample only once a code prior is attached (`attach_prior`, done by `load_run` when the
    run has one): `has_prior` says so, and `prior()` before then raises a NoPrior error that says
    to run `vaekit train-prior`.
    """

    num_labels = 0  # unconditional
    own_evaluation = True  # a point-mass q(z|x): `evaluate_split` reports reconstruction and codebook measures
    data_kind, code_kind = "images", "grid"
    trainable_prior = True  # `vaekit train-prior` fits the code prior that sampling needs

    def __init__(
        self,
        image_shape,
        channels,
        code_dim: int,
        quantizer: nn.Module,
        likelihood: nn.Module,
        blocks: int = 2,
        act: str = "relu",
    ):
        super().__init__()
        c, h, w = image_shape
        scale = 2 ** len(channels)
        self.pad = (math.ceil(h / scale) * scale - h, math.ceil(w / scale) * scale - w)
        self.image_hw = (h, w)
        self.grid = (code_dim, (h + self.pad[0]) // scale, (w + self.pad[1]) // scale)  # (D, h, w)
        self.encoder = _encoder(c, channels, code_dim, blocks, act)
        self.quantizer, self.likelihood = quantizer, likelihood
        self.decoder = _decoder(code_dim, channels, likelihood.params_per_pixel * c, blocks, act)
        self.code_prior: nn.Module | None = None

    @property
    def code_grid(self) -> CodeGrid:
        """The code as the contract describes a grid of discrete codes."""
        return CodeGrid(self.quantizer.num_codes, *self.grid)

    # -- the networks -------------------------------------------------------------------------
    def encode_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-quantization encoder outputs z_e: (B, C, H, W) -> (B, D, h, w)."""
        x = nn.functional.pad(x, (0, self.pad[1], 0, self.pad[0]))  # odd sizes round up; decode crops
        return self.encoder(x)

    def decode_grid(self, z_q: torch.Tensor) -> Distribution:
        """p(x | z_q) for quantized vectors (B, D, h, w); event shape (C, H, W)."""
        out = self.decoder(z_q)[..., : self.image_hw[0], : self.image_hw[1]]  # (B, P*C, H, W)
        return self.likelihood(out)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The code grid of images: (B, C, H, W) -> (B, h, w) int64."""
        return self.quantizer.quantize(self.encode_grid(x))

    def decode_codes(self, codes: torch.Tensor) -> Distribution:
        """p(x | e_codes) for a code grid (B, h, w)."""
        return self.decode_grid(self.quantizer.lookup(codes))

    # -- the vaekit contract ------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """A point mass at the flattened encoder output, event shape (D*h*w,)."""
        return PointMass(self.encode_grid(x).flatten(1))  # (B, D*h*w)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """p(x|z) for z (..., D*h*w): each D-vector is replaced by its nearest code first."""
        return decode_batched(self._decode_flat, self.likelihood, z)

    def _decode_flat(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output (N, P*C, H, W) for flattened grids z (N, D*h*w), through their nearest codes."""
        z_q = self.quantizer.lookup(self.quantizer.quantize(z.reshape(-1, *self.grid)))  # (N, D, h, w)
        return self.decoder(z_q)[..., : self.image_hw[0], : self.image_hw[1]]

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean reconstruction through the codes, shaped like x."""
        return self.decode_codes(self.codes(x)).mean

    # -- the code prior -----------------------------------------------------------------------
    def attach_prior(self, code_prior: nn.Module | None) -> None:
        """Use `code_prior` (a `vaekit.models.code_prior.CodePrior`, or None for none) for sampling."""
        if code_prior is None:
            return
        if code_prior.num_codes != self.quantizer.num_codes or tuple(code_prior.grid_hw) != self.grid[1:]:
            raise VaekitError(
                f"the code prior is for {code_prior.num_codes} codes on a {code_prior.grid_hw} grid, "
                f"this model has {self.quantizer.num_codes} on {self.grid[1:]}: "
                "run 'vaekit train-prior' again"
            )
        self.code_prior = code_prior

    @property
    def has_prior(self) -> bool:
        return self.code_prior is not None

    @property
    def prior_words(self) -> str:
        return f"the autoregressive code prior over {self.code_grid.words()} codes" if self.has_prior else "none"

    def prior(self, y: torch.Tensor | None = None) -> CodeGridPrior:
        """The attached code prior as a distribution over flattened code vectors, event (D*h*w,)."""
        if self.code_prior is None:
            raise NoPrior("this VQ-VAE has no prior over its codes yet: run 'vaekit train-prior RUN_DIR' first")
        return CodeGridPrior(self.code_prior, self.quantizer, self.grid)

    # -- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_split(self, x: torch.Tensor, y=None, batch_size: int = 500, seed: int = 0) -> dict:
        """Reconstruction and codebook measures over images x (N, C, H, W); see `vqvae_measures`."""
        return vqvae_measures(self, x, batch_size, seed)


@torch.no_grad()
def vqvae_measures(model: VQVAE, x: torch.Tensor, batch_size: int = 500, seed: int = 0) -> dict:
    """What `vaekit eval` reports for a VQ-VAE (per image unless said otherwise):

    recon         -log p(x | z_q(x)) in nats
    mse           mean squared error per pixel of the mean reconstruction
    perplexity    exp(entropy of code usage over the split); K if all codes are used evenly
    codes_used    how many of the K codes the split uses; usage = codes_used / K
    prior_nll     -log p(codes) under the code prior, in nats (only with a prior)
    nll_bound     recon + prior_nll: an upper bound on -log p(x), the paper's bound, since
                  q(k|x) is one-hot and KL(q || p) = -log p(k(x)); bits_per_dim: the same per pixel
    """
    model.eval()
    torch.manual_seed(seed)
    k = model.quantizer.num_codes
    counts = torch.zeros(k, dtype=torch.float64, device=x.device)
    totals = torch.zeros(3, dtype=torch.float64, device=x.device)  # recon, squared error, prior nll
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        codes = model.codes(xb)  # (B, h, w)
        p = model.decode_codes(codes)
        prior_nll = -model.code_prior.log_prob(codes).sum() if model.code_prior is not None else xb.new_zeros(())
        totals += torch.stack([-p.log_prob(xb).sum(), (p.mean - xb).pow(2).sum(), prior_nll]).double()
        counts += torch.bincount(codes.flatten(), minlength=k).double()
    n = x.shape[0]
    recon, sq, prior_nll = (totals / n).tolist()
    used = int((counts > 0).sum())
    out = {
        "recon": recon,
        "mse": sq / x[0].numel(),
        "perplexity": float(perplexity(counts)),
        "codes_used": used,
        "usage": used / k,
        "n": n,
    }
    if model.code_prior is not None:
        out |= {
            "prior_nll": prior_nll,
            "nll_bound": recon + prior_nll,
            "bits_per_dim": bits_per_dim(recon + prior_nll, x[0].numel(), discrete=is_discrete(p)),
        }
    return out


class VQLoss:
    """The VQ-VAE objective (van den Oord et al. 2017, eq. 3), per example, summed over the code grid:

        L(x) = -log p(x | z_q(x)) + ||sg[z_e(x)] - e||^2 + beta ||z_e(x) - sg[e]||^2

    The gradient of the first term reaches the encoder through the straight-through estimator
    (z_q := z_e + sg[z_q - z_e]). With the EMA codebook the second term is zero: the codebook is
    updated by moving averages inside the quantizer's training-mode forward. beta = `commitment`
    (0.25 in the paper; robust from 0.1 to 2.0). Logged terms (B,): recon, codebook, commitment,
    and the batch's perplexity and usage (repeated per example).
    """

    def __init__(self, commitment: float = 0.25):
        self.commitment = commitment

    def __call__(self, model: VQVAE, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        z_e = model.encode_grid(x)  # (B, D, h, w)
        q = model.quantizer(z_e)
        recon = -model.decode_grid(q.quantized).log_prob(x)  # (B,)
        loss = (recon + q.codebook_loss + self.commitment * q.commitment_loss).mean()
        ones = torch.ones_like(recon)
        return LossOutput(
            loss,
            {
                "recon": recon,
                "codebook": q.codebook_loss,
                "commitment": q.commitment_loss,
                "perplexity": q.perplexity * ones,
                "usage": q.usage * ones,
            },
        )


def build_vqvae(
    cfg,
    image_shape,
    num_classes: int,
    *,
    codebook_size: int = 128,
    ema: bool = True,
    decay: float = 0.99,
    restart_after: int = 100,
    res_blocks: int = 2,
) -> VQVAE:
    """A VQ-VAE from a ModelConfig: latent_dim = code dimension D, channels = stride-2 widths.

    codebook_size K codes; ema: codebook updated by moving averages (decay) rather than by its loss
    term; restart_after: steps a code may go unused before it is moved onto an encoder output;
    res_blocks: residual blocks in encoder and decoder.
    """
    if cfg.block is not None:
        raise VaekitError(
            f"--block {cfg.block} is for the VAE family's conv networks; the VQ-VAE has its own: drop --block"
        )
    likelihood = build_likelihood(cfg.likelihood, image_shape, cfg.gaussian_variance)
    quantizer = build_quantizer(int(codebook_size), cfg.latent_dim, bool(ema), float(decay), int(restart_after))
    return VQVAE(image_shape, cfg.channels, cfg.latent_dim, quantizer, likelihood, int(res_blocks), cfg.activation)


def load_code_prior_into(model: VQVAE, run_dir, device) -> None:
    """The registry's `load_extras` hook: attach the run's code prior (prior.safetensors) when fitted."""
    model.attach_prior(load_code_prior(run_dir, device))
