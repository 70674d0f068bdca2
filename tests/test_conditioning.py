"""The conditional VAE's label reaches every decoder layer (its default) or the first only."""

from __future__ import annotations

import pytest
import torch

from tests.test_models import build
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.nn.backbones import LabelEveryLayerMLPDecoder, MLPDecoder


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_cvae_feeds_the_label_to_every_decoder_layer_by_default(digits):
    model, _, _ = build("cvae", digits)
    assert isinstance(model.decoder, LabelEveryLayerMLPDecoder)
    assert all(layer.in_features == n + 10 for layer, n in zip(model.decoder.layers, (4, 64)))
    first_only, _, _ = build("cvae", digits, label_layers="input")
    assert isinstance(first_only.decoder, MLPDecoder)


def test_the_label_still_acts_when_the_first_layer_ignores_it(digits):
    model, _, _ = build("cvae", digits)
    with torch.no_grad():
        model.decoder.layers[0].weight[:, -10:] = 0.0  # the label's columns in the first layer
        z = torch.randn(1, 4).expand(10, 4)
        means = model.decode(z, torch.arange(10)).mean  # (10, 1, 8, 8): one code, ten labels
    assert (means[1:] - means[0]).abs().amax() > 1e-3  # later layers still see the label


def test_unknown_label_layers_is_an_error(digits):
    with pytest.raises(VaekitError, match="label_layers"):
        build("cvae", digits, label_layers="middle")
