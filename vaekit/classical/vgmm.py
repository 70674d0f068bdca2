"""Gaussian mixtures fitted by mean-field variational inference (Bishop, PRML §10.2)."""

from __future__ import annotations

import math

import torch
from torch.distributions import Dirichlet, kl_divergence

from vaekit.classical import _gaussian as G
from vaekit.classical import _wishart as W
from vaekit.classical._base import MixtureBase, to_kind
from vaekit.info import InputError


class VariationalGaussianMixture(MixtureBase):
    """Bayesian Gaussian mixture fitted by coordinate-ascent mean-field VI.

    Model (PRML 10.37-10.40): pi ~ Dir(alpha0), Lambda_k ~ W(W0, nu0),
    mu_k | Lambda_k ~ N(m0, (beta0 Lambda_k)^-1), z_n ~ Cat(pi), x_n | z_n=k ~ N(mu_k, Lambda_k^-1).
    The posterior is approximated by the factorized q(Z) q(pi) q(mu, Lambda) (10.42), and each
    factor is set in turn to its optimum ln q_j* = E_{i != j}[ln p(X, Z, pi, mu, Lambda)] + const
    (10.9), which cannot lower the evidence lower bound (ELBO):

    E-step   ln rho_nk = E[ln pi_k] + E[ln|Lambda_k|]/2 - (d/2) ln 2pi
                         - (d/beta_k + nu_k (x_n - m_k)^T W_k (x_n - m_k))/2        (10.46, 10.64)
             r_nk = softmax_k ln rho_nk                                              (10.49)
             E[ln pi_k] = psi(alpha_k) - psi(sum alpha), E[ln|Lambda_k|] by (10.65-10.66)
    M-step   alpha_k = alpha0 + N_k,  beta_k = beta0 + N_k,  nu_k = nu0 + N_k,
             m_k = (beta0 m0 + N_k xbar_k) / beta_k,
             W_k^-1 = W0^-1 + N_k S_k + beta0 N_k/(beta0 + N_k) (xbar_k - m0)(xbar_k - m0)^T
                                                                                    (10.58-10.63)
    ELBO     = sum_n ln sum_k rho_nk - KL(q(pi)||p(pi)) - sum_k KL(q(mu_k,Lambda_k)||p(...)),
    which is (10.70-10.77) with q(Z) at its optimum. ``lower_bounds_`` records it per sample
    after every E-step; it never decreases. With a small ``weight_concentration_prior`` the
    components the data do not need keep alpha_k ~ alpha0 and their weights fall to ~0.

    Parameters
    ----------
    n_components, tol, max_iter, n_init, init, random_state, dtype
        As in `GaussianMixture` (tol is in nats per sample; default 1e-6, since
        the weights of spare components drain slowly; max_iter 500).
    covariance_type : {'full'}
        Only full covariances (the Gaussian-Wishart of PRML §10.2).
    reg_covar : float
        Added to the diagonal of the prior's W0^-1 (keeps it positive definite).
    weight_concentration_prior : float or None
        alpha0 of the symmetric Dirichlet; default 1 / n_components.
    mean_prior : array-like (d,) or None
        m0; default the mean of X.
    mean_precision_prior : float
        beta0; default 1.
    degrees_of_freedom_prior : float or None
        nu0 (> d - 1); default d.
    covariance_prior : array-like (d, d) or None
        W0^-1; default the sample covariance of X. (The defaults are scikit-learn's.)

    Attributes
    ----------
    weights_ (k,) = E[pi]; means_ (k, d) = m_k; covariances_ (k, d, d) = W_k^-1 / nu_k;
    precisions_cholesky_ (k, d, d); weight_concentration_ (k,) alpha; mean_precision_ (k,) beta;
    degrees_of_freedom_ (k,) nu; converged_, n_iter_, lower_bound_, lower_bounds_ (ELBO / n).
    `predict` and `predict_proba` use r_nk; `score_samples` and `sample` the point estimates.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-6,
        max_iter: int = 500,
        n_init: int = 1,
        reg_covar: float = 1e-6,
        init: str = "kmeans++",
        random_state: int | None = None,
        dtype: torch.dtype = torch.float64,
        weight_concentration_prior: float | None = None,
        mean_prior=None,
        mean_precision_prior: float = 1.0,
        degrees_of_freedom_prior: float | None = None,
        covariance_prior=None,
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
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_prior = mean_prior
        self.mean_precision_prior = mean_precision_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior

    # ------------------------------------------------------------ priors
    def _set_priors(self, X: torch.Tensor) -> None:
        n, d = X.shape
        kw = {"dtype": X.dtype, "device": X.device}
        if self.covariance_type != "full":
            raise InputError("VariationalGaussianMixture supports covariance_type='full' only")
        self._alpha0 = self.weight_concentration_prior or 1.0 / self.n_components
        self._beta0 = float(self.mean_precision_prior)
        self._nu0 = float(self.degrees_of_freedom_prior or d)
        if self._nu0 <= d - 1 or self._beta0 <= 0 or self._alpha0 <= 0:
            raise InputError(
                f"need degrees_of_freedom_prior > {d - 1} and positive "
                "weight_concentration_prior and mean_precision_prior"
            )
        self._m0 = X.mean(0) if self.mean_prior is None else torch.as_tensor(self.mean_prior, **kw)
        cov0 = (
            torch.cov(X.T).reshape(d, d)
            if self.covariance_prior is None
            else torch.as_tensor(self.covariance_prior, **kw)
        )
        self._w0_inv = cov0 + self.reg_covar * torch.eye(d, **kw)

    def _init_state(self, X: torch.Tensor, resp: torch.Tensor) -> None:
        self._set_priors(X)
        self._m_step(X, resp)

    # ------------------------------------------------------------ coordinate ascent
    def _m_step(self, X: torch.Tensor, resp: torch.Tensor) -> None:
        """q(pi) q(mu, Lambda) from the responsibilities (PRML 10.58-10.63)."""
        nk, xbar, sk = G.gaussian_statistics(X, resp, 0.0, "full")  # (k,), (k, d), (k, d, d)
        alpha = self._alpha0 + nk
        beta = self._beta0 + nk
        nu = self._nu0 + nk
        m = (self._beta0 * self._m0 + nk[:, None] * xbar) / beta[:, None]
        dx = xbar - self._m0  # (k, d)
        w_inv = (
            self._w0_inv
            + nk[:, None, None] * sk
            + (self._beta0 * nk / beta)[:, None, None] * dx[:, :, None] * dx[:, None, :]
        )
        w_inv = (w_inv + w_inv.mT) / 2
        u = G.precision_cholesky(w_inv, "full")  # W_k = U U^T
        self._state = {
            "alpha": alpha,
            "beta": beta,
            "nu": nu,
            "u": u,
            "weights": alpha / alpha.sum(),
            "means": m,
            "covariances": w_inv / nu[:, None, None],
            "prec_chol": u * nu.sqrt()[:, None, None],
        }

    def _log_rho(self, X: torch.Tensor) -> torch.Tensor:
        """ln rho_nk (PRML 10.46 with 10.64-10.66): (n, d) -> (n, k)."""
        s, d = self._state, X.shape[1]
        log_det_w = 2 * torch.diagonal(s["u"], dim1=-2, dim2=-1).log().sum(-1)
        e_log_det = W.expected_log_det(log_det_w, s["nu"], d)  # (k,)
        e_log_pi = torch.digamma(s["alpha"]) - torch.digamma(s["alpha"].sum())
        # log N with precision W_k (prec_chol U_k) gives -(d ln 2pi + maha)/2 + ln|W_k|/2:
        log_n = G.log_gaussian_prob(X, s["means"], s["u"], "full")  # (n, k)
        maha = -2 * (log_n - 0.5 * log_det_w) - d * math.log(2 * math.pi)
        return e_log_pi + 0.5 * e_log_det - 0.5 * d * math.log(2 * math.pi) - 0.5 * (d / s["beta"] + s["nu"] * maha)

    def _e_step(self, X: torch.Tensor) -> tuple[torch.Tensor, float]:
        """ln r_nk and the ELBO per sample at the current q(pi) q(mu, Lambda)."""
        s = self._state
        log_rho = self._log_rho(X)
        log_norm = torch.logsumexp(log_rho, 1, keepdim=True)  # (n, 1)
        alpha0 = torch.full_like(s["alpha"], self._alpha0)
        kl_pi = kl_divergence(Dirichlet(s["alpha"]), Dirichlet(alpha0))
        kl_mu_lambda = W.gaussian_wishart_kl(
            s["means"], s["beta"], s["u"], s["nu"], self._m0, self._beta0, self._w0_inv, self._nu0
        ).sum()
        elbo = log_norm.sum() - kl_pi - kl_mu_lambda
        return log_rho - log_norm, (elbo / X.shape[0]).item()

    def _weighted_log_prob(self, X: torch.Tensor) -> torch.Tensor:
        return self._log_rho(X)

    def _publish(self) -> None:
        super()._publish()
        s, np_ = self._state, self._numpy
        self.weight_concentration_ = to_kind(s["alpha"], np_)
        self.mean_precision_ = to_kind(s["beta"], np_)
        self.degrees_of_freedom_ = to_kind(s["nu"], np_)
