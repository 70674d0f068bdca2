"""Sprites (the generated dSprites-like dataset) and MIG (Chen et al. 2018) on codes whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.metrics import mutual_info_score

from vaekit.data import DATASETS, load_dataset, sprites
from vaekit.data.sprites import FACTOR_SIZES, load_sprites, make_sprites, render, sample_factors
from vaekit.errors import VaekitError
from vaekit.eval.disentangle import discretize, mig, mutual_information_matrix, posterior_means


@pytest.fixture(scope="module")
def small():
    return make_sprites(300, seed=3)


# ---- sprites ------------------------------------------------------------------------------------
def test_sprites_are_binary_64x64_with_their_factors(small):
    assert small.train_x.shape == (240, 1, 64, 64) and small.val_x.shape == small.test_x.shape == (30, 1, 64, 64)
    assert set(small.train_x.unique().tolist()) == {0.0, 1.0}
    assert small.likelihood == "bernoulli" and small.num_classes == 3
    for split in ("train", "val", "test"):
        f = small.factors[split]
        x, y = small.split(split)
        assert f.shape == (x.shape[0], 5) and torch.equal(y, f[:, 0])
        assert (f >= 0).all() and (f < torch.tensor(FACTOR_SIZES)).all()
        assert torch.equal(x, render(f))  # every image is exactly its factors, rendered
    assert (small.train_x.sum((1, 2, 3)) > 5).all()  # no shape falls off the canvas


def test_sprites_are_deterministic_from_the_seed(small):
    again, other = make_sprites(300, seed=3), make_sprites(300, seed=4)
    assert torch.equal(again.train_x, small.train_x) and torch.equal(again.factors["test"], small.factors["test"])
    assert not torch.equal(other.factors["train"], small.factors["train"])
    assert torch.equal(sample_factors(50, 1), sample_factors(50, 1))


def test_each_factor_moves_the_image_as_named():
    base = torch.tensor([[1, 3, 5, 10, 10]])

    def with_(i, v):
        f = base.clone()
        f[0, i] = v
        return render(f)[0, 0]

    def centroid(img):
        ys, xs = torch.nonzero(img, as_tuple=True)
        return xs.float().mean(), ys.float().mean()

    assert abs(with_(3, 25).sum() - with_(3, 10).sum()) < 10
    assert centroid(with_(3, 25))[0] > centroid(with_(3, 10))[0] + 10
    assert centroid(with_(4, 25))[1] > centroid(with_(4, 10))[1] + 10
    assert with_(1, 5).sum() > 2 * with_(1, 0).sum()  # scale 1 vs 0.5: four times the area
    assert not torch.equal(with_(2, 10), with_(2, 0))  # a quarter turn of an ellipse
    assert len({tuple(with_(0, s).flatten().tolist()) for s in range(3)}) == 3


def test_sprites_loads_through_the_registry_as_generated(monkeypatch):
    """`load_dataset("sprites")` is SPRITES_COUNT sprites from seed 0, split 80/10/10 (fewer here, for speed)."""
    assert DATASETS["sprites"] is load_sprites
    monkeypatch.setattr(sprites, "SPRITES_COUNT", 500)
    loaded, direct = load_dataset("sprites"), make_sprites(500, seed=0)
    assert [len(loaded.split(s)[0]) for s in ("train", "val", "test")] == [400, 50, 50]
    for split in ("train", "val", "test"):
        assert torch.equal(loaded.split(split)[0], direct.split(split)[0])
        assert torch.equal(loaded.factors[split], direct.factors[split])
    assert not torch.equal(load_dataset("sprites", seed=1).factors["test"], direct.factors["test"])


# ---- MIG ------------------------------------------------------------------------------------------
def test_mutual_information_matches_sklearn():
    torch.manual_seed(0)
    factors = sample_factors(2000, 0)
    codes = torch.cat([factors[:, 2:3].double() + torch.randn(2000, 1), torch.randn(2000, 2)], 1)
    binned = discretize(codes, 20)
    mi = mutual_information_matrix(binned, factors, 20)
    for j in range(3):
        for k in range(5):
            assert mi[j, k].item() == pytest.approx(mutual_info_score(binned[:, j], factors[:, k]), abs=1e-10)


def test_mig_is_near_one_for_a_code_that_copies_each_factor():
    factors = sample_factors(5000, 1)
    codes = torch.cat([factors.double() + 0.01 * torch.rand(5000, 5), torch.randn(5000, 3)], 1)
    assert mig(codes, factors, bins=64)["mig"] > 0.95  # enough bins for every factor value
    result = mig(codes, factors)  # 20 bins: 32 or 40 values lose a little in the binning
    assert result["mig"] > 0.85 and min(result["per_factor"][:2]) > 0.98
    assert len(result["mi"]) == 8 and len(result["entropy"]) == 5


def test_mig_is_near_zero_for_random_or_duplicated_codes():
    factors = sample_factors(5000, 2)
    assert mig(torch.randn(5000, 10), factors)["mig"] < 0.03
    twice = torch.cat([factors.double(), factors.double()], 1)  # every factor in two latents: no gap
    assert mig(twice, factors, bins=64)["mig"] < 0.01


def test_mig_refuses_what_it_cannot_score():
    with pytest.raises(VaekitError, match="2 latent"):
        mig(torch.randn(10, 1), torch.zeros(10, 2, dtype=torch.long))
    with pytest.raises(VaekitError, match="one N"):
        mig(torch.randn(10, 3), torch.zeros(9, 2, dtype=torch.long))


def test_mig_of_a_vae_on_sprites_matches_a_sklearn_reference(small):
    """The whole path on a real network: codes in blocks, binning, MI, gaps, against sklearn and scipy."""
    from vaekit.config import ModelConfig
    from vaekit.models import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", channels=(8, 8, 8, 8), hidden=(16,), latent_dim=3, likelihood="bernoulli")
    model = build_model(cfg, (1, 64, 64), 3).eval()
    codes = posterior_means(model, small.train_x, batch_size=70)  # (240, 3), in blocks
    with torch.no_grad():
        torch.testing.assert_close(codes, model.encode(small.train_x).mean, rtol=1e-5, atol=1e-6)
    factors = small.factors["train"].numpy()  # (240, 5)
    binned = discretize(codes.double(), 20).numpy()
    mi = np.array([[mutual_info_score(binned[:, j], factors[:, k]) for k in range(5)] for j in range(3)])  # (3, 5)
    h = np.array([scipy.stats.entropy(np.unique(factors[:, k], return_counts=True)[1]) for k in range(5)])
    top = np.sort(mi, axis=0)[::-1]  # (3, 5), largest first
    expected = (top[0] - top[1]) / h
    result = mig(codes, small.factors["train"])
    np.testing.assert_allclose(result["per_factor"], expected, atol=1e-10)
    assert result["mig"] == pytest.approx(expected.mean(), abs=1e-10) and result["mig"] < 0.5  # untrained: low
