"""Disentanglement: the mutual information gap (MIG) of Chen et al. (2018), "Isolating Sources of
Disentanglement in Variational Autoencoders".

For each generating factor v_k, MIG compares the two latent dimensions that carry the most
information about it:

    MIG = 1/K sum_k ( I(z_{j(k)}; v_k) - max_{j != j(k)} I(z_j; v_k) ) / H(v_k),   j(k) = argmax_j I(z_j; v_k)

It is 1 when every factor lives in exactly one latent (and that latent determines it) and 0
when the best latent for a factor is no better than the runner-up. As in Locatello et al.'s
disentanglement_lib, each latent (the posterior mean) is discretized into `bins` equal-width
bins over its range and the mutual informations are those of the empirical joint tables, via
`vaekit.info.mutual_information`. Note the ceiling this puts on a perfect code: a factor with
more values than bins cannot be recovered fully from one binned latent (32 positions in 20 bins
keep about 87% of their entropy), so compare MIGs at one bin count.
"""

from __future__ import annotations

import torch

from vaekit import info
from vaekit.errors import VaekitError
from vaekit.generate.images import posterior_means  # noqa: F401  (re-exported: MIG is computed on these codes)


def discretize(codes: torch.Tensor, bins: int = 20) -> torch.Tensor:
    """Equal-width binning of each column of codes (N, L) over its range -> bin indices (N, L) in [0, bins)."""
    lo, hi = codes.min(0).values, codes.max(0).values  # (L,)
    scaled = (codes - lo) / (hi - lo).clamp_min(1e-12) * bins  # (N, L) in [0, bins]
    return scaled.long().clamp_(0, bins - 1)


def _as_indices(column: torch.Tensor) -> tuple[torch.Tensor, int]:
    values, index = torch.unique(column, return_inverse=True)
    return index, values.numel()


def mutual_information_matrix(binned: torch.Tensor, factors: torch.Tensor, bins: int) -> torch.Tensor:
    """I(z_j; v_k) in nats from binned latents (N, L) and factor values (N, F) -> (L, F)."""
    n, latents = binned.shape
    out = torch.empty(latents, factors.shape[1], dtype=torch.float64)
    rows = torch.arange(latents) * bins  # offsets of each latent's block of the flat joint table
    for k in range(factors.shape[1]):
        v, n_v = _as_indices(factors[:, k])  # (N,)
        flat = ((rows[None] + binned) * n_v + v[:, None]).flatten()  # (N*L,) cell of the (L, bins, n_v) table
        joint = torch.bincount(flat, minlength=latents * bins * n_v).view(latents, bins, n_v).double() / n
        out[:, k] = info.mutual_information(joint)  # (L,)
    return out


def factor_entropies(factors: torch.Tensor) -> torch.Tensor:
    """H(v_k) in nats of each column of factors (N, F) -> (F,)."""
    return torch.stack(
        [
            info.entropy(torch.bincount(_as_indices(factors[:, k])[0]).double(), normalize=True)
            for k in range(factors.shape[1])
        ]
    )


def mig(codes: torch.Tensor, factors: torch.Tensor, bins: int = 20) -> dict:
    """The mutual information gap of latent codes (N, L) for generating factors (N, F).

    Returns a dict: 'mig' (the mean over factors, a float), 'per_factor' (F floats: each factor's
    normalized gap), 'mi' (L x F nested list of I(z_j; v_k) in nats), 'entropy' (F floats, H(v_k)).
    """
    codes, factors = torch.as_tensor(codes).detach().cpu().double(), torch.as_tensor(factors).cpu()
    if codes.ndim != 2 or factors.ndim != 2 or codes.shape[0] != factors.shape[0]:
        raise VaekitError(
            f"MIG needs codes (N, L) and factors (N, F) with one N, got {tuple(codes.shape)} and {tuple(factors.shape)}"
        )
    if codes.shape[1] < 2:
        raise VaekitError(
            "MIG needs at least 2 latent dimensions: a gap is between the best and the second-best latent"
        )
    if bins < 2:
        raise VaekitError(f"MIG needs at least 2 bins, got {bins}")
    mi = mutual_information_matrix(discretize(codes, bins), factors, bins)  # (L, F)
    h = factor_entropies(factors)  # (F,)
    top = mi.topk(2, dim=0).values  # (2, F)
    gap = (top[0] - top[1]) / h.clamp_min(1e-12)  # (F,); a constant factor scores 0
    return {"mig": float(gap.mean()), "per_factor": gap.tolist(), "mi": mi.tolist(), "entropy": h.tolist()}
