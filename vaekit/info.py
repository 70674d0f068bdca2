"""Information theory you can execute: entropy, cross-entropy, KL and JS divergence, mutual
information, closed-form Gaussian KL and Monte Carlo KL.

Every discrete function takes lists, NumPy arrays or torch tensors and returns the same kind
(a list input gives a Python float, or a nested list when batched; a tensor keeps its device).
Distributions lie along ``axis`` (default: the last); other axes are batch axes and broadcast.
Units: ``base=None`` (or ``math.e``) gives nats, ``base=2`` bits. Conventions, as in
``scipy.special.rel_entr``: 0 log 0 = 0, and KL(p||q) = +inf where some p_i > 0 has q_i = 0.
A negative entry or a NaN raises `InputError` (a ``ValueError``) naming the argument; so does a
distribution that does not sum to 1 within 1e-6, unless ``normalize=True`` rescales it.

The worked example of the seed articles, P = (0.36, 0.48, 0.16) against a uniform Q:

>>> round(kl_divergence([0.36, 0.48, 0.16], [1/3, 1/3, 1/3]), 4)
0.0853
>>> round(kl_divergence([1/3, 1/3, 1/3], [0.36, 0.48, 0.16]), 4)
0.0975
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from vaekit.errors import VaekitError

__all__ = [
    "InputError",
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "js_divergence",
    "conditional_entropy",
    "mutual_information",
    "gaussian_kl",
    "kl_monte_carlo",
    "MonteCarloKL",
    "bits_per_dim",
]

SUM_TOL = 1e-6


class InputError(VaekitError, ValueError):
    """Bad numerical input (a negative probability, a NaN, a covariance that is not positive
    definite). Both a `VaekitError` (the CLI prints it) and a `ValueError`."""


# ---------------------------------------------------------------- kinds: list / numpy / torch
def _kind(*xs) -> tuple[str, torch.dtype, torch.device]:
    """Which kind the result takes: torch if any input is a tensor, else numpy, else list."""
    tensors = [x for x in xs if isinstance(x, torch.Tensor)]
    if tensors:
        t = tensors[0]
        dtype = t.dtype if t.is_floating_point() else torch.float64
        return "torch", dtype, t.device
    if any(isinstance(x, np.ndarray) for x in xs):
        return "numpy", torch.float64, torch.device("cpu")
    return "list", torch.float64, torch.device("cpu")


def _tensor(x, device: torch.device) -> torch.Tensor:
    """float64 tensor of ``x`` on ``device`` (tensors keep their autograd graph)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float64)
    a = np.asarray(x, dtype=np.float64)
    return torch.as_tensor(a if a.flags.writeable else a.copy(), device=device)


def _out(t: torch.Tensor, kind: str, dtype: torch.dtype):
    if kind == "torch":
        return t.to(dtype)
    a = t.detach().cpu().numpy()
    if kind == "numpy":
        return a[()] if a.ndim == 0 else a
    return a.tolist()


def _log_base(base) -> float:
    if base is None:
        return 1.0
    if not base > 0 or base == 1:
        raise InputError(f"base must be positive and not 1 (e for nats, 2 for bits), got {base}")
    return math.log(base)


def _check(t: torch.Tensor, name: str, dims, normalize: bool) -> torch.Tensor:
    """Raise `InputError` unless ``t`` holds distributions over ``dims``; rescale if asked."""
    if torch.isnan(t).any():
        raise InputError(f"{name} contains NaN")
    if (t < 0).any():
        raise InputError(f"{name} has a negative entry ({t.min().item():.3g}); probabilities must be >= 0")
    total = t.sum(dim=dims, keepdim=True)
    if normalize:
        if (total <= 0).any() or torch.isinf(total).any():
            raise InputError(f"{name} cannot be normalized: it sums to {total.min().item():.3g}")
        return t / total
    bad = (total - 1).abs() > SUM_TOL
    if bad.any():
        raise InputError(
            f"{name} does not sum to 1 (it sums to {total[bad][0].item():.6g}); "
            "pass normalize=True (vaekit kl --normalize) to rescale it"
        )
    return t


