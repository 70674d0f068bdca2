"""The model contract as code: every model in `MODELS` keeps it, and every prior is a torch Distribution.

Driven by the registry, so a new model is checked without a new test: it declares its
capabilities (has_prior, num_labels, own_evaluation), and whatever it offers as p(z) samples and
scores its own samples. The same holds for the mixture of `vaekit sample --prior gmm:K` and the
VQ-VAE's code prior.
"""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from torch.distributions import Distribution, MixtureSameFamily

from vaekit.classical import GaussianMixture
from vaekit.config import ModelConfig
from vaekit.errors import NoPrior
from vaekit.models import build_model, image_models
from vaekit.models.code_prior import CodeGridPrior, CodePrior
from vaekit.models.contract import LatentVariableModel, check_model
from vaekit.models.vqvae import VQVAE
from vaekit.nn.heads import PointMass

SHAPE = (1, 8, 8)


def tiny(name: str):
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, hidden=(32,), channels=(8, 16), latent_dim=4, likelihood="bernoulli")
    return build_model(cfg, SHAPE, 10).eval()


def with_code_prior(model: VQVAE) -> VQVAE:
    """The VQ-VAE with an (untrained) code prior attached, as `load_run` attaches a fitted one."""
    grid = model.code_grid
    model.attach_prior(CodePrior(grid.num_codes, grid.hw, dim=16, layers=1, heads=2).eval())
    return model


def priors() -> list:
    """Every image model in MODELS that has a prior (the VQ-VAE with its code prior attached);
    the sentence models are checked in tests/test_text.py."""
    models = {name: tiny(name) for name in image_models()}
    models = {name: with_code_prior(m) if m.trainable_prior else m for name, m in models.items()}
    return [pytest.param(model, id=name) for name, model in models.items() if model.has_prior]


@pytest.mark.parametrize("name", image_models())
def test_every_model_keeps_the_contract(name):
    model = tiny(name)
    check_model(model)  # raises naming what is missing
    assert isinstance(model, LatentVariableModel)
    assert model.num_labels == (10 if name == "cvae" else 0)
    x = torch.rand(3, *SHAPE)
    y = torch.arange(3) if model.num_labels else None
    q = model.encode(x, y)
    assert isinstance(q, Distribution) and isinstance(model.decode(q.mean, y), Distribution)
    if model.own_evaluation:  # a point-mass encoder: its own measures instead of a likelihood
        assert isinstance(q, PointMass)
        assert {"recon", "n"} <= set(model.evaluate_split(x, y, batch_size=2))
    if not model.has_prior:
        with pytest.raises(NoPrior, match="vaekit"):
            model.prior()
    assert (model.prior_words == "none") == (not model.has_prior)  # titles say what samples came from
    expected = {"hvae": "p(z2) p(z1|z2)", "hiwae": "p(z2) p(z1|z2)", "vampprior": "VampPrior", "cvae": "p(z|y)"}
    if name in expected:  # not the standard normal: a title saying N(0, I) would be wrong
        assert expected[name] in model.prior_words
    assert model.data_kind == "images"
    assert (model.code_kind, model.trainable_prior) == (("grid", True) if name == "vqvae" else ("continuous", False))
    if model.code_kind == "grid":  # the codes(x) the contract promises fill the declared grid
        grid = model.code_grid
        codes = model.codes(x)
        assert codes.shape == (3, *grid.hw) and 0 <= int(codes.min()) and int(codes.max()) < grid.num_codes
        assert q.event_shape == (math.prod(grid.shape),)


def test_check_model_names_a_wrong_or_missing_capability():
    model = tiny("vae")
    model.code_kind = "discrete"  # not one of CODE_KINDS
    with pytest.raises(TypeError, match="code_kind 'discrete'"):
        check_model(model)
    model.code_kind = "grid"  # a grid of codes, but no code_grid / codes(x)
    with pytest.raises(TypeError, match="code_grid"):
        check_model(model)


