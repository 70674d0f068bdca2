"""Backbones: deterministic networks with no probabilistic meaning of their own.

An encoder backbone maps images (B, C, H, W) to features (B, F); a decoder backbone maps a code
(B, D) to a tensor (B, P*C, H, W) holding P parameters per pixel (P=1 for Bernoulli logits, 2 for
a Gaussian mean and scale). What those numbers mean is the job of a head (`vaekit.nn.heads`), so
one backbone serves every model and every likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vaekit.errors import VaekitError
from vaekit.nn.repconv import make_block

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky-relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise VaekitError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _mlp(sizes: Sequence[int], act: str) -> nn.Sequential:
    """Linear layers between consecutive sizes, each followed by the activation."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation(act)]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """(B, C, H, W) -> flatten -> hidden layers -> (B, hidden[-1])."""

    def __init__(self, image_shape: Sequence[int], hidden: Sequence[int], act: str = "relu", extra_in: int = 0):
        super().__init__()
        self.net = _mlp([math.prod(image_shape) + extra_in, *hidden], act)
        self.out_features = hidden[-1]

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)  # (B, C*H*W)
        if extra is not None:
            h = torch.cat([h, extra], dim=1)
        return self.net(h)


class MLPDecoder(nn.Module):
    """(B, D) -> hidden layers (mirrored) -> (B, P*C, H, W) with P parameters per pixel."""

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int],
        image_shape: Sequence[int],
        params_per_pixel: int,
        act: str = "relu",
    ):
        super().__init__()
        c, h, w = image_shape
        self.out_shape = (params_per_pixel * c, h, w)
        self.net = nn.Sequential(_mlp([latent_dim, *hidden], act), nn.Linear(hidden[-1], math.prod(self.out_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class LabelEveryLayerMLPDecoder(nn.Module):
    """The MLP decoder of a conditional model with the label fed to every layer, not only the first.

    Input (B, D + L): the code and the one-hot label, as `VAE.decode` concatenates them. The label
    is split off and concatenated to the input of every linear layer, so each layer can use it
    directly; with the label at the input only, a decoder can learn to read the class from z
    instead, and samples from p(z) then come out as some other digit.
    """

    def __init__(
        self,
        latent_dim: int,
        num_labels: int,
        hidden: Sequence[int],
        image_shape: Sequence[int],
        params_per_pixel: int,
        act: str = "relu",
    ):
        super().__init__()
        c, h, w = image_shape
        self.out_shape = (params_per_pixel * c, h, w)
        self.num_labels = num_labels
        sizes = [latent_dim, *hidden, math.prod(self.out_shape)]
        self.layers = nn.ModuleList(nn.Linear(n_in + num_labels, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.act = activation(act)

    def forward(self, zy: torch.Tensor) -> torch.Tensor:
        y = zy[:, -self.num_labels :]  # (B, L)
        h = zy[:, : -self.num_labels]  # (B, D)
        for i, layer in enumerate(self.layers):
            h = layer(torch.cat([h, y], dim=1))
            if i + 1 < len(self.layers):
                h = self.act(h)
        return h.view(zy.shape[0], *self.out_shape)


class _PadToEven(nn.Module):
    """Pads odd H or W by one pixel (bottom/right), so a stride-2 layer gives exactly ceil(n / 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))


