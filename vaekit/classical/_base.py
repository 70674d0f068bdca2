"""What the mixtures share: input conversion, the fit loop with its restarts, and everything a
fitted mixture can do (predict, score, sample, BIC/AIC). The EM and VI estimators supply three
hooks: ``_init_state(X, resp)``, ``_m_step(X, resp)`` and ``_e_step(X) -> (log_resp, bound)``.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, MultivariateNormal, Normal

from vaekit.classical import _gaussian as G
from vaekit.info import InputError


class ConvergenceWarning(UserWarning):
    """EM or VI stopped at ``max_iter`` before the bound changed by less than ``tol``."""


def as_tensor(X, dtype: torch.dtype = torch.float64, name: str = "X") -> tuple[torch.Tensor, bool]:
    """(n_samples, n_features) float tensor of ``X`` and whether ``X`` was NumPy (or a list).

    Tensors keep their device, so a CUDA input runs on the GPU.
    """
    is_numpy = not isinstance(X, torch.Tensor)
    if is_numpy:
        a = np.asarray(X)
        t = torch.as_tensor(a if a.flags.writeable else a.copy(), dtype=dtype)
    else:
        t = X.detach().to(dtype)
    if t.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or infinity")
    return t, is_numpy


def require_fitted(estimator, attribute: str) -> None:
    """Raises InputError unless `fit` has set `attribute` on `estimator`."""
    if not hasattr(estimator, attribute):
        raise InputError(f"this {type(estimator).__name__} is not fitted yet: call fit(X) first")


def fitted_input(X, dtype: torch.dtype, width: int, device: torch.device) -> tuple[torch.Tensor, bool]:
    """`as_tensor(X)` on the fitted device, checked to have the `width` columns the estimator was fitted on."""
    X, is_numpy = as_tensor(X, dtype)
    if X.shape[1] != width:
        raise InputError(f"X has {X.shape[1]} features but the estimator was fitted on {width}")
    return X.to(device), is_numpy


def to_kind(t: torch.Tensor, numpy: bool):
    """Hand a result back as NumPy when the input was NumPy."""
    return t.detach().cpu().numpy() if numpy else t


def make_generator(seed: int | None, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(random.randrange(2**63) if seed is None else int(seed))
    return g


class MixtureBase:
    """Shared machinery of `GaussianMixture` and `VariationalGaussianMixture`."""

    def _check_params(self, X: torch.Tensor) -> None:
        G.check_cov_type(self.covariance_type)
        if self.init not in ("kmeans++", "random"):
            raise InputError(f"init must be 'kmeans++' or 'random', got {self.init!r}")
        if self.n_components < 1 or self.n_init < 1 or self.max_iter < 1:
            raise InputError("n_components, n_init and max_iter must be at least 1")
        if X.shape[0] < self.n_components:
            raise InputError(
                f"{X.shape[0]} samples cannot fit {self.n_components} components: "
                "give more samples or lower n_components"
            )

    def _initial_resp(self, X: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Responsibilities (n, k) to start from: hard k-means labels or random rows."""
        n, k = X.shape[0], self.n_components
        if self.init == "kmeans++":
            labels = G.kmeans_labels(X, k, g)
            return torch.nn.functional.one_hot(labels, k).to(X.dtype)
        resp = torch.rand(n, k, generator=g, dtype=X.dtype, device=X.device)
        return resp / resp.sum(1, keepdim=True)

    def fit(self, X, y=None):
        """Fit the mixture, keeping the best of ``n_init`` runs; returns ``self``.

        Parameters
        ----------
        X : ndarray or Tensor, shape (n_samples, n_features)
            NumPy in, NumPy attributes out; a tensor keeps its device and gives tensors.
        """
        X, self._numpy = as_tensor(X, self.dtype)
        self._check_params(X)
        self._gen = make_generator(self.random_state, X.device)
        best = None
        for _ in range(self.n_init):
            self._init_state(X, self._initial_resp(X, self._gen))
            trace, converged = self._run(X)
            if best is None or trace[-1] > best[0][-1]:
                best = (trace, converged, dict(self._state))
        self.lower_bounds_, self.converged_, self._state = best
        self.lower_bound_, self.n_iter_ = self.lower_bounds_[-1], len(self.lower_bounds_)
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge in {self.max_iter} iterations: raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._publish()
        return self

    def _run(self, X: torch.Tensor) -> tuple[list[float], bool]:
        """One run from the current state: E-step, stop if the bound moved < tol, M-step."""
        trace: list[float] = []
        for _ in range(self.max_iter):
            log_resp, bound = self._e_step(X)
            trace.append(bound)
            if len(trace) > 1 and abs(trace[-1] - trace[-2]) < self.tol:
                return trace, True
            self._m_step(X, log_resp.exp())
        return trace, False

    def _publish(self) -> None:
        """Copy the point estimates into the public, sklearn-named attributes."""
        s, np_ = self._state, self._numpy
        self.weights_ = to_kind(s["weights"], np_)
        self.means_ = to_kind(s["means"], np_)
        self.covariances_ = to_kind(s["covariances"], np_)
        self.precisions_cholesky_ = to_kind(s["prec_chol"], np_)

    # ------------------------------------------------------------ using a fitted mixture
    def _fitted(self, X) -> tuple[torch.Tensor, bool]:
        require_fitted(self, "_state")
        means = self._state["means"]  # (k, d)
        return fitted_input(X, self.dtype, means.shape[1], means.device)

    def _point_log_prob(self, X: torch.Tensor) -> torch.Tensor:
        """log pi_j + log N(x | mu_j, Sigma_j) with the point estimates: (n, d) -> (n, k)."""
        s = self._state
        logp = G.log_gaussian_prob(X, s["means"], s["prec_chol"], self.covariance_type)
        return logp + s["weights"].log()

    def _weighted_log_prob(self, X: torch.Tensor) -> torch.Tensor:
        return self._point_log_prob(X)

    def score_samples(self, X):
        """log p(x) of each sample under the fitted mixture: (n, d) -> (n,)."""
        X, np_ = self._fitted(X)
        return to_kind(torch.logsumexp(self._point_log_prob(X), 1), np_)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample (nats)."""
        X, _ = self._fitted(X)
        return torch.logsumexp(self._point_log_prob(X), 1).mean().item()

    def predict_proba(self, X):
        """Posterior probability of each component for each sample: (n, d) -> (n, k)."""
        X, np_ = self._fitted(X)
        return to_kind(torch.softmax(self._weighted_log_prob(X), 1), np_)

    def predict(self, X):
        """The most probable component of each sample: (n, d) -> (n,) int64."""
        X, np_ = self._fitted(X)
        return to_kind(self._weighted_log_prob(X).argmax(1), np_)

    def sample(self, n_samples: int = 1):
        """Draw from the fitted mixture; returns ``(X (n, d), labels (n,))`` like scikit-learn,
        as tensors on the fitted device (NumPy arrays when fitted on NumPy)."""
        require_fitted(self, "_state")
        if n_samples < 1:
            raise InputError(f"n_samples must be at least 1, got {n_samples}")
        s = self._state
        labels = torch.multinomial(s["weights"], n_samples, replacement=True, generator=self._gen)
        X = G.sample_gaussians(s["means"], s["covariances"], self.covariance_type, labels, self._gen)
        return to_kind(X, self._numpy), to_kind(labels, self._numpy)

    def to_distribution(self, dtype: torch.dtype = torch.float32, device=None) -> MixtureSameFamily:
        """The fitted mixture as a torch distribution, event (d,): `sample` and `log_prob` like any prior.

        Its log_prob equals `score_samples` (up to `dtype`); its draws use the global torch RNG.
        """
        require_fitted(self, "_state")
        s = self._state
        k, d = s["means"].shape
        cov = s["covariances"]  # shaped by covariance_type, see the estimator's docstring

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device if device is not None else t.device, dtype=dtype)

        if self.covariance_type in ("full", "tied"):
            scale_tril = torch.linalg.cholesky(cov if cov.ndim == 3 else cov.expand(k, d, d))  # (k, d, d)
            components = MultivariateNormal(cast(s["means"]), scale_tril=cast(scale_tril), validate_args=False)
        else:  # diag (k, d) or spherical (k,)
            scale = (cov if cov.ndim == 2 else cov[:, None].expand(k, d)).sqrt()  # (k, d)
            components = Independent(Normal(cast(s["means"]), cast(scale), validate_args=False), 1)
        return MixtureSameFamily(
            Categorical(probs=cast(s["weights"]), validate_args=False), components, validate_args=False
        )

    def _n_parameters(self) -> int:
        k, d = self._state["means"].shape
        return G.n_parameters(k, d, self.covariance_type)

    def bic(self, X) -> float:
        """Bayesian information criterion -2 log L + p log n (lower is better)."""
        n = as_tensor(X, self.dtype)[0].shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * float(np.log(n))

    def aic(self, X) -> float:
        """Akaike information criterion -2 log L + 2 p (lower is better)."""
        n = as_tensor(X, self.dtype)[0].shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()
