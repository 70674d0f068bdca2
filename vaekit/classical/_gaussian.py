"""Pure functions for Gaussian mixtures on torch: log-densities through Cholesky factors,
the M-step statistics, k-means++ seeding. Shapes: n samples, k components, d features.

Covariance types and the shape of ``covariances`` / ``prec_chol`` (as in scikit-learn):
full (k, d, d), tied (d, d), diag (k, d), spherical (k,). ``prec_chol`` is the factor P of the
precision with precision = P P^T (upper triangular for full/tied; 1/sqrt(variance) otherwise), so
the squared Mahalanobis distance is |(x - mu) P|^2 and log|precision|^(1/2) = sum log diag P.
"""

from __future__ import annotations

import math

import torch

from vaekit.info import InputError

COV_TYPES = ("full", "tied", "diag", "spherical")


def check_cov_type(cov_type: str) -> None:
    if cov_type not in COV_TYPES:
        raise InputError(f"covariance_type must be one of {COV_TYPES}, got {cov_type!r}")


def precision_cholesky(covariances: torch.Tensor, cov_type: str) -> torch.Tensor:
    """Factor P with P P^T = covariance^-1, shaped like ``covariances``.

    Raises `InputError` when a covariance is not positive definite (too few points in a
    component, or duplicated points): increase ``reg_covar`` or lower ``n_components``.
    """
    if cov_type in ("diag", "spherical"):
        if (covariances <= 0).any():
            raise InputError("a fitted variance is not positive: increase reg_covar or lower n_components")
        return covariances.rsqrt()
    chol, info = torch.linalg.cholesky_ex(covariances)
    if (info != 0).any():
        raise InputError(
            "a fitted covariance is not positive definite (a component holds too "
            "few or duplicated points): increase reg_covar or lower n_components"
        )
    eye = torch.eye(chol.shape[-1], dtype=chol.dtype, device=chol.device).expand_as(chol)
    return torch.linalg.solve_triangular(chol, eye, upper=False).mT  # L^-T: upper triangular


def _whiten(diff: torch.Tensor, p: torch.Tensor, cov_type: str) -> torch.Tensor:
    """(x - mu) P for one component: diff (n, d), p its precision factor."""
    return diff @ p if cov_type in ("full", "tied") else diff * p


def log_det_precision_chol(prec_chol: torch.Tensor, cov_type: str, d: int) -> torch.Tensor:
    """log|precision|^(1/2) per component: shape (k,), or () for tied."""
    if cov_type in ("full", "tied"):
        return torch.diagonal(prec_chol, dim1=-2, dim2=-1).log().sum(-1)
    if cov_type == "diag":
        return prec_chol.log().sum(-1)
    return d * prec_chol.log()


def log_gaussian_prob(X: torch.Tensor, means: torch.Tensor, prec_chol: torch.Tensor, cov_type: str) -> torch.Tensor:
    """log N(x_n | mu_j, Sigma_j) for every sample and component: (n, d) -> (n, k).

    One pass per component keeps memory at O(n d) and subtracts the mean before squaring, so
    tiny, far-away clusters keep their precision (no |x|^2 - 2 x.mu + |mu|^2 cancellation).
    """
    n, d = X.shape
    k = means.shape[0]
    out = X.new_empty(n, k)
    for j in range(k):
        p = prec_chol if cov_type == "tied" else prec_chol[j]
        out[:, j] = _whiten(X - means[j], p, cov_type).pow(2).sum(1)
    log_det = log_det_precision_chol(prec_chol, cov_type, d)
    return -0.5 * (d * math.log(2 * math.pi) + out) + log_det


