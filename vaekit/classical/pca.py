"""Principal component analysis on torch: the linear baseline every autoencoder is compared with."""

from __future__ import annotations

import torch

from vaekit.classical._base import as_tensor, fitted_input, require_fitted, to_kind
from vaekit.info import InputError


class PCA:
    """Principal component analysis by the thin SVD of the centred data.

    With X - mean = U S V^T (n x d), the principal axes are the rows of V^T, the scores are
    (X - mean) V = U S, and component j explains variance S_j^2 / (n - 1) (PRML §12.1). Keeping
    the first m axes gives the best rank-m linear reconstruction in squared error, the bound a
    linear autoencoder reaches. Signs follow scikit-learn >= 1.5: the largest-magnitude entry of
    each component is positive.

    Parameters
    ----------
    n_components : int or None
        Components to keep, m <= min(n, d); None keeps min(n, d).
    dtype : torch.dtype
        Working precision, float64 by default.

    Attributes
    ----------
    components_ : (m, d)    principal axes, orthonormal rows
    explained_variance_ : (m,)
    explained_variance_ratio_ : (m,)   fraction of the total variance
    singular_values_ : (m,)
    mean_ : (d,)
    n_components_ : int

    Fitted on NumPy, attributes are NumPy; fitted on a tensor, tensors on its device.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5)) * [5, 2, 1, 0.1, 0.1]
    >>> pca = PCA(2).fit(X)
    >>> round(float(pca.explained_variance_ratio_.sum()), 2)
    0.97
    >>> pca.inverse_transform(pca.transform(X)).shape
    (100, 5)
    """

    def __init__(self, n_components: int | None = None, *, dtype: torch.dtype = torch.float64):
        self.n_components = n_components
        self.dtype = dtype

    def fit(self, X, y=None) -> PCA:
        """Fit the axes to X (n_samples, n_features); returns ``self``."""
        X, self._numpy = as_tensor(X, self.dtype)
        n, d = X.shape
        m = min(n, d) if self.n_components is None else self.n_components
        if not 1 <= m <= min(n, d):
            raise InputError(f"n_components must be between 1 and min(n_samples, n_features) = {min(n, d)}, got {m}")
        mean = X.mean(0)
        _, s, vt = torch.linalg.svd(X - mean, full_matrices=False)  # s (r,), vt (r, d)
        rows = torch.arange(vt.shape[0], device=vt.device)
        signs = torch.sign(vt[rows, vt.abs().argmax(1)])
        vt = vt * signs[:, None]
        var = s.pow(2) / max(n - 1, 1)
        self._mean, self._components = mean, vt[:m]
        self.n_components_ = m
        np_ = self._numpy
        self.mean_ = to_kind(mean, np_)
        self.components_ = to_kind(vt[:m], np_)
        self.singular_values_ = to_kind(s[:m], np_)
        self.explained_variance_ = to_kind(var[:m], np_)
        self.explained_variance_ratio_ = to_kind(var[:m] / var.sum(), np_)
        return self

    def _check(self, X, scores: bool) -> tuple[torch.Tensor, bool]:
        require_fitted(self, "_components")
        width = self.n_components_ if scores else self._components.shape[1]
        return fitted_input(X, self.dtype, width, self._mean.device)

    def transform(self, X):
        """Scores (X - mean) V_m: (n, d) -> (n, m)."""
        X, np_ = self._check(X, scores=False)
        return to_kind((X - self._mean) @ self._components.T, np_)

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Reconstruction Z V_m^T + mean: (n, m) -> (n, d)."""
        Z, np_ = self._check(Z, scores=True)
        return to_kind(Z @ self._components + self._mean, np_)
