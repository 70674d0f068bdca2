"""Pure functions for the Gaussian-Wishart and Dirichlet factors of mean-field VI (Bishop, PRML
§10.2 and Appendix B). A Wishart W(Lambda | W, nu) on a d x d precision is held through U, the
upper-triangular factor with W = U U^T (so log|W| = 2 sum log diag U).
"""

from __future__ import annotations

import math

import torch


def log_wishart_norm(log_det_w: torch.Tensor, nu: torch.Tensor, d: int) -> torch.Tensor:
    """ln B(W, nu) = -(nu/2) ln|W| - (nu d/2) ln 2 - ln Gamma_d(nu/2)   (PRML B.79)."""
    return -0.5 * nu * log_det_w - 0.5 * nu * d * math.log(2) - torch.special.multigammaln(0.5 * nu, d)


def expected_log_det(log_det_w: torch.Tensor, nu: torch.Tensor, d: int) -> torch.Tensor:
    """E[ln|Lambda|] = sum_{i=1..d} psi((nu + 1 - i)/2) + d ln 2 + ln|W|   (PRML 10.65, B.81).

    Parameters: log_det_w (k,), nu (k,). Returns (k,).
    """
    i = torch.arange(1, d + 1, dtype=nu.dtype, device=nu.device)
    return torch.digamma((nu[:, None] + 1 - i) / 2).sum(1) + d * math.log(2) + log_det_w


def wishart_kl(
    log_det_w: torch.Tensor,
    nu: torch.Tensor,
    w: torch.Tensor,
    log_det_w0: torch.Tensor,
    nu0: float,
    w0_inv: torch.Tensor,
) -> torch.Tensor:
    """KL(W(W_k, nu_k) || W(W_0, nu_0)) for each k.

    = ln B(W_k, nu_k) - ln B(W_0, nu_0) + (nu_k - nu_0)/2 E_k[ln|Lambda|] - nu_k d/2
      + nu_k/2 tr(W_0^-1 W_k),
    from ln W(Lambda | W, nu) = ln B(W, nu) + (nu - d - 1)/2 ln|Lambda| - tr(W^-1 Lambda)/2 and
    E[Lambda] = nu W (PRML B.78-B.80).

    Parameters
    ----------
    log_det_w, nu : (k,); w : (k, d, d) the scale matrices W_k.
    log_det_w0 : () ln|W_0|; nu0 : float; w0_inv : (d, d) W_0^-1.
    """
    d = w.shape[-1]
    nu0_t = torch.as_tensor(nu0, dtype=nu.dtype, device=nu.device)
    trace = torch.einsum("ij,kji->k", w0_inv, w)  # tr(W_0^-1 W_k)
    return (
        log_wishart_norm(log_det_w, nu, d)
        - log_wishart_norm(log_det_w0, nu0_t, d)
        + 0.5 * (nu - nu0) * expected_log_det(log_det_w, nu, d)
        - 0.5 * nu * d
        + 0.5 * nu * trace
    )


def gaussian_wishart_kl(
    m: torch.Tensor,
    beta: torch.Tensor,
    u: torch.Tensor,
    nu: torch.Tensor,
    m0: torch.Tensor,
    beta0: float,
    w0_inv: torch.Tensor,
    nu0: float,
) -> torch.Tensor:
    """KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)) for each k, both Gaussian-Wishart:
    N(mu | m, (beta Lambda)^-1) W(Lambda | W, nu) (PRML 10.40 prior, 10.59 posterior).

    = KL of the Wisharts + E_Lambda[KL of the Gaussians], the latter
      1/2 [d beta0/beta_k - d + d ln(beta_k/beta0) + beta0 nu_k (m_k - m0)^T W_k (m_k - m0)].
    Together with the Dirichlet KL this is the parameter part of the ELBO (PRML 10.73-10.77).

    Parameters
    ----------
    m : (k, d); beta, nu : (k,); u : (k, d, d) upper factors, W_k = U_k U_k^T.
    m0 : (d,); beta0 : float; w0_inv : (d, d) the prior's W_0^-1; nu0 : float.
    """
    d = m.shape[1]
    w = u @ u.mT  # (k, d, d)
    log_det_w = 2 * torch.diagonal(u, dim1=-2, dim2=-1).log().sum(-1)
    log_det_w0 = -torch.linalg.slogdet(w0_inv)[1]
    maha = ((m - m0).unsqueeze(1) @ u).pow(2).sum((-2, -1))  # (m_k - m0)^T W_k (m_k - m0)
    kl_mean = 0.5 * (d * beta0 / beta - d + d * torch.log(beta / beta0) + beta0 * nu * maha)
    return kl_mean + wishart_kl(log_det_w, nu, w, log_det_w0, nu0, w0_inv)
