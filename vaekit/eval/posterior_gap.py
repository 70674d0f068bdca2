"""Per image: how tight the ELBO is, and how far q(z|x) is from the true posterior p(z|x).

    log p(x) = ELBO(x) + KL(q(z|x) || p(z|x))

so the gap between a large-K importance-sampled log p(x) and the ELBO measures, image by image,
the price of letting an encoder guess where the good codes are. The same draws give the
importance estimates at every smaller K (nested prefixes), so one pass shows the bound rising
with K, and the self-normalized weights estimate KL(p(z|x) || p(z)): the information the code
holds about x, whose exponential is about the number of prior draws naive Monte Carlo needs
(`vaekit.eval.naive_mc`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.distributions import kl_divergence

from vaekit.eval.likelihood import log_weights, memory_budget


@torch.no_grad()
def posterior_sampling_evidence(
    model, x: torch.Tensor, ks: Sequence[int], repeats: int = 1, max_elements: int | None = None, progress=None
) -> dict[str, torch.Tensor]:
    """Importance sampling with q(z|x) for images x (B, C, H, W); float64 results:

    estimates           (repeats, len(ks), B) log (1/K) Σ_{k<=K} w_k, nested within a repeat
    log_px              (B,) all repeats * max(ks) draws pooled: the best estimate of log p(x)
    elbo                (B,) E_q[log p(x|z)] (over all draws) - KL(q(z|x) || p(z)) (closed form)
    gap                 (B,) log_px - elbo ≈ KL(q(z|x) || p(z|x))
    kl_prior            (B,) KL(q(z|x) || p(z))
    kl_posterior_prior  (B,) KL(p(z|x) || p(z)) ≈ Σ_k w̃_k log p(x|z_k) - log p(x), w̃ self-normalized
    """
    ks = sorted(int(k) for k in ks)
    k_max = ks[-1]
    model.eval()
    budget = max_elements or memory_budget(x.device)
    index = torch.tensor([k - 1 for k in ks], device=x.device)
    estimates, lse, weighted, recon = [], [], [], []
    for _ in range(repeats):
        log_w, log_px, q = log_weights(model, x, None, k_max, budget)  # (K, B) each
        log_w, log_px = log_w.double(), log_px.double()
        prefix = torch.logcumsumexp(log_w, dim=0)[index]  # (len(ks), B)
        estimates.append(prefix - torch.log(torch.tensor(ks, dtype=torch.float64, device=x.device))[:, None])
        total = torch.logsumexp(log_w, dim=0)  # (B,)
        lse.append(total)
        weighted.append((torch.exp(log_w - total) * log_px).sum(0))  # Σ w̃ log p(x|z) within the repeat
        recon.append(log_px.mean(0))
        if progress is not None:
            progress.update(1)
    lse_all = torch.stack(lse)  # (R, B)
    pooled = torch.logsumexp(lse_all, dim=0)  # (B,)
    log_px_best = pooled - math.log(repeats * k_max)
    share = torch.exp(lse_all - pooled)  # (R, B): each repeat's share of the pooled weight
    kl_prior = kl_divergence(q, model.prior()).double()
    elbo = torch.stack(recon).mean(0) - kl_prior
    return {
        "estimates": torch.stack(estimates),
        "log_px": log_px_best,
        "elbo": elbo,
        "gap": log_px_best - elbo,
        "kl_prior": kl_prior,
        "kl_posterior_prior": (share * torch.stack(weighted)).sum(0) - log_px_best,
    }
