"""vaekit.info against independent references (scipy, torch.distributions), its error cases,
the `vaekit kl` command, and the guide's snippets (run as doctests so the guide cannot rot)."""

import argparse
import doctest
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

import vaekit.info as info
from vaekit.errors import VaekitError

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-10


def _dirichlet(rng, shape, zeros=True):
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:  # put exact zeros in, to exercise 0 log 0 = 0
        p[rng.random(p.shape) < 0.15] = 0
        p /= p.sum(-1, keepdims=True)
    return p


# ---------------------------------------------------------------- discrete, against scipy
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("base", [None, 2])
def test_discrete_functions_match_scipy_on_batches(axis, base):
    rng = np.random.default_rng(0)
    p = np.moveaxis(_dirichlet(rng, (4, 3, 6)), -1, axis)
    q = np.moveaxis(_dirichlet(rng, (4, 3, 6), zeros=False), -1, axis)
    kw = {"axis": axis, "base": base}
    scale = 1 / math.log(2) if base == 2 else 1.0
    h_p = scipy.stats.entropy(p, axis=axis, base=base)
    kl_pq = scipy.special.rel_entr(p, q).sum(axis) * scale
    m = (p + q) / 2
    js = (scipy.stats.entropy(p, m, axis=axis) + scipy.stats.entropy(q, m, axis=axis)) / 2 * scale
    np.testing.assert_allclose(info.entropy(p, **kw), h_p, rtol=0, atol=TOL)
    np.testing.assert_allclose(info.kl_divergence(p, q, **kw), kl_pq, rtol=0, atol=TOL)
    np.testing.assert_allclose(info.cross_entropy(p, q, **kw), h_p + kl_pq, rtol=0, atol=TOL)
    np.testing.assert_allclose(info.js_divergence(p, q, **kw), js, rtol=0, atol=TOL)


def test_joint_functions_match_scipy():
    rng = np.random.default_rng(1)
    joint = rng.dirichlet(np.ones(12), size=5).reshape(5, 3, 4)  # (batch, n_x, n_y)
    joint[0, 1] = 0
    joint /= joint.sum((1, 2), keepdims=True)
    for t, pxy in enumerate(joint):
        px, py = pxy.sum(1), pxy.sum(0)
        h_xy = scipy.stats.entropy(pxy.ravel())
        mi = scipy.stats.entropy(pxy.ravel(), np.outer(px, py).ravel())
        assert abs(info.conditional_entropy(joint)[t] - (h_xy - scipy.stats.entropy(py))) < TOL
        assert abs(info.mutual_information(joint)[t] - mi) < TOL
        assert abs(info.mutual_information(pxy, base=2) - mi / math.log(2)) < TOL
    indep = np.outer([0.2, 0.8], [0.5, 0.3, 0.2])
    assert abs(info.mutual_information(indep)) < TOL