def test_check_model_names_what_is_missing():
    class HalfModel(torch.nn.Module):
        num_labels, has_prior = 0, False

        def encode(self, x, y=None):
            return PointMass(x.flatten(1))

    with pytest.raises(TypeError, match="decode.*prior.*own_evaluation"):
        check_model(HalfModel())


@pytest.mark.parametrize("model", priors())
def test_every_prior_is_a_distribution_that_scores_its_own_samples(model):
    prior = model.prior()
    assert isinstance(prior, Distribution)
    z = prior.sample((6,))
    assert z.shape == (6, *prior.event_shape)
    log_p = prior.log_prob(z)
    assert log_p.shape == (6,) and torch.isfinite(log_p).all()
    labels = torch.arange(6) % model.num_labels if model.num_labels else None
    x = model.decode(z, labels).mean  # the samples decode to images
    assert x.shape == (6, *SHAPE) and torch.isfinite(x).all()


def test_code_grid_prior_log_prob_is_the_code_grid_log_likelihood():
    model = with_code_prior(tiny("vqvae"))
    prior = model.prior()
    assert isinstance(prior, CodeGridPrior) and prior.event_shape == (math.prod(model.grid),)
    torch.manual_seed(3)
    codes = torch.randint(model.quantizer.num_codes, (5, *model.grid[1:]))  # (5, h, w)
    z = model.quantizer.lookup(codes).flatten(1)  # the grids' code vectors, (5, D*h*w)
    torch.testing.assert_close(prior.log_prob(z), model.code_prior.log_prob(codes))
    # Tempering changes sampling and scoring alike: each cell from softmax(logits / T).
    hot = prior.tempered(2.0)
    logits = model.code_prior(codes) / 2.0  # (5, h*w, K)
    by_hand = logits.log_softmax(-1).gather(-1, codes.flatten(1)[..., None]).squeeze(-1).sum(1)
    torch.testing.assert_close(hot.log_prob(z), by_hand)
    # Draws are codebook grids: z -> codes -> z is exact.
    draws = hot.sample((4,))
    again = model.quantizer.lookup(model.quantizer.quantize(draws.view(4, *model.grid))).flatten(1)
    assert torch.equal(draws, again)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fitted_mixture_as_a_distribution_matches_score_samples_and_sklearn(covariance_type):
    """The prior of `vaekit sample --prior gmm:K`: a MixtureSameFamily whose log_prob is the mixture's."""
    torch.manual_seed(0)
    codes = torch.cat([torch.randn(150, 3) * 0.5 + 2.0, torch.randn(150, 3) - 1.0]).double()  # (300, 3)
    gmm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0).fit(codes)
    prior = gmm.to_distribution(torch.float64)
    assert isinstance(prior, MixtureSameFamily) and prior.event_shape == (3,)
    torch.testing.assert_close(prior.log_prob(codes), gmm.score_samples(codes))
    reference = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(codes.numpy())
    assert abs(prior.log_prob(codes).mean().item() - reference.score(codes.numpy())) < 1e-3
    z = gmm.to_distribution().sample((500,))  # float32 draws for the decoder
    assert z.dtype == torch.float32 and torch.isfinite(prior.log_prob(z.double())).all()
    assert torch.allclose(z.mean(0).double(), codes.mean(0), atol=0.2)


def test_point_mass_log_prob_is_a_delta():
    """As Pyro's Delta: log 1 = 0 at the point, log 0 = -inf elsewhere, summed over the event dims."""
    loc = torch.tensor([[0.5, -1.0], [2.0, 3.0]])  # batch (2,), event (2,)
    q = PointMass(loc)
    assert torch.equal(q.log_prob(loc), torch.zeros(2))
    assert torch.equal(q.log_prob(q.sample((3,))), torch.zeros(3, 2))
    moved = loc + torch.tensor([[0.0, 1e-3], [0.0, 0.0]])
    assert q.log_prob(moved).tolist() == [-math.inf, 0.0]