def _prepare(named: dict, axis: int, normalize: bool):
    """Broadcast the named inputs, move ``axis`` last and check each one."""
    kind, dtype, device = _kind(*named.values())
    ts = torch.broadcast_tensors(*[_tensor(v, device) for v in named.values()])
    ts = [torch.movedim(t, axis, -1) for t in ts]
    ts = [_check(t, name, -1, normalize) for t, name in zip(ts, named)]
    return ts, kind, dtype


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.special.xlogy(x, y)


# ---------------------------------------------------------------- discrete distributions
def entropy(p, *, axis: int = -1, base=None, normalize: bool = False):
    """Shannon entropy H(P) = -sum_i p_i log p_i, with 0 log 0 = 0.

    Parameters
    ----------
    p : array-like, shape (..., K, ...)
        Probabilities along ``axis``; other axes are batch axes.
    axis : int
        The axis that holds the K outcomes (default the last).
    base : float or None
        None (or e) for nats, 2 for bits.
    normalize : bool
        Rescale ``p`` to sum to 1 instead of raising when it does not.

    Returns
    -------
    float, list, ndarray or Tensor of the batch shape: same kind as ``p``.

    >>> entropy([0.5, 0.5], base=2)
    1.0
    """
    (pt,), kind, dtype = _prepare({"p": p}, axis, normalize)
    h = -_xlogy(pt, pt).sum(-1) / _log_base(base) + 0.0  # + 0.0 turns -0.0 into 0.0
    return _out(h, kind, dtype)


def cross_entropy(p, q, *, axis: int = -1, base=None, normalize: bool = False):
    """Cross-entropy H(P, Q) = -sum_i p_i log q_i = H(P) + KL(P||Q); +inf where q_i = 0 < p_i.

    Parameters and returns as in `entropy`; ``p`` and ``q`` broadcast against each other.
    """
    (pt, qt), kind, dtype = _prepare({"p": p, "q": q}, axis, normalize)
    h = -_xlogy(pt, qt).sum(-1) / _log_base(base) + 0.0
    return _out(h, kind, dtype)


def _kl(pt: torch.Tensor, qt: torch.Tensor) -> torch.Tensor:
    # p log p - p log q: 0 where p = 0, +inf where p > 0 = q (xlogy(p, 0) = -inf).
    return (_xlogy(pt, pt) - _xlogy(pt, qt)).sum(-1)


def kl_divergence(p, q, *, axis: int = -1, base=None, normalize: bool = False):
    """Kullback-Leibler divergence KL(P||Q) = sum_i p_i log(p_i / q_i) >= 0.

    Not symmetric: KL(P||Q) != KL(Q||P) in general. Terms with p_i = 0 contribute 0; a term with
    p_i > 0 and q_i = 0 makes the divergence +inf. Parameters and returns as in `entropy`.

    >>> p, u = [0.36, 0.48, 0.16], [1/3, 1/3, 1/3]
    >>> round(kl_divergence(p, u), 5), round(kl_divergence(u, p), 5)
    (0.0853, 0.09746)
    """
    (pt, qt), kind, dtype = _prepare({"p": p, "q": q}, axis, normalize)
    return _out(_kl(pt, qt).clamp_min(0) / _log_base(base), kind, dtype)  # >= 0 (Gibbs), not -1e-17 of rounding


def js_divergence(p, q, *, axis: int = -1, base=None, normalize: bool = False):
    """Jensen-Shannon divergence JS(P, Q) = KL(P||M)/2 + KL(Q||M)/2 with M = (P + Q)/2.

    Symmetric, always finite, at most log 2 (1 bit). Parameters and returns as in `entropy`.
    """
    (pt, qt), kind, dtype = _prepare({"p": p, "q": q}, axis, normalize)
    m = (pt + qt) / 2
    js = ((_kl(pt, m) + _kl(qt, m)) / 2).clamp_min(0)  # rounding must not make it negative
    return _out(js / _log_base(base), kind, dtype)


