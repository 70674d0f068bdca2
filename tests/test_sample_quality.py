"""The Fréchet distance: exact on Gaussians, ~0 for real vs real, large for noise; reported by `vaekit eval`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.linalg
import torch

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.eval.classifier import load_classifier
from vaekit.eval.sample_quality import feature_distance, frechet_distance, gaussian_stats, sample_quality


def _random_cov(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_of_gaussians_matches_closed_forms():
    rng = np.random.default_rng(0)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == pytest.approx(
        9.0 + 1.0
    )
    # diagonal covariances commute: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # full covariances: against scipy's general matrix square root
    c1, c2 = _random_cov(6, rng), _random_cov(6, rng)
    reference = ((mu1[:1] - mu2[:1]) ** 2).sum() + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(np.r_[mu1[:1], np.zeros(5)], c1, np.r_[mu2[:1], np.zeros(5)], c2) == pytest.approx(
        reference, rel=1e-8
    )
    # a distance: zero on itself, symmetric
    assert frechet_distance(mu1, c1[:5, :5], mu1, c1[:5, :5]) == pytest.approx(0.0, abs=1e-9)
    forth, back = frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), frechet_distance(mu2, np.diag(b), mu1, np.diag(a))
    assert forth == pytest.approx(back)


def test_sample_statistics_approach_the_gaussians_distance():
    rng = np.random.default_rng(1)
    c1, c2 = _random_cov(4, rng), _random_cov(4, rng)
    mu1, mu2 = np.zeros(4), np.full(4, 0.5)
    x = rng.multivariate_normal(mu1, c1, size=40_000)
    y = rng.multivariate_normal(mu2, c2, size=40_000)
    exact = frechet_distance(mu1, c1, mu2, c2)
    assert feature_distance(x, y) == pytest.approx(exact, rel=0.03)
    _, cov = gaussian_stats(x)
    np.testing.assert_allclose(cov, np.cov(x.T), rtol=1e-12)
    with pytest.raises(VaekitError, match="at least 2"):
        gaussian_stats(x[:1])


def test_singular_covariances_give_a_finite_distance():
    """Fewer images than features: the covariances are singular; the distance stays real and >= 0."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 50)), rng.normal(size=(10, 50)) + 1.0
    d = feature_distance(x, y)
    assert np.isfinite(d) and d > feature_distance(x, x[::-1]) == pytest.approx(0.0, abs=1e-8)


FLOOR = "FID: real training vs real test images (the floor)"


@pytest.fixture(scope="module")
def classifier_cache(real_data_dir, tmp_path_factory):
    """A short-trained MNIST classifier (1 epoch, 6000 images) in a private cache folder."""
    from vaekit.eval.classifier import train_classifier

    cache = tmp_path_factory.mktemp("cache")
    train_classifier(real_data_dir, verbose=False, cache_dir=cache, epochs=1, limit=6000)
    return cache


def test_real_against_real_is_near_zero_and_noise_is_far(classifier_cache, real_data_dir):
    from vaekit.eval.classifier import load_classifier

    net = load_classifier(real_data_dir, train=False, cache_dir=classifier_cache)
    assert net.info["dataset"] == "mnist" and 0.8 < net.info["test_accuracy"] <= 1.0
    data = load_dataset("mnist", real_data_dir)
    test, train = data.test_x[:2000], data.train_x[:2000]
    torch.manual_seed(0)
    noise = torch.rand(2000, 1, 28, 28)
    q = sample_quality(noise, test, train, net)
    assert q["samples"] == 2000 and q["real_images"] == 2000 and q["classifier"] == "mnist-cnn"
    assert q["fid"] > 50 * q["fid_real"]  # noise is far from digits; two sets of real digits are close
    assert sample_quality(test[1000:], test[:1000], train, net)["fid"] < 5 * q["fid_real"] + 1e-9
    assert q["inception_score_real"] > 5 and q["inception_score"] < q["inception_score_real"]
    blurred = torch.nn.functional.avg_pool2d(test, 3, 1, 1)  # a worse "model": further than real, nearer than noise
    fid_blur = sample_quality(blurred, test, train, net)["fid"]
    assert q["fid_real"] < fid_blur < q["fid"]