class ConvEncoder(nn.Module):
    """Stages halving H and W, then a linear layer to `hidden` features.

    With no `block`, a stage is one stride-2 4x4 convolution. With a `block` kind of
    `vaekit.nn.repconv.BLOCKS` it is a stride-2 3x3 block then a stride-1 3x3 block (the one
    where RepVGG's identity branch fits); `fused` builds the plain convolutions they fuse into.
    Works for any image size: odd sizes round up (the decoder crops back).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int],
        hidden: int,
        act: str = "relu",
        extra_in: int = 0,
        block: str | None = None,
        fused: bool = False,
    ):
        super().__init__()
        c, h, w = image_shape
        layers: list[nn.Module] = []
        for c_in, c_out in zip([c, *channels[:-1]], channels):
            if block is None:
                layers += [_PadToEven(), nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
            else:
                layers += [
                    make_block(block, c_in, c_out, 2, fused=fused),
                    activation(act),
                    make_block(block, c_out, c_out, 1, fused=fused),
                    activation(act),
                ]
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        self.convs = nn.Sequential(*layers)
        self.grid = (channels[-1], h, w)  # feature map shape after the convolutions
        self.fc = nn.Sequential(nn.Linear(math.prod(self.grid) + extra_in, hidden), activation(act))
        self.out_features = hidden

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convs(x).flatten(1)  # (B, C'*H'*W')
        if extra is not None:
            h = torch.cat([h, extra], dim=1)
        return self.fc(h)


class ConvDecoder(nn.Module):
    """(B, D) -> linear -> (C', H', W') -> stages doubling H and W -> crop to (P*C, H, W).

    With no `block`, a stage is one stride-2 4x4 transposed convolution. With a `block` kind it
    mirrors the encoder: a 3x3 block at the low resolution, a nearest-neighbour 2x upsampling,
    then a 3x3 block (upsample + conv also avoids transposed convolutions' checkerboard
    artifacts); the last stage ends in a plain 3x3 convolution to the P*C outputs.
    """

    def __init__(
        self,
        latent_dim: int,
        channels: Sequence[int],
        hidden: int,
        image_shape: Sequence[int],
        params_per_pixel: int,
        act: str = "relu",
        block: str | None = None,
        fused: bool = False,
    ):
        super().__init__()
        c, h, w = image_shape
        for _ in channels:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        self.grid = (channels[-1], h, w)
        self.image_hw = tuple(image_shape[1:])
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, hidden), activation(act), nn.Linear(hidden, math.prod(self.grid)), activation(act)
        )
        self.deconvs = self._stages(list(reversed(channels)), params_per_pixel * c, act, block, fused)

    @staticmethod
    def _stages(rev: list[int], out_channels: int, act: str, block: str | None, fused: bool) -> nn.Sequential:
        layers: list[nn.Module] = []
        if block is None:
            for c_in, c_out in zip(rev[:-1], rev[1:]):
                layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
            layers.append(nn.ConvTranspose2d(rev[-1], out_channels, 4, stride=2, padding=1))
            return nn.Sequential(*layers)
        for i, c_in in enumerate(rev):
            layers += [make_block(block, c_in, c_in, 1, fused=fused), activation(act), nn.Upsample(scale_factor=2)]
            if i + 1 < len(rev):
                layers += [make_block(block, c_in, rev[i + 1], 1, fused=fused), activation(act)]
            else:  # the P*C outputs are logits or Gaussian parameters: no batch norm, no activation
                layers.append(nn.Conv2d(c_in, out_channels, 3, padding=1))
        return nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], *self.grid)
        out = self.deconvs(h)  # (B, P*C, >=H, >=W)
        return out[..., : self.image_hw[0], : self.image_hw[1]]


def build_backbones(
    arch: str,
    image_shape: Sequence[int],
    latent_dim: int,
    params_per_pixel: int,
    hidden: Sequence[int],
    channels: Sequence[int],
    act: str,
    extra_in: int = 0,
    block: str | None = None,
    fused: bool = False,
    extra_every_layer: bool = False,
):
    """The (encoder, decoder) backbone pair for `arch` ('mlp' or 'conv').

    `extra_in` widens the encoder input and the decoder's code input, e.g. for a one-hot label;
    with `extra_every_layer` (MLP only) the decoder gets it at every layer.
    `block` (conv only) picks 3x3 blocks from `vaekit.nn.repconv.BLOCKS`; `fused` their fused form.
    """
    if block is not None and arch != "conv":
        raise VaekitError(f"--block {block} applies to the convolutional networks: add --arch conv")
    if arch == "mlp":
        enc = MLPEncoder(image_shape, hidden, act, extra_in)
        if extra_every_layer and extra_in:
            dec = LabelEveryLayerMLPDecoder(
                latent_dim, extra_in, list(reversed(hidden)), image_shape, params_per_pixel, act
            )
        else:
            dec = MLPDecoder(latent_dim + extra_in, list(reversed(hidden)), image_shape, params_per_pixel, act)
    elif arch == "conv":
        enc = ConvEncoder(image_shape, channels, hidden[-1], act, extra_in, block, fused)
        dec = ConvDecoder(latent_dim + extra_in, channels, hidden[-1], image_shape, params_per_pixel, act, block, fused)
    else:
        raise VaekitError(f"unknown architecture {arch!r}: choose mlp or conv")
    return enc, dec


def image_backbones(cfg, image_shape: Sequence[int], latent_dim: int | None = None, **extra):
    """(encoder, decoder, likelihood head) of an image model from its ModelConfig `cfg`: every image
    model's build function starts here, so each honours arch, hidden, channels, activation, block
    and fused alike. `latent_dim` (default cfg.latent_dim) is the decoder's code size; `extra` is
    build_backbones' extra_in / extra_every_layer (a conditional model's one-hot label)."""
    from vaekit.nn.heads import build_likelihood

    likelihood = build_likelihood(cfg.likelihood, image_shape, cfg.gaussian_variance)
    enc, dec = build_backbones(
        cfg.arch,
        image_shape,
        cfg.latent_dim if latent_dim is None else latent_dim,
        likelihood.params_per_pixel,
        cfg.hidden,
        cfg.channels,
        cfg.activation,
        block=cfg.block,
        fused=cfg.fused,
        **extra,
    )
    return enc, dec, likelihood
