"""vaekit.classical: the pure EM/VI math against references, the estimators against
scikit-learn and the SVD, monotone EM and VI traces, and the ELBO identity on probabilistic PCA."""

import doctest

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA as SkPCA
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from torch.distributions import Independent, MultivariateNormal, Normal, Wishart

from vaekit.classical import PCA, GaussianMixture, LinearGaussianModel, VariationalGaussianMixture, gmm, pca
from vaekit.classical import _gaussian as G
from vaekit.classical import _wishart as W
from vaekit.errors import VaekitError
from vaekit.info import gaussian_kl

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def digits10():
    """Real data: the 8x8 digits projected on 10 principal axes."""
    X = load_digits().data.astype(np.float64)
    return PCA(10).fit_transform(X)


def _monotone(trace, rel=1e-10):
    t = np.asarray(trace)
    return np.all(np.diff(t) >= -rel * np.abs(t[1:]).max())


# ---------------------------------------------------------------- pure math vs references
def _random_params(rng, cov_type, k=3, d=4):
    means = rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    full = a @ a.transpose(0, 2, 1) + 0.3 * np.eye(d)
    cov = {"full": full, "tied": full[0], "diag": rng.uniform(0.2, 2, (k, d)), "spherical": rng.uniform(0.2, 2, k)}[
        cov_type
    ]
    dense = {
        "full": full,
        "tied": np.stack([full[0]] * k),
        "diag": np.stack([np.diag(c) for c in cov]) if cov_type == "diag" else None,
        "spherical": np.stack([c * np.eye(d) for c in cov]) if cov_type == "spherical" else None,
    }
    return means, cov, dense[cov_type]


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_gaussian_prob_matches_scipy(cov_type):
    rng = np.random.default_rng(0)
    means, cov, dense = _random_params(rng, cov_type)
    X = rng.normal(size=(50, 4))
    pc = G.precision_cholesky(torch.tensor(cov), cov_type)
    out = G.log_gaussian_prob(torch.tensor(X), torch.tensor(means), pc, cov_type).numpy()
    ref = np.stack([scipy.stats.multivariate_normal(m, c).logpdf(X) for m, c in zip(means, dense)], 1)
    np.testing.assert_allclose(out, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_m_step_statistics_match_weighted_numpy(cov_type):
    rng = np.random.default_rng(1)
    X, resp = rng.normal(size=(40, 3)), rng.dirichlet(np.ones(2), 40)
    nk, means, cov = (t.numpy() for t in G.gaussian_statistics(torch.tensor(X), torch.tensor(resp), 0.0, cov_type))
    np.testing.assert_allclose(nk, resp.sum(0), atol=1e-12)
    full = np.stack([np.cov(X.T, aweights=r, bias=True) for r in resp.T])
    np.testing.assert_allclose(means, resp.T @ X / resp.sum(0)[:, None], atol=1e-12)
    ref = {
        "full": full,
        "tied": (full * nk[:, None, None]).sum(0) / nk.sum(),
        "diag": np.diagonal(full, axis1=1, axis2=2),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(1),
    }[cov_type]
    np.testing.assert_allclose(cov, ref, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Singular sample")
def test_wishart_expectations_and_kl_match_monte_carlo():
    torch.manual_seed(0)
    d = 3
    a = torch.randn(2, d, d, dtype=torch.float64)
    w = a @ a.mT / d + 0.2 * torch.eye(d)  # two scale matrices
    nu = torch.tensor([5.0, 8.0], dtype=torch.float64)
    w0_inv, nu0 = torch.eye(d, dtype=torch.float64) * 2, 4.0
    q = Wishart(nu, covariance_matrix=w)
    p = Wishart(torch.tensor(nu0, dtype=torch.float64), covariance_matrix=torch.linalg.inv(w0_inv))
    lam = q.sample((20_000,))  # (S, 2, d, d)
    log_det_w = torch.logdet(w)
    mc_log_det = torch.logdet(lam)
    assert torch.allclose(W.expected_log_det(log_det_w, nu, d), mc_log_det.mean(0), atol=0.03)
    ratio = q.log_prob(lam) - p.log_prob(lam)
    kl = W.wishart_kl(log_det_w, nu, w, -torch.logdet(w0_inv), nu0, w0_inv)
    assert ((kl - ratio.mean(0)).abs() < 5 * ratio.std(0) / 20_000**0.5).all()
    # the log-normalizer is torch's log_prob at Lambda = I, minus the trace term
    log_b = W.log_wishart_norm(log_det_w, nu, d)
    eye = torch.eye(d, dtype=torch.float64)
    ref = q.log_prob(eye) + 0.5 * torch.einsum("kii->k", torch.linalg.inv(w))
    torch.testing.assert_close(log_b, ref)


# ---------------------------------------------------------------- PCA
def test_pca_equals_the_svd_solution_and_sklearn():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6))
    model = PCA(4).fit(X)
    u, s, vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    signs = np.sign(np.sum(model.components_ * vt[:4], 1))
    np.testing.assert_allclose(model.components_, vt[:4] * signs[:, None], atol=1e-10)
    np.testing.assert_allclose(model.transform(X), (u * s)[:, :4] * signs, atol=1e-10)
    np.testing.assert_allclose(model.explained_variance_ratio_, (s**2 / (s**2).sum())[:4], atol=1e-12)
    sk = SkPCA(4).fit(X)
    np.testing.assert_allclose(np.abs(model.components_), np.abs(sk.components_), atol=1e-10)
    np.testing.assert_allclose(model.explained_variance_, sk.explained_variance_, atol=1e-10)
    full = PCA().fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, atol=1e-10)


