"""The VampPrior VAE: its prior is a mixture of the encoder's posteriors at learned pseudo-inputs.

The generic contract (learns, round-trips, samples, encode/decode shapes) is covered by the
registry-driven tests in test_models.py; here are the VampPrior's own identities.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from tests.test_models import build
from vaekit.data import load_dataset
from vaekit.eval.likelihood import evaluate
from vaekit.models.vampprior import DiagonalGaussianMixture
from vaekit.objectives import ELBO


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_mixture_log_prob_by_matrix_products_matches_torch():
    torch.manual_seed(0)
    loc, scale = torch.randn(30, 6), torch.rand(30, 6) * 0.8 + 0.05  # (K, D)
    logits = torch.randn(30)
    ours = DiagonalGaussianMixture(loc, scale, logits)
    reference = MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, scale), 1))
    z = torch.cat([ours.sample((4, 50)), 3 * torch.randn(4, 50, 6)], dim=1)  # (4, 100, D): near and far points
    assert ours.log_prob(z).shape == (4, 100)
    torch.testing.assert_close(ours.log_prob(z), reference.log_prob(z), rtol=1e-5, atol=2e-3)


def test_prior_is_the_mixture_of_posteriors_at_the_pseudo_inputs(digits):
    model, _, _ = build("vampprior", digits, pseudo_inputs=7)
    prior = model.prior()
    assert isinstance(prior, Distribution) and prior.event_shape == (4,) and prior.batch_shape == ()
    u = model.pseudo_inputs().detach()  # (7, 1, 8, 8)
    assert u.shape == (7, 1, 8, 8) and 0 <= float(u.min()) and float(u.max()) <= 1
    q_u = model.encode(u)  # batch (7,)
    z = torch.randn(20, 4)
    by_hand = torch.logsumexp(q_u.log_prob(z[:, None, :]), dim=1) - math.log(7)  # (20,)
    torch.testing.assert_close(prior.log_prob(z), by_hand, rtol=1e-5, atol=1e-4)
    assert prior.sample((9,)).shape == (9, 4)


def test_elbo_uses_the_one_sample_kl_and_trains_the_pseudo_inputs(digits):
    model, objective, _ = build("vampprior", digits, pseudo_inputs=5)
    assert isinstance(objective, ELBO)
    x = digits.train_x[:32]
    torch.manual_seed(3)
    out = objective(model, x, None, torch.tensor(1.0))
    torch.manual_seed(3)
    q = model.encode(x)
    z = q.rsample()  # the draw the objective made
    torch.testing.assert_close(out.terms["kl"], q.log_prob(z) - model.prior().log_prob(z))
    out.loss.backward()
    assert model.pseudo_raw.grad is not None and model.pseudo_raw.grad.abs().sum() > 0


def test_importance_sampled_nll_is_below_the_negative_elbo(digits):
    model, _, _ = build("vampprior", digits, pseudo_inputs=5)
    result = evaluate(model, digits.test_x[:40], k=200, batch_size=20)
    assert math.isfinite(result["nll"]) and result["nll"] < -result["elbo"]
    assert result["kl"] == pytest.approx(-result["elbo"] - result["recon"], rel=1e-6)