def gaussian_statistics(X: torch.Tensor, resp: torch.Tensor, reg_covar: float, cov_type: str):
    """The M-step of EM (PRML eqs. 9.24-9.27): soft counts, means and covariances.

    N_j = sum_n r_nj,  mu_j = sum_n r_nj x_n / N_j,
    Sigma_j = sum_n r_nj (x_n - mu_j)(x_n - mu_j)^T / N_j + reg_covar I
    (tied: one Sigma pooled over components; diag: its diagonal; spherical: the mean of it).

    Parameters
    ----------
    X : (n, d); resp : (n, k) responsibilities, rows summing to 1.

    Returns
    -------
    nk (k,), means (k, d), covariances shaped for ``cov_type``.
    """
    n, d = X.shape
    eps = 10 * torch.finfo(X.dtype).eps
    nk = resp.sum(0) + eps  # (k,)
    means = (resp.T @ X) / nk[:, None]  # (k, d)
    k = means.shape[0]
    if cov_type == "tied":
        cov = X.T @ X - (nk[:, None] * means).T @ means  # (d, d)
        cov = cov / nk.sum()
        cov = (cov + cov.T) / 2
        return nk, means, cov + reg_covar * torch.eye(d, dtype=X.dtype, device=X.device)
    covs = []
    for j in range(k):
        diff = X - means[j]  # (n, d)
        if cov_type == "full":
            w = diff * resp[:, j, None].sqrt()  # (n, d): w^T w = sum_n r_nj diff diff^T
            c = w.T @ w / nk[j]
            c = c + reg_covar * torch.eye(d, dtype=X.dtype, device=X.device)
        else:
            c = resp[:, j] @ diff.pow(2) / nk[j] + reg_covar  # (d,)
        covs.append(c)
    cov = torch.stack(covs)
    return nk, means, cov.mean(1) if cov_type == "spherical" else cov


def n_parameters(k: int, d: int, cov_type: str) -> int:
    """Free parameters of a k-component mixture in d dimensions (for BIC and AIC)."""
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[cov_type]
    return cov + k * d + k - 1


def sq_distances(X: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (n, d), (k, d) -> (n, k), clamped at 0."""
    d2 = X.pow(2).sum(1, keepdim=True) - 2 * X @ centers.T + centers.pow(2).sum(1)
    return d2.clamp_min_(0)


def kmeans_plusplus(X: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007): (n, d) -> centers (k, d).

    Each new center is the best of 2 + log k candidates drawn with probability proportional to
    the squared distance to the nearest center so far (scikit-learn's ``n_local_trials``).
    """
    n = X.shape[0]
    trials = 2 + int(math.log(k))
    first = torch.randint(n, (1,), generator=generator, device=X.device)
    centers = [X[first[0]]]
    closest = sq_distances(X, X[first]).squeeze(1)  # (n,)
    for _ in range(1, k):
        probs = closest / closest.sum() if closest.sum() > 0 else torch.ones_like(closest) / n
        cand = torch.multinomial(probs, trials, replacement=True, generator=generator)
        d_cand = torch.minimum(closest[None, :], sq_distances(X, X[cand]).T)  # (trials, n)
        best = d_cand.sum(1).argmin()
        centers.append(X[cand[best]])
        closest = d_cand[best]
    return torch.stack(centers)


def kmeans_labels(X: torch.Tensor, k: int, generator: torch.Generator, n_iter: int = 10) -> torch.Tensor:
    """k-means++ seeding then up to ``n_iter`` Lloyd iterations; returns labels (n,)."""
    centers = kmeans_plusplus(X, k, generator)
    labels = sq_distances(X, centers).argmin(1)
    for _ in range(n_iter):
        onehot = torch.nn.functional.one_hot(labels, k).to(X.dtype)  # (n, k)
        counts = onehot.sum(0)
        sums = onehot.T @ X
        keep = counts > 0
        centers[keep] = sums[keep] / counts[keep, None]
        new = sq_distances(X, centers).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


def sample_gaussians(
    means: torch.Tensor, covariances: torch.Tensor, cov_type: str, labels: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Draw x_i ~ N(mu_{labels_i}, Sigma_{labels_i}): labels (m,) -> (m, d)."""
    m, d = labels.shape[0], means.shape[1]
    eps = torch.randn(m, d, generator=generator, dtype=means.dtype, device=means.device)
    if cov_type in ("full", "tied"):
        chol = torch.linalg.cholesky(covariances)
        out = torch.empty_like(eps)
        for j in range(means.shape[0]):
            idx = labels == j
            c = chol if cov_type == "tied" else chol[j]
            out[idx] = eps[idx] @ c.T
    else:
        sd = covariances.sqrt()
        sd = sd[labels] if cov_type == "diag" else sd[labels, None]
        out = eps * sd
    return out + means[labels]
