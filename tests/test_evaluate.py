"""The importance-sampled likelihood: it is the ELBO at K=1 in expectation and rises with K."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import kl_divergence

from vaekit.data import load_dataset
from vaekit.eval.latent import active_units
from vaekit.eval.likelihood import bits_per_dim, evaluate, log_weights
from vaekit.train import load_run


@pytest.fixture(scope="module")
def trained(digits_run):
    model, _ = load_run(digits_run)
    return model, load_dataset("digits").test_x


def test_k1_bound_is_the_elbo_in_expectation(trained):
    model, x = trained
    torch.manual_seed(0)
    log_w, log_px, q = log_weights(model, x, None, k=4000, max_elements=1 << 24)  # (K, B) each
    k1_bound = log_w.double().mean(0)  # E[log w] for K=1, per image
    # An independent route to the ELBO: fresh draws for the reconstruction term, closed-form KL.
    torch.manual_seed(1)
    z = q.sample((4000,))
    elbo = model.decode(z).log_prob(x).double().mean(0) - kl_divergence(q, model.prior()).double()
    per_image_se = log_w.double().std(0) / math.sqrt(4000)
    assert (k1_bound - elbo).abs().mean() < 4 * per_image_se.mean()
    assert (k1_bound.mean() - elbo.mean()).abs() < 0.05


def test_bound_rises_with_k(trained):
    model, x = trained
    nll = [evaluate(model, x, k=k, seed=3)["nll"] for k in (1, 10, 100)]
    assert nll[0] > nll[1] > nll[2]
    result = evaluate(model, x, k=100, seed=3)
    assert result["nll"] <= -result["elbo"]


def test_chunking_to_a_memory_budget_changes_nothing_but_speed(trained):
    model, x = trained
    whole = evaluate(model, x, k=200, seed=5)
    chunked = evaluate(model, x, k=200, seed=5, max_elements=x[0].numel() * 4 * 7 * 200, batch_size=50)
    assert chunked["nll"] == pytest.approx(whole["nll"], abs=0.15)
    assert chunked["kl"] == pytest.approx(whole["kl"], rel=1e-5)
    assert chunked["active_units"] == whole["active_units"]


def test_bits_per_dim_and_active_units():
    assert bits_per_dim(784 * math.log(2), 784, discrete=True) == pytest.approx(1.0)
    assert bits_per_dim(0.0, 10, discrete=False) == pytest.approx(8.0)  # a flat density on [0,1] = 8 bits/pixel
    means = torch.zeros(1000, 4)
    means[:, 0] = torch.randn(1000)
    means[:, 1] = 0.05 * torch.randn(1000)  # variance 0.0025 < 0.01: inactive
    assert active_units(means) == 1


def test_the_nll_in_float32_matches_a_float64_reference(trained):
    """The reported figure does not depend on the arithmetic: float64 is the reference, and the
    model passed in is left as it was (evaluate casts a copy)."""
    model, x = trained
    ref = evaluate(model, x, k=500, precision="float64")
    assert next(model.parameters()).dtype == torch.float32
    assert evaluate(model, x, k=500)["nll"] == pytest.approx(ref["nll"], abs=0.005)
    assert evaluate(model, x, k=500, precision="bf16")["nll"] == pytest.approx(ref["nll"], abs=0.1)
