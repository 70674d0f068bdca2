"""Structural re-parameterization: branched blocks fuse into one convolution with the same outputs."""

from __future__ import annotations

import json
import zlib

import pytest
import torch
from torch import nn

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.errors import VaekitError
from vaekit.models import build_model
from vaekit.nn.repconv import (
    BLOCKS,
    BranchedConv2d,
    count_blocks,
    fuse_blocks,
    make_block,
)

BRANCH_SETS = {
    "repvgg": ("3x3", "1x1"),
    "repvgg+identity": ("3x3", "1x1", "identity"),
    "acnet": ("3x3", "1x3", "3x1"),
    "acnet+identity": ("3x3", "1x3", "3x1", "identity"),
    "plain": ("3x3",),
    "1x1 alone": ("1x1",),
    "identity alone": ("identity",),
}


def randomize_batch_norms(module: nn.Module, gen: torch.Generator) -> None:
    """Random BN statistics and affine parameters, as after training (not the identity init)."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator=gen))
            bn.running_var.copy_(torch.rand(n, generator=gen) * 3 + 0.1)
            bn.weight.data.copy_(torch.randn(n, generator=gen))
            bn.bias.data.copy_(torch.randn(n, generator=gen))


def assert_same_outputs(got: torch.Tensor, want: torch.Tensor, tol: float = 1e-5) -> None:
    """Equal to float32 rounding: max |difference| within tol, scaled by the outputs' size when above 1."""
    assert got.shape == want.shape
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= tol * scale


# An identity branch has no stride-2 form (the block refuses it: see test_bad_blocks_are_refused).
CASES = [
    (name, stride)
    for name, branches in BRANCH_SETS.items()
    for stride in (1, 2)
    if stride == 1 or "identity" not in branches
]


