"""Networks: backbones map images to features and codes to images; heads turn them into distributions."""

from vaekit.nn.backbones import (
    ACTIVATIONS,
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    build_backbones,
    image_backbones,
)
from vaekit.nn.heads import LIKELIHOODS, GaussianLatentHead, build_likelihood, decode_batched

__all__ = [
    "ACTIVATIONS",
    "ConvDecoder",
    "ConvEncoder",
    "GaussianLatentHead",
    "LIKELIHOODS",
    "MLPDecoder",
    "MLPEncoder",
    "build_backbones",
    "build_likelihood",
    "decode_batched",
    "image_backbones",
]
