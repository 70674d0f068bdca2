"""Gaussian mixtures fitted by expectation-maximization, on torch (CPU or GPU)."""

from __future__ import annotations

import torch

from vaekit.classical import _gaussian as G
from vaekit.classical._base import MixtureBase


class GaussianMixture(MixtureBase):
    """Gaussian mixture p(x) = sum_j pi_j N(x | mu_j, Sigma_j) fitted by EM.

    EM (Dempster, Laird & Rubin 1977; Bishop, PRML §9.2.2) alternates
    E-step: r_nj = pi_j N(x_n | mu_j, Sigma_j) / sum_l pi_l N(x_n | mu_l, Sigma_l)   (9.23)
    M-step: N_j = sum_n r_nj, mu_j, Sigma_j the r-weighted mean and covariance, pi_j = N_j / n
    (9.24-9.26); each step cannot lower the log-likelihood sum_n log p(x_n) (9.28), whose mean
    per sample is recorded after every E-step in ``lower_bounds_``. Everything runs in log space
    (log-sum-exp over components, Mahalanobis distances through Cholesky factors of the
    precisions), so 50-dimensional data and tiny clusters stay finite.

    Parameters
    ----------
    n_components : int
        Number of mixture components k.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Each component its own full covariance; one shared full covariance; diagonal; one
        variance per component. Fitted ``covariances_`` have shape (k, d, d), (d, d), (k, d), (k,).
    tol : float
        Stop when the mean log-likelihood per sample changes by less than this (nats).
    max_iter : int
        EM iterations per initialization.
    n_init : int
        Initializations; the run with the highest final log-likelihood is kept.
    reg_covar : float
        Added to the diagonal of every covariance so it stays positive definite.
    init : {'kmeans++', 'random'}
        Start from hard labels of k-means (k-means++ seeding, up to 10 Lloyd steps; scikit-learn's
        ``init_params='kmeans'``) or from random responsibilities.
    random_state : int or None
        Seed for the initialization and for `sample`.
    dtype : torch.dtype
        Working precision, float64 by default.

    Attributes
    ----------
    weights_ : (k,)
    means_ : (k, d)
    covariances_, precisions_cholesky_ : shaped by ``covariance_type`` (see above)
    converged_ : bool
    n_iter_ : int
        E-steps of the best run.
    lower_bound_ : float
        Final mean log-likelihood per sample of the best run (nats).
    lower_bounds_ : list of float
        Mean log-likelihood after each iteration of the best run; never decreases.

    Fitted on NumPy, the array attributes are NumPy; fitted on a tensor, tensors on its device.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_[:, 0]))
    array([-3.,  3.])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        reg_covar: float = 1e-6,
        init: str = "kmeans++",
        random_state: int | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.init = init
        self.random_state = random_state
        self.dtype = dtype

    def _init_state(self, X: torch.Tensor, resp: torch.Tensor) -> None:
        self._m_step(X, resp)

    def _m_step(self, X: torch.Tensor, resp: torch.Tensor) -> None:
        """pi, mu, Sigma from the responsibilities (PRML 9.24-9.26)."""
        nk, means, cov = G.gaussian_statistics(X, resp, self.reg_covar, self.covariance_type)
        self._state = {
            "weights": nk / nk.sum(),
            "means": means,
            "covariances": cov,
            "prec_chol": G.precision_cholesky(cov, self.covariance_type),
        }

    def _e_step(self, X: torch.Tensor) -> tuple[torch.Tensor, float]:
        """log r_nj (PRML 9.23) and the mean log-likelihood per sample (9.28)."""
        wlp = self._point_log_prob(X)  # (n, k)
        log_norm = torch.logsumexp(wlp, 1, keepdim=True)  # (n, 1)
        return wlp - log_norm, log_norm.mean().item()