@pytest.fixture(scope="module")
def mnist_run(real_data_dir, tmp_path_factory):
    """A tiny VAE trained for one epoch on MNIST."""
    run = tmp_path_factory.mktemp("runs") / "vae-mnist"
    flags = ["--epochs", "1", "--batch-size", "200", "--out", str(run), "--data-dir", str(real_data_dir), *TINY]
    assert main(["train", "vae", "--data", "mnist", *flags]) == 0
    return run


def test_eval_reports_fid_per_checkpoint_and_k(classifier_cache, mnist_run, real_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(classifier_cache))
    run = mnist_run
    base = ["eval", str(run), "--limit", "100", "--fid-samples", "500"]
    assert main([*base, "-k", "5"]) == 0
    table = capsys.readouterr().out
    assert "FID" in table and "500 prior samples" in table and "mnist-cnn classifier" in table
    assert main([*base, "-k", "7", "--which", "last", "--json"]) == 0
    best = json.loads((run / "eval-test-best-k5-first100.json").read_text())
    last = json.loads((run / "eval-test-last-k7-first100.json").read_text())
    assert (best["k"], last["k"]) == (5, 7)
    assert best["checkpoint"]["file"] == "model.safetensors" and last["checkpoint"]["file"] == "last.safetensors"
    assert len(best["checkpoint"]["sha256"]) == 64 and best["checkpoint"]["epoch"] == 1
    q = best["sample_quality"]
    assert q["samples"] == 500 and q["real_images"] == 500 and q["fid"] > q["fid_real"] > 0
    assert q["classifier_test_accuracy"] == pytest.approx(
        json.loads(capsys.readouterr().out.splitlines()[-1])["sample_quality"]["classifier_test_accuracy"]
    )
    assert main(["eval", str(run), "--fid-samples", "1"]) == 2
    # the function behind it, as the report calls it: a colder prior gives other samples, measured alike
    from vaekit.eval.sample_quality import measure
    from vaekit.models import load_run

    model, _ = load_run(run)
    cold = measure(model, "mnist", 500, data_dir=real_data_dir, cache_dir=classifier_cache, temperature=0.5)
    assert cold["samples"] == 500 and cold["fid_real"] == pytest.approx(q["fid_real"])
    assert cold["fid"] != pytest.approx(q["fid"])


def test_the_report_states_fid_floor_score_accuracy_and_count(classifier_cache, mnist_run, monkeypatch, tmp_path):
    from tests.test_report import read_page
    from vaekit.report import build_report

    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(classifier_cache))
    out = build_report(mnist_run, tmp_path / "r.html", limit=100, iw_samples=2, fid_samples=300)
    assert read_page(out).sections["sample-quality"] == "shown"
    text = out.read_text(encoding="utf-8")
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="value">([^<]+)</td>', text))
    fid, floor = float(rows["FID: prior samples vs real test images"]), float(rows[FLOOR])
    assert fid > floor > 0
    assert 1 <= float(rows["classifier score of the samples"]) < float(rows["classifier score of real test images"])
    assert rows["prior samples compared"].startswith("300 ") and rows["real test images compared"] == "300"
    accuracy = load_classifier(train=False, cache_dir=classifier_cache).info["test_accuracy"]
    assert rows["the classifier&#x27;s test accuracy"] == f"{accuracy:.2%}"
    skipped = build_report(mnist_run, tmp_path / "none.html", limit=100, iw_samples=2, fid_samples=0)
    assert "Not shown for this run: switched off (--fid-samples 0)" in skipped.read_text(encoding="utf-8")
