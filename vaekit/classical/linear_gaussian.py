"""The linear-Gaussian latent-variable model (probabilistic PCA): the one model whose log p(x)
and posterior p(z|x) are exact, so the ELBO identity can be checked to the last digit."""

from __future__ import annotations

import math

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from vaekit.classical._base import as_tensor, fitted_input, make_generator, require_fitted, to_kind
from vaekit.info import InputError, gaussian_kl


class LinearGaussianModel:
    """Probabilistic PCA: z ~ N(0, I_m), x | z ~ N(W z + b, sigma^2 I_d)  (Tipping & Bishop 1999).

    Exact quantities (PRML §12.2):
    marginal   p(x) = N(x | b, C),  C = W W^T + sigma^2 I                          (12.35-12.36)
    posterior  p(z|x) = N(z | M^-1 W^T (x - b), sigma^2 M^-1),  M = W^T W + sigma^2 I   (12.42)
    ELBO       for any Gaussian q(z) = N(mu, S):
               E_q[log p(x|z)] - KL(q || N(0, I)), where
               E_q[log p(x|z)] = -d/2 log(2 pi sigma^2) - (|x - b - W mu|^2 + tr(W^T W S)) / (2 sigma^2)
    so that log p(x) = ELBO(q) + KL(q || p(z|x)) for every q, with equality ELBO = log p(x) at
    q = p(z|x): the identity behind every VAE.

    Fitting (``method``): 'ml' in closed form, b = mean, sigma^2 = the mean of the d - m
    smallest eigenvalues of the sample covariance S, W = U_m (L_m - sigma^2 I)^(1/2) (12.45-12.46);
    or 'em', iterating W' = S W (sigma^2 I + M^-1 W^T S W)^-1,
    sigma^2' = tr(S - S W M^-1 W'^T) / d (Tipping & Bishop 1999, eqs. 29-30; PRML 12.53-12.57),
    whose log-likelihood trace ``loglik_trace_`` never decreases.

    Parameters
    ----------
    n_components : int
        Latent size m < d.
    method : {'ml', 'em'}
    tol, max_iter : EM stops when the mean log-likelihood per sample moves less than ``tol``.
    random_state : int or None
        Seed of the random W that EM starts from.
    dtype : torch.dtype

    Attributes
    ----------
    W_ : (d, m); mean_ : (d,); noise_variance_ : float; n_iter_ : int; loglik_trace_ : list
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        method: str = "ml",
        tol: float = 1e-10,
        max_iter: int = 5000,
        random_state: int | None = 0,
        dtype: torch.dtype = torch.float64,
    ):
        self.n_components = n_components
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.dtype = dtype

    @classmethod
    def from_params(cls, W, b, noise_variance: float) -> LinearGaussianModel:
        """A model with given W (d, m), b (d,) and sigma^2, e.g. to check identities."""
        W, np_ = as_tensor(W, torch.float64, "W")
        model = cls(W.shape[1], dtype=W.dtype)
        b = torch.as_tensor(b, dtype=W.dtype, device=W.device).reshape(W.shape[0])
        model._set(W, b, float(noise_variance), np_)
        return model

    def _set(self, W: torch.Tensor, b: torch.Tensor, s2: float, numpy: bool) -> None:
        if s2 <= 0:
            raise InputError(f"noise_variance must be positive, got {s2}")
        self._W, self._b, self._s2, self._numpy = W, b, s2, numpy
        self.W_, self.mean_, self.noise_variance_ = to_kind(W, numpy), to_kind(b, numpy), s2

    # ------------------------------------------------------------ fitting
    def fit(self, X, y=None) -> LinearGaussianModel:
        """Fit by maximum likelihood ('ml', closed form) or EM ('em'); returns ``self``."""
        X, np_ = as_tensor(X, self.dtype)
        n, d = X.shape
        m = self.n_components
        if not 1 <= m < d:
            raise InputError(f"n_components must be between 1 and n_features - 1 = {d - 1}")
        b = X.mean(0)
        S = (X - b).T @ (X - b) / n  # (d, d) the ML sample covariance
        if self.method == "ml":
            W, s2, trace = *_ml_solution(S, m), []
        elif self.method == "em":
            W, s2, trace = self._em(S, make_generator(self.random_state, X.device))
        else:
            raise InputError(f"method must be 'ml' or 'em', got {self.method!r}")
        self.loglik_trace_, self.n_iter_ = trace, len(trace)
        self._set(W, b, s2, np_)
        return self

    def _em(self, S: torch.Tensor, g: torch.Generator):
        d, m = S.shape[0], self.n_components
        W = torch.randn(d, m, generator=g, dtype=S.dtype, device=S.device)
        s2, trace = float(torch.diagonal(S).mean()), []
        eye = torch.eye(m, dtype=S.dtype, device=S.device)
        for _ in range(self.max_iter):
            trace.append(_mean_loglik(S, W, s2))
            if len(trace) > 1 and abs(trace[-1] - trace[-2]) < self.tol:
                break
            m_inv = torch.linalg.inv(W.T @ W + s2 * eye)  # (m, m)
            SW = S @ W  # (d, m)
            W_new = SW @ torch.linalg.inv(s2 * eye + m_inv @ W.T @ SW)
            s2 = float(torch.trace(S - SW @ m_inv @ W_new.T)) / d
            W = W_new
        return W, s2, trace

    # ------------------------------------------------------------ exact quantities
    def _x(self, X) -> tuple[torch.Tensor, bool]:
        require_fitted(self, "_W")
        return fitted_input(X, self._W.dtype, self._W.shape[0], self._W.device)

    def marginal(self) -> MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I) as a distribution with event shape (d,)."""
        d = self._W.shape[0]
        C = self._W @ self._W.T + self._s2 * torch.eye(d, dtype=self._W.dtype, device=self._W.device)
        return MultivariateNormal(self._b, covariance_matrix=C)

    def log_prob(self, X):
        """Exact log p(x) of each row: (n, d) -> (n,)."""
        X, np_ = self._x(X)
        return to_kind(self.marginal().log_prob(X), np_)

    def score(self, X) -> float:
        """Mean exact log-likelihood per sample (nats)."""
        X, _ = self._x(X)
        return self.marginal().log_prob(X).mean().item()

    def posterior(self, X) -> MultivariateNormal:
        """Exact p(z|x) = N(M^-1 W^T (x - b), sigma^2 M^-1): batch shape (n,), event (m,)."""
        X, _ = self._x(X)
        W, m = self._W, self._W.shape[1]
        M = W.T @ W + self._s2 * torch.eye(m, dtype=W.dtype, device=W.device)  # (m, m)
        mean = torch.linalg.solve(M, W.T @ (X - self._b).T).T  # (n, m)
        cov = self._s2 * torch.linalg.inv(M)
        return MultivariateNormal(mean, covariance_matrix=(cov + cov.T) / 2)

    def elbo(self, X, q):
        """ELBO(q) = E_q[log p(x|z)] - KL(q || N(0, I)) per row, in closed form: (n, d) -> (n,).

        ``q`` is a Gaussian over z with batch shape (n,) and event shape (m,): a
        ``MultivariateNormal``, an ``Independent(Normal)``, or a pair (mean (n, m), var) with
        var (n, m) diagonal or (n, m, m) full.
        """
        X, np_ = self._x(X)
        mu, cov = _moments(q, X)
        W, s2, d = self._W, self._s2, X.shape[1]
        resid = X - self._b - mu @ W.T  # (n, d)
        trace = torch.einsum("ij,nji->n", W.T @ W, cov)  # tr(W^T W S)
        expected_ll = -0.5 * d * math.log(2 * math.pi * s2) - (resid.pow(2).sum(1) + trace) / (2 * s2)
        return to_kind(expected_ll - gaussian_kl(mu, cov), np_)


