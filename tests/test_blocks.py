"""Every image model honours the network settings of its ModelConfig: `--arch conv --block
repvgg|acnet` puts the branched blocks in the network it builds, and `fused` (what `vaekit export
--fuse` writes) builds the fused network that the exported weights load into.

Driven by the registry, so a new image model is checked without a new test. A model with networks
of its own (the VQ-VAE) may refuse `--block`, with a one-line error naming it, never silently
train plain convolutions while config.json says repvgg.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vaekit.config import ModelConfig
from vaekit.errors import VaekitError
from vaekit.models import build_model, image_models
from vaekit.nn.repconv import BLOCKS, BranchedConv2d, count_blocks, fuse_blocks

SHAPE = (1, 8, 8)


def conv_config(name: str, block: str, fused: bool = False) -> ModelConfig:
    return ModelConfig(
        name=name,
        arch="conv",
        block=block,
        fused=fused,
        hidden=(32,),
        channels=(8, 16),
        latent_dim=4,
        likelihood="bernoulli",
    )


def build_or_refusal(cfg: ModelConfig):
    """The model, or None when it refuses --block with an error that says so."""
    torch.manual_seed(0)
    try:
        return build_model(cfg, SHAPE, 10)
    except VaekitError as err:
        assert "--block" in str(err), f"{cfg.name} refused --block {cfg.block} without naming it: {err}"
        return None


@pytest.mark.parametrize("block", ["repvgg", "acnet"])
@pytest.mark.parametrize("name", image_models())
def test_every_image_model_builds_the_blocks_it_is_asked_for(name, block):
    model = build_or_refusal(conv_config(name, block))
    if model is None:
        return
    blocks = [m for m in model.modules() if isinstance(m, BranchedConv2d)]
    assert blocks, f"{name} built no {block} blocks for --arch conv --block {block}"
    for b in blocks:  # the identity branch exists only where the shapes allow it
        assert set(b.branches) <= set(BLOCKS[block]) and {"3x3"} < set(b.branches)


@pytest.mark.parametrize("name", image_models())
def test_every_image_model_builds_the_fused_network_that_export_writes(name):
    trained = build_or_refusal(conv_config(name, "repvgg"))
    if trained is None:
        return
    assert count_blocks(trained) > 0
    exported = fuse_blocks(trained.eval())  # what `vaekit export --fuse` saves
    cfg = dataclasses.replace(conv_config(name, "repvgg"), fused=True)
    fused = build_model(cfg, SHAPE, 10).eval()
    assert count_blocks(fused) == 0
    fused.load_state_dict(exported.state_dict())  # strict: the same layers, names and shapes
    x, y = torch.rand(3, *SHAPE), torch.arange(3)
    labels = y if trained.num_labels else None
    with torch.no_grad():
        torch.testing.assert_close(fused.encode(x, labels).mean, trained.encode(x, labels).mean, atol=1e-5, rtol=1e-4)
