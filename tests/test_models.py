"""The model registry: every model builds, learns, round-trips and samples; the family's identities.

Generic tests loop over `MODELS`, so a new registry entry is covered without a new test. All
on the embedded 8x8 digits with tiny networks.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from tests.conftest import TINY, TINY_PRIOR_FLAGS
from vaekit.cli import main
from vaekit.config import ModelConfig, RunConfig
from vaekit.data import load_dataset
from vaekit.errors import NoPrior, VaekitError
from vaekit.generate.images import interpolate, sample
from vaekit.models import build_model, build_objective, image_models
from vaekit.objectives import ELBO, IWAE, CapacityELBO, Reconstruction, imq_mmd
from vaekit.train import checkpoint as ckpt
from vaekit.train import load_run


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def tiny_config(name: str, digits, **options) -> RunConfig:
    model = ModelConfig(
        name=name, hidden=(64,), channels=(8, 16), latent_dim=4, likelihood="bernoulli", options=options
    )
    return RunConfig(model=model, image_shape=tuple(digits.image_shape), num_classes=digits.num_classes)


def build(name: str, digits, seed: int = 0, **options):
    torch.manual_seed(seed)
    cfg = tiny_config(name, digits, **options)
    return build_model(cfg.model, cfg.image_shape, cfg.num_classes), build_objective(cfg.model), cfg


@pytest.mark.parametrize("name", image_models())
def test_a_few_steps_lower_the_loss(name, digits):
    model, objective, _ = build(name, digits)
    x, y = digits.train_x[:64], digits.train_y[:64]
    progress = torch.tensor(100.0)  # past every warm-up: the loss measured before and after is the same function

    def loss() -> float:
        torch.manual_seed(1)
        with torch.no_grad():
            return float(objective(model, x, y, progress).loss)

    before = loss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(30):
        out = objective(model, x, y, progress)
        assert out.loss.shape == () and all(v.shape == (64,) for v in out.terms.values())
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()
    assert math.isfinite(before) and loss() < before


@pytest.mark.parametrize("name", image_models())
def test_save_load_round_trip_gives_identical_outputs(name, digits, tmp_path):
    model, _, cfg = build(name, digits, seed=0)
    model.eval()
    cfg.save(tmp_path / "config.json")
    ckpt.save_weights(tmp_path / ckpt.BEST, model)
    torch.manual_seed(123)  # the loaded model starts from other random weights
    loaded, loaded_cfg = load_run(tmp_path)
    assert loaded_cfg == cfg
    x, y = digits.test_x[:16], digits.test_y[:16]
    labels = y if model.num_labels else None
    with torch.no_grad():
        assert torch.equal(model(x, labels), loaded(x, labels))
        assert torch.equal(model.encode(x, labels).mean, loaded.encode(x, labels).mean)


@pytest.mark.parametrize("name", image_models())
def test_samples_have_the_image_shape_or_a_clear_error(name, digits):
    model, _, _ = build(name, digits)
    model.eval()
    labels = torch.arange(5) if model.num_labels else None
    if not model.has_prior:  # AE, a VQ-VAE without its code prior: an error saying what to do
        with pytest.raises(NoPrior, match="vaekit"):
            sample(model, 5)
        return
    images = sample(model, 5, labels=labels)
    assert images.shape == (5, *digits.image_shape)
    assert torch.isfinite(images).all()


@pytest.mark.parametrize("name", image_models())
def test_encode_decode_contract(name, digits):
    model, _, _ = build(name, digits)
    x, y = digits.test_x[:6], digits.test_y[:6]
    labels = y if model.num_labels else None
    q = model.encode(x, labels)
    assert q.batch_shape == (6,) and len(q.event_shape) == 1
    z = q.rsample((3,))  # (3, 6, D)
    p = model.decode(z, labels)
    assert p.batch_shape == (3, 6) and p.event_shape == x.shape[1:]
    assert model(x, labels).shape == x.shape


# -- the family's identities ----------------------------------------------------------------


def test_iwae_with_one_sample_is_the_elbo_on_the_same_draws(digits):
    model, _, _ = build("vae", digits)
    x = digits.test_x[:32]
    torch.manual_seed(5)
    elbo = ELBO()(model, x, None, torch.tensor(0.0))
    torch.manual_seed(5)
    iw = IWAE(k=1)(model, x, None, torch.tensor(0.0))
    torch.manual_seed(5)
    q = model.encode(x)
    z = q.rsample()  # the draw both objectives made
    mc_kl = q.log_prob(z) - model.prior().log_prob(z)  # (B,) the one-sample KL estimate
    assert torch.allclose(iw.terms["recon"], elbo.terms["recon"])  # same z: same reconstruction term
    assert torch.allclose(iw.terms["iwae"], -(elbo.terms["recon"] + mc_kl), atol=1e-5)
    assert torch.allclose(iw.terms["iwae"], iw.terms["elbo"])
    # and over many draws the k=1 bound averages to the closed-form-KL ELBO
    torch.manual_seed(6)
    with torch.no_grad():
        many = torch.stack([IWAE(k=1)(model, x, None, torch.tensor(0.0)).terms["iwae"] for _ in range(400)])  # (400, B)
    elbo_mean = float(elbo.terms["elbo"].detach().mean())
    assert abs(float(many.mean()) - elbo_mean) < 4 * float(many.mean(1).std()) / math.sqrt(400) + 0.05


def test_iwae_bound_rises_with_k(digits):
    model, _, _ = build("iwae", digits)
    x = digits.test_x[:100]
    torch.manual_seed(0)
    with torch.no_grad():
        bounds = [float(IWAE(k)(model, x, None, torch.tensor(0.0)).terms["iwae"].mean()) for k in (1, 10, 100)]
    assert bounds[0] < bounds[1] < bounds[2]


def test_capacity_target_rises_linearly_then_holds(digits):
    objective = CapacityELBO(capacity_max=20.0, capacity_epochs=10.0, gamma=100.0)
    assert [float(objective.capacity(torch.tensor(t))) for t in (0.0, 5.0, 10.0, 30.0)] == [0.0, 10.0, 20.0, 20.0]
    model, _, _ = build("beta-vae", digits, capacity_max=20.0)
    out = objective(model, digits.test_x[:8], None, torch.tensor(5.0))
    assert torch.allclose(out.terms["capacity"], torch.full((8,), 10.0))
    t = out.terms
    assert torch.allclose(out.loss, (t["recon"] + 100.0 * (t["kl"] - 10.0).abs()).mean())


def test_beta_vae_defaults_to_beta_four(digits):
    _, objective, _ = build("beta-vae", digits)
    assert isinstance(objective, ELBO) and objective.beta == 4.0
    _, capacity, _ = build("beta-vae", digits, capacity_max=25.0)
    assert isinstance(capacity, CapacityELBO)


def imq_mmd_reference(a: np.ndarray, b: np.ndarray, scales=(0.1, 0.2, 0.5, 1, 2, 5, 10)) -> float:
    """Unbiased MMD^2 by explicit loops over pairs (Gretton et al. 2012, eq. 3)."""
    n, m, d = len(a), len(b), a.shape[1]
    k = lambda u, v: sum(2 * d * s / (2 * d * s + ((u - v) ** 2).sum()) for s in scales)  # noqa: E731
    aa = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    bb = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    ab = sum(k(a[i], b[j]) for i in range(n) for j in range(m)) / (n * m)
    return aa + bb - 2 * ab


def test_mmd_matches_a_loop_reference_and_is_unbiased():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(1.0, 1.0, size=(9, 3))
    assert math.isclose(float(imq_mmd(torch.tensor(a), torch.tensor(b))), imq_mmd_reference(a, b), rel_tol=1e-9)
    # same distribution: the unbiased estimate averages to zero (a biased one would stay positive)
    torch.manual_seed(0)
    same = torch.stack([imq_mmd(torch.randn(20, 4), torch.randn(20, 4)) for _ in range(300)])
    assert abs(float(same.mean())) < 4 * float(same.std()) / math.sqrt(300)
    assert float(imq_mmd(torch.randn(200, 4), torch.randn(200, 4) + 2.0)) > 0.1


def test_denoising_corrupts_the_input_only_in_training(digits):
    model, _, _ = build("ae", digits)
    x = digits.test_x[:16]
    clean = Reconstruction()(model, x, None, torch.tensor(0.0)).loss
    noisy = Reconstruction(noise=0.5, corruption="mask")
    model.eval()
    assert torch.equal(noisy(model, x, None, torch.tensor(0.0)).loss, clean)  # eval: no corruption
    model.train()
    assert not torch.equal(noisy(model, x, None, torch.tensor(0.0)).loss, clean)
    torch.manual_seed(0)
    masked = noisy.corrupt(torch.ones(10_000))
    assert set(masked.unique().tolist()) == {0.0, 1.0} and abs(float(masked.mean()) - 0.5) < 0.03
    gauss = Reconstruction(noise=0.3).corrupt(torch.full((1000,), 0.5))
    assert 0.0 <= float(gauss.min()) and float(gauss.max()) <= 1.0 and 0.2 < float(gauss.std()) < 0.4


def test_cvae_needs_labels(digits):
    cfg = tiny_config("cvae", digits)
    with pytest.raises(VaekitError, match="class labels"):
        build_model(cfg.model, cfg.image_shape, 0)


def test_autoencoder_interpolates_and_reports_reconstruction(digits):
    model, _, _ = build("ae", digits)
    x = digits.test_x[:4]
    assert interpolate(model, x[:2], x[2:], steps=3).shape == (6, *digits.image_shape)
    from vaekit.eval.likelihood import evaluate

    result = evaluate(model, x)
    assert {"recon", "sse", "bce", "n"} <= set(result) and result["n"] == 4
    assert math.isclose(result["recon"], result["bce"], rel_tol=1e-3)  # Bernoulli: -log p(x|z) is the BCE


# -- the command line, as a user would type it ----------------------------------------------


@pytest.mark.parametrize("name", image_models())
def test_cli_trains_and_uses_each_model(name, tmp_path, capsys):
    """Every image model in MODELS through every command, as a user would: what a model cannot do is
    a one-line error saying what to do instead, and doing that works (sentence models: test_text.py)."""
    run = tmp_path / name
    assert main(["train", name, "--data", "digits", "--epochs", "1", "--out", str(run), *TINY]) == 0
    model, _ = load_run(run)
    assert main(["eval", str(run), "-k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 200 and all(math.isfinite(v) for v in result.values() if isinstance(v, float))
    assert ("nll" in result) != model.own_evaluation  # a likelihood, or the model's own measures
    assert main(["reconstruct", str(run), "-n", "4"]) == 0
    conditional = model.num_labels > 0
    assert main(["interpolate", str(run), "--steps", "3", "--pairs", "1"]) == 0  # a cvae: each path with one label
    assert (run / "interpolations.png").stat().st_size > 1000
    capsys.readouterr()
    args = ["sample", str(run), "-n", "4", "--save-array", str(tmp_path / "s.npy")]
    if not model.has_prior:  # the error says what to do: fit a code prior, or sample from a fitted mixture
        assert main(args) == 2
        advice = capsys.readouterr().err
        if "train-prior" in advice:
            assert main(["train-prior", str(run), *TINY_PRIOR_FLAGS]) == 0
        else:
            assert "--prior gmm:10" in advice
            args += ["--prior", "gmm:2"]
    if conditional:
        assert main(args) == 2  # a conditional model needs --label
        args += ["--label", "7"]
    assert main(args) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 1, 8, 8)


def test_cli_options_reach_the_objective(tmp_path):
    run = tmp_path / "dae"
    assert (
        main(
            ["train", "ae", "--set", "noise=0.3", "--set", "corruption=mask", "--epochs", "1", "--out", str(run), *TINY]
        )
        == 0
    )
    assert RunConfig.load(run / "config.json").model.options == {"noise": 0.3, "corruption": "mask"}
    assert main(["train", "iwae", "--beta", "2", "--epochs", "1", "--out", str(tmp_path / "x"), *TINY]) == 2
    assert main(["train", "ae", "--set", "corruption=blur", "--epochs", "1", "--out", str(tmp_path / "y"), *TINY]) == 2
    cfg = dataclasses.replace(tiny_config("iwae", load_dataset("digits")).model, options={"k": 7})
    assert build_objective(cfg).k == 7


def test_classifier_reads_real_digits(real_data_dir, tmp_path):
    from vaekit.eval.classifier import (
        cache_path,
        label_accuracy,
        load_classifier,
        per_label_accuracy,
        sample_quality,
        train_classifier,
    )

    # A short training (2 epochs on 10,000 images) into a private cache; the full one is 4 epochs on 59,000.
    train_classifier(real_data_dir, verbose=False, cache_dir=tmp_path, epochs=2, limit=10_000)
    assert cache_path(tmp_path).is_file()
    net = load_classifier(real_data_dir, train=False, cache_dir=tmp_path)
    test = load_dataset("mnist", real_data_dir)
    x, y = test.test_x[:1000], test.test_y[:1000]
    assert label_accuracy(x, y, net) > 0.93
    assert set(per_label_accuracy(x, y, net)) == set(range(10))
    with pytest.raises(VaekitError, match="28x28"):
        label_accuracy(torch.zeros(2, 1, 8, 8), torch.zeros(2), net)
    # sample quality: real digits score high; one digit repeated is not varied; noise is not digit-like
    real = sample_quality(x, net)
    # this short-trained classifier is less sure than the cached one
    assert real["mnist_is"] > 6.0 and real["confident"] > 0.5
    assert sample_quality(x[y == 3][:100], net)["mnist_is"] < 1.5
    torch.manual_seed(0)
    assert sample_quality(torch.rand(500, 1, 28, 28), net)["mnist_is"] < real["mnist_is"] / 2


def test_temperature_narrows_gaussian_samples(digits):
    model, _, _ = build("vae", digits)
    model.eval()
    torch.manual_seed(0)
    cold, warm = sample(model, 16, temperature=1e-4), sample(model, 16)
    assert (cold - cold[:1]).abs().max() < 1e-3  # every draw is (almost) the prior mean
    assert (warm - warm[:1]).abs().max() > 1e-2