def _moments(q, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n, m) and covariance (n, m, m) of a Gaussian q."""
    if isinstance(q, MultivariateNormal):
        mu, cov = q.mean, q.covariance_matrix
    elif isinstance(q, Independent) and isinstance(q.base_dist, Normal):
        mu, cov = q.mean, torch.diag_embed(q.variance)
    elif isinstance(q, (tuple, list)) and len(q) == 2:
        mu, cov = (torch.as_tensor(t, dtype=like.dtype, device=like.device) for t in q)
        cov = torch.diag_embed(cov) if cov.shape == mu.shape else cov
    else:
        raise InputError("q must be a MultivariateNormal, an Independent(Normal) or a pair (mean, variance)")
    mu = mu.to(like.dtype)
    return mu, cov.to(like.dtype).expand(*mu.shape, mu.shape[-1])


def _ml_solution(S: torch.Tensor, m: int) -> tuple[torch.Tensor, float]:
    """W = U_m (L_m - sigma^2 I)^(1/2), sigma^2 = mean of the discarded eigenvalues (PRML 12.45-46)."""
    evals, evecs = torch.linalg.eigh(S)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    s2 = float(evals[m:].mean())
    W = evecs[:, :m] * (evals[:m] - s2).clamp_min(0).sqrt()
    return W, s2


def _mean_loglik(S: torch.Tensor, W: torch.Tensor, s2: float) -> float:
    """Mean log-likelihood per sample from the sample covariance:
    -1/2 [d log 2 pi + log|C| + tr(C^-1 S)] (PRML 12.44)."""
    d = S.shape[0]
    C = W @ W.T + s2 * torch.eye(d, dtype=S.dtype, device=S.device)
    L = torch.linalg.cholesky(C)
    logdet = 2 * torch.diagonal(L).log().sum()
    tr = torch.cholesky_solve(S, L).diagonal().sum()
    return float(-0.5 * (d * math.log(2 * math.pi) + logdet + tr))