@pytest.mark.parametrize("name, stride", CASES, ids=[f"{n}-stride{s}" for n, s in CASES])
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("hw", [(7, 9), (8, 10)], ids=["odd", "even"])
@torch.no_grad()
def test_fused_block_gives_the_same_outputs(name, stride, groups, hw):
    branches = BRANCH_SETS[name]
    gen = torch.Generator().manual_seed(zlib.crc32(repr((name, stride, groups, hw)).encode()))
    torch.manual_seed(gen.initial_seed())
    block = BranchedConv2d(6, 6, branches, stride=stride, groups=groups)
    randomize_batch_norms(block, gen)
    block.eval()
    fused = block.fuse()
    assert type(fused) is nn.Conv2d and fused.kernel_size == (3, 3) and fused.bias is not None
    assert fused.groups == groups and fused.stride == (stride, stride)
    x = torch.randn(4, 6, *hw, generator=gen)  # (B, C, H, W)
    want = block(x)
    assert want.shape[-2:] == tuple(-(-n // stride) for n in hw)  # ceil(n / stride), like Conv2d(3, stride, 1)
    assert_same_outputs(fused(x), want)
    # In float64 the fold is exact up to far smaller rounding: the equality is algebra, not approximation.
    block64, x64 = block.double(), x.double()
    assert float((block64.fuse()(x64) - block64(x64)).abs().max()) < 1e-10


def test_the_fused_kernel_is_the_sum_of_the_padded_branch_kernels():
    """With identity BNs the folding is plain padding: 3x3 + (1x1 at the centre) + Dirac, checked by hand."""
    block = BranchedConv2d(2, 2, ("3x3", "1x1", "identity")).eval()
    fused = block.fuse()
    want = block.branches["3x3"][0].weight.clone()
    want[:, :, 1, 1] += block.branches["1x1"][0].weight[:, :, 0, 0]
    want[0, 0, 1, 1] += 1
    want[1, 1, 1, 1] += 1
    eps_scale = 1 / (1 + block.branches["identity"].eps) ** 0.5  # fresh BN: mean 0, var 1, gamma 1, beta 0
    torch.testing.assert_close(fused.weight, want * eps_scale)
    torch.testing.assert_close(fused.bias, torch.zeros(2))


def test_fusing_in_training_mode_is_an_error():
    """The classic RepVGG mistake: training-mode BN uses batch statistics, so a fused conv cannot match."""
    block = make_block("repvgg", 4, 4)
    assert block.training
    with pytest.raises(VaekitError, match="eval mode"):
        block.fuse()
    with pytest.raises(VaekitError, match="eval mode"):
        fuse_blocks(nn.Sequential(block))


def test_bad_blocks_are_refused():
    with pytest.raises(VaekitError, match="identity branch needs stride 1"):
        BranchedConv2d(4, 4, ("3x3", "identity"), stride=2)
    with pytest.raises(VaekitError, match="identity branch needs stride 1"):
        BranchedConv2d(4, 8, ("3x3", "identity"))
    with pytest.raises(VaekitError, match="groups=3 must divide"):
        BranchedConv2d(4, 6, ("3x3",), groups=3)
    with pytest.raises(VaekitError, match="unknown branch"):
        BranchedConv2d(4, 4, ("5x5",))
    with pytest.raises(VaekitError, match="unknown block"):
        make_block("repvgg2", 4, 4)
    # make_block keeps RepVGG's identity only where the shapes allow it
    assert "identity" in make_block("repvgg", 4, 4).branches
    assert "identity" not in make_block("repvgg", 4, 4, stride=2).branches


@pytest.mark.parametrize("block", BLOCKS)
def test_a_whole_conv_vae_fuses_into_its_fused_skeleton(block):
    """Every block of encoder and decoder is replaced; the result loads into the fused config's model."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", channels=(8, 12), hidden=(32,), latent_dim=4, block=block, likelihood="bernoulli")
    model = build_model(cfg, (1, 13, 10), 0)  # odd and even sizes: the decoder crops back
    model.train()
    for _ in range(3):  # real running statistics from a few training-mode batches
        model(torch.rand(16, 1, 13, 10))
    model.eval()
    fused = fuse_blocks(model)
    assert count_blocks(model) == 7 and count_blocks(fused) == 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.rand(5, 1, 13, 10)
    with torch.no_grad():
        assert_same_outputs(fused(x), model(x))
        q, q_fused = model.encode(x), fused.encode(x)
        assert_same_outputs(q_fused.stddev, q.stddev)
    skeleton = build_model(ModelConfig(**{**cfg.__dict__, "fused": True}), (1, 13, 10), 0)
    skeleton.load_state_dict(fused.state_dict(), strict=True)  # same names, same shapes


def test_block_needs_conv_and_not_the_vqvae():
    with pytest.raises(VaekitError, match="--arch conv"):
        build_model(ModelConfig(arch="mlp", block="repvgg", likelihood="bernoulli"), (1, 8, 8), 0)
    with pytest.raises(VaekitError, match="drop --block"):
        build_model(ModelConfig(name="vqvae", block="repvgg", likelihood="bernoulli"), (1, 8, 8), 0)


@pytest.fixture(scope="module")
def repvgg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "repvgg"
    argv = ["train", "vae", "--block", "repvgg", "--channels", "8,16", "--epochs", "3", "--out", str(out), *TINY]
    assert main(argv) == 0
    return out


def test_exported_run_gives_the_same_elbo_and_pictures(repvgg_run, tmp_path, capsys):
    assert json.loads((repvgg_run / "config.json").read_text())["model"]["arch"] == "conv"  # --block implies conv
    out = tmp_path / "fused"
    assert main(["export", str(repvgg_run), "--fuse", "--out", str(out)]) == 0
    summary = json.loads((out / "export.json").read_text())
    assert summary["fused_blocks"] == 7 and summary["max_abs_difference"] < 1e-5
    assert summary["parameters_after"] < summary["parameters_before"]
    assert json.loads((out / "config.json").read_text())["model"]["fused"] is True
    capsys.readouterr()
    results = []
    for run in (repvgg_run, out):  # the same test images, the same seed
        assert main(["eval", str(run), "-k", "20", "--seed", "3", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    unfused, fused = results
    for key in ("elbo", "nll", "kl", "recon"):
        assert fused[key] == pytest.approx(unfused[key], rel=1e-5, abs=1e-4), key
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["reconstruct", str(out), "-n", "4", "--out", str(tmp_path / "r.png")]) == 0
    assert main(["interpolate", str(out), "--steps", "3", "--out", str(tmp_path / "i.png")]) == 0


def test_export_refusals_leave_nothing_behind(repvgg_run, digits_run, tmp_path, capsys):
    out = tmp_path / "fused"
    assert main(["export", str(repvgg_run), "--out", str(out)]) == 2  # no --fuse
    assert main(["export", str(digits_run), "--fuse", "--out", str(out)]) == 2  # no blocks
    assert "trained without --block" in capsys.readouterr().err
    assert main(["export", str(repvgg_run), "--fuse", "--out", str(repvgg_run)]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())
    assert main(["export", str(repvgg_run), "--fuse", "--out", str(out)]) == 0
    before = (out / "model.safetensors").read_bytes()
    assert main(["export", str(repvgg_run), "--fuse", "--out", str(out)]) == 2  # exists: needs --overwrite
    assert (
        main(
            [
                "export",
                str(out),
                "--fuse",
                "--out",
                str(tmp_path / "twice"),
            ]
        )
        == 2
    )  # already fused
    assert main(["train", "vae", "--resume", "--out", str(out), "--quiet"]) == 2  # inference only
    assert (out / "model.safetensors").read_bytes() == before
    assert main(["export", str(repvgg_run), "--fuse", "--which", "last", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "export.json").read_text())["checkpoint"] == "last"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused"]  # no staging folders left


def test_reparameterization_doc_snippets_run_and_print_what_the_doc_says():
    import doctest
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "reparameterization.md"
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(doc), module_relative=False, optionflags=flags)
    assert result.attempted > 20 and result.failed == 0


def test_the_explorer_opens_an_exported_run_and_shows_what_the_source_shows(repvgg_run, tmp_path):
    import base64
    import io
    import warnings

    import matplotlib.image
    import numpy as np

    from vaekit.data import load_dataset
    from vaekit.models import load_run
    from vaekit.web import Explorer, create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    out = tmp_path / "fused"
    assert main(["export", str(repvgg_run), "--fuse", "--out", str(out)]) == 0
    pictures = []
    for run in (repvgg_run, out):
        model, cfg = load_run(run)
        data = load_dataset(cfg.data.name)
        client = TestClient(create_app(Explorer(model, cfg, data.test_x, data.test_y, title=run.name)))
        z = client.post("/api/encode", json={"index": 0}).json()["z"]
        shown = client.post("/api/decode", json={"z": z})
        assert shown.status_code == 200, shown.text
        pictures.append((z, shown.json()["png"]))
    (z_source, png_source), (z_fused, png_fused) = pictures
    assert z_fused == pytest.approx(z_source, abs=1e-4)
    source, fused = (
        matplotlib.image.imread(io.BytesIO(base64.b64decode(png.split(",", 1)[1])), format="png")
        for png in (png_source, png_fused)
    )
    assert source.shape == fused.shape and np.abs(source - fused).max() <= 1 / 255 + 1e-6  # grey levels agree