def test_conventions_zero_log_zero_and_infinite_kl():
    assert info.entropy([1.0, 0.0]) == 0.0
    assert info.kl_divergence([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    assert info.kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert info.cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert info.js_divergence([1.0, 0.0], [0.0, 1.0], base=2) == pytest.approx(1.0, abs=TOL)


def test_result_has_the_kind_of_the_input():
    p, q = [0.2, 0.8], [0.5, 0.5]
    assert isinstance(info.kl_divergence(p, q), float)
    assert isinstance(info.kl_divergence(np.array(p), q), np.floating)
    assert isinstance(info.entropy([[0.2, 0.8], [1, 0]]), list)
    t = info.kl_divergence(torch.tensor(p, dtype=torch.float32), torch.tensor(q))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    pt = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    info.kl_divergence(pt, q).backward()  # differentiable on tensors
    assert torch.isfinite(pt.grad).all()


def test_seed_article_example():
    p, u = [0.36, 0.48, 0.16], [1 / 3] * 3
    assert round(info.kl_divergence(p, u), 4) == 0.0853
    assert round(info.kl_divergence(u, p), 4) == 0.0975
    # The article's 0.09673 is neither direction:
    assert all(abs(v - 0.09673) > 5e-4 for v in (info.kl_divergence(p, u), info.kl_divergence(u, p)))


@pytest.mark.parametrize("fn", [info.entropy, info.kl_divergence, info.cross_entropy, info.js_divergence])
@pytest.mark.parametrize(
    "bad, message",
    [([0.5, -0.1, 0.6], "negative"), ([0.5, float("nan"), 0.5], "NaN"), ([0.5, 0.6], "does not sum to 1")],
)
def test_bad_distributions_raise_value_error_naming_the_input(fn, bad, message):
    good = [1 / len(bad)] * len(bad)
    args = (bad,) if fn is info.entropy else (good, bad)
    name = "p" if fn is info.entropy else "q"
    with pytest.raises(ValueError, match=f"^{name} .*{message}"):
        fn(*args)
    with pytest.raises(VaekitError):
        fn(*args)


def test_normalize_rescales_instead_of_raising():
    assert info.entropy([1, 1, 2], normalize=True) == pytest.approx(scipy.stats.entropy([1, 1, 2]), abs=TOL)
    assert info.kl_divergence([2, 2], [1, 3], normalize=True) == pytest.approx(
        scipy.stats.entropy([2, 2], [1, 3]), abs=TOL
    )
    with pytest.raises(ValueError, match="joint"):
        info.mutual_information([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="negative"):
        info.entropy([2, -1], normalize=True)


# ---------------------------------------------------------------- Gaussians
def _spd(rng, batch, d):
    a = rng.normal(size=(*batch, d, d))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d)


def test_gaussian_kl_diagonal_matches_torch():
    rng = np.random.default_rng(2)
    mp, mq = rng.normal(size=(2, 5, 3, 4))
    vp, vq = rng.uniform(0.1, 3, size=(2, 5, 3, 4))
    ref = kl_divergence(
        Independent(Normal(torch.tensor(mp), torch.tensor(vp).sqrt()), 1),
        Independent(Normal(torch.tensor(mq), torch.tensor(vq).sqrt()), 1),
    )
    np.testing.assert_allclose(info.gaussian_kl(mp, vp, mq, vq), ref.numpy(), atol=TOL, rtol=0)
    std = kl_divergence(
        Independent(Normal(torch.tensor(mp), torch.tensor(vp).sqrt()), 1),
        Independent(Normal(torch.zeros(4, dtype=torch.float64), 1.0), 1),
    )
    np.testing.assert_allclose(info.gaussian_kl(mp, vp), std.numpy(), atol=TOL, rtol=0)


def test_gaussian_kl_full_and_mixed_match_torch():
    rng = np.random.default_rng(3)
    mp, mq = rng.normal(size=(2, 6, 3))
    sp, sq = _spd(rng, (6,), 3), _spd(rng, (1,), 3)  # q broadcasts over the batch
    ref = kl_divergence(
        MultivariateNormal(torch.tensor(mp), torch.tensor(sp)), MultivariateNormal(torch.tensor(mq), torch.tensor(sq))
    )
    out = info.gaussian_kl(torch.tensor(mp), torch.tensor(sp), torch.tensor(mq), torch.tensor(sq))
    torch.testing.assert_close(out, ref, atol=TOL, rtol=0)
    vq = rng.uniform(0.5, 2, size=(6, 3))  # full p against diagonal q
    ref = kl_divergence(
        MultivariateNormal(torch.tensor(mp), torch.tensor(sp)),
        MultivariateNormal(torch.tensor(mq), torch.diag_embed(torch.tensor(vq))),
    )
    np.testing.assert_allclose(info.gaussian_kl(mp, sp, mq, vq), ref.numpy(), atol=TOL, rtol=0)
    eye = np.broadcast_to(np.eye(3), (6, 3, 3))
    np.testing.assert_allclose(info.gaussian_kl(mp, sp), info.gaussian_kl(mp, sp, 0 * mp, eye), atol=TOL)


def test_gaussian_kl_agrees_with_its_monte_carlo_estimate():
    rng = np.random.default_rng(4)
    mp, mq = torch.tensor(rng.normal(size=(2, 3, 2)))
    sp, sq = torch.tensor(_spd(rng, (2, 3), 2))
    p, q = MultivariateNormal(mp, sp), MultivariateNormal(mq, sq)
    mc = info.kl_monte_carlo(p, q, 20_000, seed=0)
    exact = info.gaussian_kl(mp, sp, mq, sq)
    assert ((mc.estimate - exact).abs() < 5 * mc.stderr).all()
    again = info.kl_monte_carlo(p, q, 20_000, seed=0)
    torch.testing.assert_close(again.estimate, mc.estimate)


def test_gaussian_kl_rejects_bad_shapes_and_covariances():
    with pytest.raises(ValueError, match="var_p"):
        info.gaussian_kl([0.0, 0.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="shape"):
        info.gaussian_kl([0.0, 0.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="positive definite"):
        info.gaussian_kl([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])


# ---------------------------------------------------------------- the CLI command
def _kl_cli(argv):
    from vaekit.commands import kl

    parser = argparse.ArgumentParser()
    kl.add_arguments(parser)
    return kl.run(parser.parse_args(argv))


def test_kl_command_prints_both_directions(capsys):
    assert _kl_cli(["--p", "0.36,0.48,0.16", "--q", "uniform"]) == 0
    out = capsys.readouterr().out
    for line in ("KL(P||Q)  0.085300 nats", "KL(Q||P)  0.097455 nats", "H(P)", "H(Q,P)", "JS"):
        assert line in out
    _kl_cli(["--p", "0.36,0.48,0.16", "--bits"])
    assert "0.123061 bits" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["--p", "0.5,x"], ["--p", "uniform"], ["--p", "0.5,0.6"], ["--p", "0.5,0.5", "--q", "0.2,0.3,0.5"]]
)
def test_kl_command_rejects_bad_input(argv):
    with pytest.raises(VaekitError):
        _kl_cli(argv)


# ---------------------------------------------------------------- docs that cannot rot
def test_info_docstring_examples():
    assert doctest.testmod(info, optionflags=doctest.ELLIPSIS).failed == 0


def test_guide_snippets_run_and_print_what_the_guide_says():
    result = doctest.testfile(
        str(ROOT / "docs" / "guide.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 20 and result.failed == 0
