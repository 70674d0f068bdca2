"""Naive Monte Carlo evidence (z from the prior) and the per-image ELBO gap, against exact answers.

A linear-Gaussian model has everything in closed form: log p(x) = log N(x; b, W W^T + s^2 I), the
posterior p(z|x), hence KL(q(z|x) || p(z|x)) for any Gaussian q. Both estimators must find them.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Laplace, MultivariateNormal, Normal

from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.eval.likelihood import evaluate
from vaekit.eval.naive_mc import log_likelihood_matrix, prior_sampling_evidence
from vaekit.eval.posterior_gap import posterior_sampling_evidence


class LinearGaussian(nn.Module):
    """z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I) as a 1x2x2 image; q(z|x) a deliberately imperfect Gaussian."""

    num_labels, has_prior, own_evaluation, latent_dim = 0, True, False, 2

    def __init__(self, s: float = 0.6):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w, self.b, self.s = torch.randn(4, 2, generator=g), torch.randn(4, generator=g), s
        self.post_cov = torch.linalg.inv(torch.eye(2) + self.w.T @ self.w / s**2)
        self.post_map = self.w @ self.post_cov / s**2  # (4, 2): E[z|x] = (x - b) @ post_map

    def prior(self, y=None):
        return Independent(Normal(torch.zeros(2), torch.ones(2)), 1)

    def decode(self, z, y=None):
        mean = (z @ self.w.T + self.b).reshape(*z.shape[:-1], 1, 2, 2)
        return Independent(Normal(mean, torch.full_like(mean, self.s)), 3)

    def encode(self, x, y=None):
        """Shifted by 0.3 and 1.3 times wider than the true posterior: imperfect, but a fine proposal."""
        loc = (x.flatten(1) - self.b) @ self.post_map + 0.3  # (B, 2)
        return Independent(Normal(loc, 1.3 * self.post_cov.diagonal().sqrt().expand_as(loc)), 1)

    def exact_log_px(self, x):
        cov = self.w @ self.w.T + self.s**2 * torch.eye(4)
        return MultivariateNormal(self.b, cov).log_prob(x.flatten(1))

    def exact_gap(self, x):
        """KL(q(z|x) || p(z|x)) in closed form."""
        mean = (x.flatten(1) - self.b) @ self.post_map  # (B, 2)
        q = self.encode(x)
        q_mvn = MultivariateNormal(q.mean, torch.diag_embed(q.variance))
        return torch.distributions.kl_divergence(q_mvn, MultivariateNormal(mean, self.post_cov))


@pytest.fixture(scope="module")
def linear():
    model = LinearGaussian()
    torch.manual_seed(1)
    x = model.decode(model.prior().sample((20,))).sample()  # (20, 1, 2, 2) from the model itself
    return model, x


def test_likelihood_matrix_matches_log_prob_for_every_decoder():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 3, 4)  # grey images in [0, 1]
    decoders = [
        Independent(Bernoulli(logits=torch.randn(7, 1, 3, 4), validate_args=False), 3),
        Independent(Normal(torch.rand(7, 1, 3, 4), 0.05 + torch.rand(7, 1, 3, 4)), 3),
        Independent(Laplace(torch.rand(7, 1, 3, 4), 0.5 + torch.rand(7, 1, 3, 4)), 3),
    ]  # the generic path
    for px in decoders:
        expected = torch.stack([px.log_prob(image) for image in x], dim=1)  # (K, B)
        assert torch.allclose(log_likelihood_matrix(px, x), expected, rtol=1e-5, atol=1e-4)


def test_prior_sampling_finds_the_exact_evidence(linear):
    model, x = linear
    est = prior_sampling_evidence(model, x, ks=[100, 200_000], repeats=2, chunk=50_000)  # (2, 2, B)
    assert est.shape == (2, 2, 20)
    exact = model.exact_log_px(x).double()
    assert (est[:, 1] - exact).abs().max() < 0.05  # 2-D latent, little information: naive MC works here
    assert (est[:, 1] - exact).abs().mean() < (est[:, 0] - exact).abs().mean()  # and improves with K


def test_posterior_sampling_finds_the_evidence_and_the_gap(linear):
    model, x = linear
    r = posterior_sampling_evidence(model, x, ks=[1, 10, 20_000], repeats=2)
    assert (r["log_px"] - model.exact_log_px(x).double()).abs().max() < 0.05
    assert (r["gap"] - model.exact_gap(x).double()).abs().max() < 0.05  # log p(x) - ELBO = KL(q || p(z|x))
    k1, k10, k20000 = r["estimates"].mean((0, 2))  # averaged over repeats and images
    assert k1 < k10 < k20000  # the bound rises with K
    assert (r["kl_posterior_prior"] > 0).all()


def test_eval_with_the_prior_as_proposal_is_further_off_at_equal_k(digits_run, capsys):
    args = ["eval", str(digits_run), "--limit", "100", "-k", "10", "--json", "--seed", "0"]
    assert main(args) == 0
    posterior = json.loads(capsys.readouterr().out)
    assert main([*args, "--proposal", "prior"]) == 0
    prior = json.loads(capsys.readouterr().out)
    assert prior["proposal"] == "prior" and posterior["proposal"] == "posterior"
    kept = digits_run / "eval-test-best-k10-first100-prior.json", digits_run / "eval-test-best-k10-first100.json"
    assert all(path.is_file() for path in kept)  # one file per checkpoint, K, image count and proposal
    assert prior["nll"] > posterior["nll"] + 0.2  # 10 codes from p(z) explain x worse than 10 from q(z|x)
    assert prior["kl"] == pytest.approx(posterior["kl"], rel=1e-4)  # the ELBO terms still come from q


def test_prior_proposal_refuses_models_without_a_likelihood():
    from vaekit.config import ModelConfig
    from vaekit.models import build_model

    ae = build_model(ModelConfig(name="ae", hidden=(16,), latent_dim=2, likelihood="bernoulli"), (1, 4, 4), 0)
    with pytest.raises(VaekitError, match="proposal prior"):
        evaluate(ae, torch.rand(3, 1, 4, 4), k=10, proposal="prior")
    with pytest.raises(VaekitError, match="unknown proposal"):
        evaluate(ae, torch.rand(3, 1, 4, 4), k=10, proposal="uniform")
    assert math.isfinite(evaluate(LinearGaussian(), torch.rand(3, 1, 2, 2), k=10, proposal="prior")["nll"])