def test_pca_keeps_tensors_and_rejects_bad_sizes():
    X = torch.randn(30, 5, dtype=torch.float32)
    Z = PCA(2).fit(X).transform(X)
    assert isinstance(Z, torch.Tensor) and Z.shape == (30, 2)
    with pytest.raises(ValueError, match="n_components"):
        PCA(6).fit(X)
    with pytest.raises(VaekitError, match="not fitted"):
        PCA(2).transform(X)


# ---------------------------------------------------------------- GaussianMixture (EM)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_em_reaches_sklearn_log_likelihood_with_a_monotone_trace(cov_type, digits10):
    ours = GaussianMixture(6, covariance_type=cov_type, n_init=2, random_state=0).fit(digits10)
    ref = SkGaussianMixture(6, covariance_type=cov_type, n_init=2, random_state=0).fit(digits10)
    assert ours.score(digits10) >= ref.score(digits10) - 0.01
    assert ours.lower_bound_ == pytest.approx(ours.score(digits10), abs=1e-3)
    assert _monotone(ours.lower_bounds_) and ours.converged_
    assert ours.n_iter_ == len(ours.lower_bounds_)
    assert ours.covariances_.shape == ref.covariances_.shape
    assert ours.weights_.sum() == pytest.approx(1.0)


def test_em_fitted_api_bic_aic_and_kinds():
    X, _ = make_blobs(300, n_features=3, centers=3, random_state=0)
    gm = GaussianMixture(3, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    assert np.allclose(proba.sum(1), 1) and (gm.predict(X) == proba.argmax(1)).all()
    n, p = len(X), 3 * 6 + 3 * 3 + 2
    assert gm.bic(X) == pytest.approx(-2 * gm.score(X) * n + p * np.log(n))
    assert gm.aic(X) == pytest.approx(-2 * gm.score(X) * n + 2 * p)
    np.testing.assert_allclose(gm.score_samples(X).mean(), gm.score(X))
    xs, labels = gm.sample(50)
    assert isinstance(xs, np.ndarray) and xs.shape == (50, 3) and labels.shape == (50,)
    gt = GaussianMixture(3, random_state=0).fit(torch.tensor(X, dtype=torch.float32))
    xs, labels = gt.sample(1000)
    assert isinstance(xs, torch.Tensor) and isinstance(gt.means_, torch.Tensor)
    assert gt.score(xs) == pytest.approx(gt.score(X), abs=0.3)  # its own samples look alike


def test_em_survives_fifty_dimensions_and_a_tiny_cluster():
    rng = np.random.default_rng(3)
    big = rng.normal(size=(2000, 50)) * rng.uniform(0.5, 3, 50)
    tiny = 1e3 + 1e-3 * rng.normal(size=(6, 50))  # 6 points, spread 1e-3, far away
    X = np.concatenate([big, tiny, rng.normal(size=(500, 50)) + 10])
    for cov_type in ("full", "diag"):
        gm = GaussianMixture(3, covariance_type=cov_type, random_state=0, init="kmeans++").fit(X)
        assert np.isfinite(gm.score_samples(X)).all() and _monotone(gm.lower_bounds_)
        assert (gm.predict(tiny) == gm.predict(tiny)[0]).all()
        assert np.isclose(gm.weights_.min(), 6 / len(X), rtol=1e-3)


def test_em_random_init_and_errors():
    X, _ = make_blobs(200, n_features=2, centers=2, random_state=1)
    gm = GaussianMixture(2, init="random", random_state=0, max_iter=300).fit(X)
    assert _monotone(gm.lower_bounds_)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banded").fit(X)
    with pytest.raises(ValueError, match="samples"):
        GaussianMixture(5).fit(X[:3])
    with pytest.raises(ValueError, match="features"):
        gm.predict(X[:, :1])


# ---------------------------------------------------------------- VariationalGaussianMixture
def test_vi_elbo_is_monotone_and_switches_off_unneeded_components():
    X, _ = make_blobs(600, n_features=3, centers=3, random_state=2)
    vi = VariationalGaussianMixture(8, random_state=2).fit(X)
    assert vi.converged_ and _monotone(vi.lower_bounds_, rel=1e-12)
    assert (vi.weights_ > 0.01).sum() == 3
    assert vi.weight_concentration_.shape == (8,) and vi.covariances_.shape == (8, 3, 3)
    proba = vi.predict_proba(X)
    assert np.allclose(proba.sum(1), 1)
    assert np.isfinite(vi.score(X))
    xs, labels = vi.sample(20)
    assert xs.shape == (20, 3) and set(labels.tolist()) <= set(np.flatnonzero(vi.weights_ > 1e-3))


def test_vi_elbo_is_below_the_em_log_likelihood(digits10):
    vi = VariationalGaussianMixture(6, random_state=0, max_iter=100, tol=1e-4).fit(digits10)
    em = GaussianMixture(6, random_state=0).fit(digits10)
    assert _monotone(vi.lower_bounds_, rel=1e-12)
    assert vi.lower_bound_ < em.lower_bound_
    with pytest.raises(ValueError, match="full"):
        VariationalGaussianMixture(2, covariance_type="diag").fit(digits10)


# ---------------------------------------------------------------- LinearGaussianModel
def _random_model(rng, d=5, m=2):
    return LinearGaussianModel.from_params(rng.normal(size=(d, m)), rng.normal(size=d), rng.uniform(0.1, 1.0))


@pytest.mark.parametrize("seed", range(5))
def test_elbo_identity_on_random_models_and_random_q(seed):
    rng = np.random.default_rng(seed)
    model = _random_model(rng)
    X = rng.normal(size=(7, 5)) * 2
    post = model.posterior(X)
    log_px = model.log_prob(X)
    mu = rng.normal(size=(7, 2))
    a = rng.normal(size=(7, 2, 2))
    cov = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(2)
    var = rng.uniform(0.05, 2, (7, 2))
    pm, pc = post.mean.numpy(), post.covariance_matrix.numpy()
    for q, qcov in [((mu, cov), cov), ((mu, var), var)]:
        gap = log_px - model.elbo(X, q) - gaussian_kl(mu, qcov, pm, pc)
        assert np.abs(gap).max() < 1e-6
    qd = Independent(Normal(torch.tensor(mu), torch.tensor(var).sqrt()), 1)
    assert np.allclose(model.elbo(X, qd), model.elbo(X, (mu, var)), atol=1e-10)
    np.testing.assert_allclose(model.elbo(X, post), log_px, atol=1e-10, rtol=0)
    assert (model.elbo(X, (mu, cov)) < log_px).all()


def test_linear_gaussian_exact_log_prob_matches_scipy():
    rng = np.random.default_rng(5)
    model = _random_model(rng)
    X = rng.normal(size=(9, 5))
    C = model.W_ @ model.W_.T + model.noise_variance_ * np.eye(5)
    ref = scipy.stats.multivariate_normal(model.mean_, C).logpdf(X)
    np.testing.assert_allclose(model.log_prob(X), ref, atol=1e-10)
    post = model.posterior(torch.tensor(X))
    assert isinstance(post, MultivariateNormal) and post.batch_shape == (9,)


def test_ml_and_em_fits_agree_and_em_is_monotone():
    rng = np.random.default_rng(6)
    truth = _random_model(rng, d=6, m=2)
    X = (
        MultivariateNormal(
            torch.tensor(truth.mean_), torch.tensor(truth.W_ @ truth.W_.T + truth.noise_variance_ * np.eye(6))
        )
        .sample((2000,))
        .numpy()
    )
    ml = LinearGaussianModel(2).fit(X)
    em = LinearGaussianModel(2, method="em", random_state=0).fit(X)
    assert _monotone(em.loglik_trace_, rel=1e-12)
    assert em.score(X) == pytest.approx(ml.score(X), abs=1e-6)
    assert em.loglik_trace_[-1] == pytest.approx(em.score(X), abs=1e-9)
    np.testing.assert_allclose(em.W_ @ em.W_.T, ml.W_ @ ml.W_.T, atol=1e-3)
    sk = SkPCA(2).fit(X)  # sklearn uses the n - 1 covariance
    assert ml.noise_variance_ == pytest.approx(sk.noise_variance_ * (len(X) - 1) / len(X))


# ---------------------------------------------------------------- docs and devices
@pytest.mark.parametrize("module", [gmm, pca])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_estimators_run_on_the_input_device():
    X = torch.randn(500, 4, device="cuda")
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.means_.device.type == "cuda" and gm.sample(10)[0].device.type == "cuda"
    assert PCA(2).fit(X).transform(X).device.type == "cuda"
    vi = VariationalGaussianMixture(3, random_state=0).fit(X)
    assert vi.predict(X).device.type == "cuda"