def _prepare_joint(joint, normalize: bool):
    kind, dtype, device = _kind(joint)
    t = _tensor(joint, device)
    if t.ndim < 2:
        raise InputError(f"joint must be a table (..., n_x, n_y), got shape {tuple(t.shape)}")
    return _check(t, "joint", (-2, -1), normalize), kind, dtype


def conditional_entropy(joint, *, base=None, normalize: bool = False):
    """Conditional entropy H(X|Y) = -sum_{x,y} p(x,y) log p(x|y) = H(X,Y) - H(Y).

    Parameters
    ----------
    joint : array-like, shape (..., n_x, n_y)
        The joint table p(x, y): rows are values of X, columns values of Y; leading axes batch.
    base, normalize : as in `entropy`.

    Returns
    -------
    Same kind as ``joint``, shape (...).
    """
    pxy, kind, dtype = _prepare_joint(joint, normalize)
    py = pxy.sum(-2)  # (..., n_y)
    h = -_xlogy(pxy, pxy).sum((-2, -1)) + _xlogy(py, py).sum(-1) + 0.0
    return _out(h / _log_base(base), kind, dtype)


def mutual_information(joint, *, base=None, normalize: bool = False):
    """Mutual information I(X;Y) = KL(p(x,y) || p(x)p(y)) = H(X) - H(X|Y) >= 0.

    Parameters and returns as in `conditional_entropy`.
    """
    pxy, kind, dtype = _prepare_joint(joint, normalize)
    px, py = pxy.sum(-1), pxy.sum(-2)
    prod = px.unsqueeze(-1) * py.unsqueeze(-2)  # (..., n_x, n_y)
    mi = (_xlogy(pxy, pxy) - _xlogy(pxy, prod)).sum((-2, -1))
    return _out(mi / _log_base(base), kind, dtype)


# ---------------------------------------------------------------- Gaussians
def _as_full(mu: torch.Tensor, var: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """Return (variance or covariance, is_full) after checking its shape against the mean."""
    d = mu.shape[-1]
    if var.ndim == mu.ndim and var.shape[-1] == d:
        if (var <= 0).any() or torch.isnan(var).any():
            raise InputError(f"{name} must be positive (it is a diagonal variance)")
        return var, False
    if var.ndim == mu.ndim + 1 and var.shape[-2:] == (d, d):
        return var, True
    raise InputError(
        f"{name} has shape {tuple(var.shape)}: use the mean's shape {tuple(mu.shape)} "
        f"for a diagonal variance or (..., {d}, {d}) for a full covariance"
    )


def _cholesky(cov: torch.Tensor, name: str) -> torch.Tensor:
    chol, info = torch.linalg.cholesky_ex(cov)
    if (info != 0).any():
        raise InputError(f"{name} is not a positive definite covariance matrix")
    return chol


def _kl_full(mu_p, cov_p, mu_q, cov_q) -> torch.Tensor:
    """KL(N(mu_p, cov_p) || N(mu_q, cov_q)) through Cholesky factors, batched."""
    lp, lq = _cholesky(cov_p, "var_p"), _cholesky(cov_q, "var_q")
    lp, lq = torch.broadcast_tensors(lp, lq)
    m = torch.linalg.solve_triangular(lq, lp, upper=False)  # Lq^-1 Lp: tr(Sq^-1 Sp) = |m|_F^2
    diff = (mu_q - mu_p).unsqueeze(-1)
    diff = diff.expand(*lq.shape[:-2], *diff.shape[-2:])
    y = torch.linalg.solve_triangular(lq, diff, upper=False).squeeze(-1)
    logdet = 2 * (
        torch.diagonal(lq, dim1=-2, dim2=-1).log().sum(-1) - torch.diagonal(lp, dim1=-2, dim2=-1).log().sum(-1)
    )
    d = mu_p.shape[-1]
    return 0.5 * (m.pow(2).sum((-2, -1)) + y.pow(2).sum(-1) - d + logdet)


def gaussian_kl(mu_p, var_p, mu_q=None, var_q=None):
    """Closed-form KL(N(mu_p, S_p) || N(mu_q, S_q)) for diagonal or full covariances.

    KL = 1/2 [ tr(S_q^-1 S_p) + (mu_q - mu_p)^T S_q^-1 (mu_q - mu_p) - d + log|S_q| - log|S_p| ]
    (nats), computed with Cholesky factors. With ``mu_q`` and ``var_q`` omitted, q = N(0, I),
    the KL term of a VAE: 1/2 sum_j (var_j + mu_j^2 - 1 - log var_j) in the diagonal case.

    Parameters
    ----------
    mu_p, mu_q : array-like, shape (..., d)
    var_p, var_q : array-like, shape (..., d) or (..., d, d)
        Shaped like its mean: a diagonal variance. With an extra trailing axis of size d: a full
        covariance matrix. Diagonal and full may be mixed; leading axes broadcast.

    Returns
    -------
    Same kind as ``mu_p``, shape (...).
    """
    if (mu_q is None) != (var_q is None):
        raise InputError("give both mu_q and var_q, or neither (for q = N(0, I))")
    kind, dtype, device = _kind(mu_p, var_p, mu_q, var_q)
    mp, vp = _tensor(mu_p, device), _tensor(var_p, device)
    if mu_q is None:
        mq, vq = torch.zeros_like(mp), torch.ones_like(mp)
    else:
        mq, vq = _tensor(mu_q, device), _tensor(var_q, device)
    vp, full_p = _as_full(mp, vp, "var_p")
    vq, full_q = _as_full(mq, vq, "var_q")
    if not (full_p or full_q):
        kl = 0.5 * (vp / vq + (mq - mp) ** 2 / vq - 1 + vq.log() - vp.log()).sum(-1)
    else:
        vp = vp if full_p else torch.diag_embed(vp)
        vq = vq if full_q else torch.diag_embed(vq)
        kl = _kl_full(mp, vp, mq, vq)
    return _out(kl, kind, dtype)


class MonteCarloKL(NamedTuple):
    """A Monte Carlo estimate of KL(p||q) and its standard error, both of p's batch shape."""

    estimate: torch.Tensor
    stderr: torch.Tensor


def kl_monte_carlo(
    p: torch.distributions.Distribution,
    q: torch.distributions.Distribution,
    n: int = 10_000,
    *,
    seed: int | None = None,
) -> MonteCarloKL:
    """Estimate KL(p||q) = E_p[log p(x) - log q(x)] from ``n`` draws of p.

    Works for any pair of ``torch.distributions`` objects with matching event shapes (uses
    ``rsample`` when p has it, so the estimate is differentiable). The standard error is
    std(log p - log q) / sqrt(n). ``seed`` makes the draws repeatable; it leaves the global CPU
    random state as it was (on CUDA it reseeds the device generator).

    Returns
    -------
    MonteCarloKL(estimate, stderr), tensors of p's batch shape.
    """
    if n < 2:
        raise InputError(f"n must be at least 2 to give a standard error, got {n}")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        x = p.rsample((n,)) if p.has_rsample else p.sample((n,))
    ratio = p.log_prob(x) - q.log_prob(x)  # (n, *batch)
    return MonteCarloKL(ratio.mean(0), ratio.std(0) / math.sqrt(n))


def bits_per_dim(nll: float, dims: int, discrete: bool) -> float:
    """nats per image -> bits per pixel. A density on [0, 1] becomes one on 256 grey levels by
    adding log 256 per pixel (uniform dequantization), so continuous figures compare with discrete ones."""
    return (nll / dims + (0.0 if discrete else math.log(256))) / math.log(2)
