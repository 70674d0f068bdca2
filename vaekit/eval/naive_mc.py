"""Naive Monte Carlo evidence: log p(x) with z drawn from the prior instead of from q(z|x).

    p(x) = ∫ p(x|z) p(z) dz  ≈  (1/K) Σ_k p(x|z_k),   z_k ~ p(z)

is unbiased for p(x), and it is the first estimate anyone would try ("decode random codes and
count how often one gives x"). It is hopeless for a model that learned anything: only a sliver of
the prior's mass explains a given x, so almost every draw contributes nothing and the sum is
ruled by the rare draw that lands in that sliver. The number of draws it takes is about
exp(KL(p(z|x) || p(z))) (Chatterjee & Diaconis 2018), i.e. e^(nats of information the code holds
about x). Importance sampling with the encoder's q(z|x) (`vaekit.eval.likelihood`) is the cure.

The draws do not depend on x, so one batch of K codes is decoded once and scored against a whole
block of images: log p(x_b | z_k) for all (k, b) is a matrix product for Bernoulli and Gaussian
decoders. That is what makes K = 10^6 affordable on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.distributions import Bernoulli, Distribution, Normal

from vaekit.errors import VaekitError
from vaekit.nn.distributions import peel


def log_likelihood_matrix(px_z: Distribution, x: torch.Tensor) -> torch.Tensor:
    """log p(x_b | z_k) for every decoded code k and image b -> (K, B).

    px_z: the decoder's distribution for K codes, batch shape (K,), event shape (C, H, W).
    x: images (B, C, H, W). Bernoulli and Gaussian decoders use matrix products; any other
    distribution falls back to one log_prob call per image.
    """
    base = peel(px_z)
    k, xf = px_z.batch_shape[0], x.reshape(x.shape[0], -1)  # (B, P)
    if isinstance(base, Bernoulli):
        logits = base.logits.reshape(k, -1)  # (K, P)
        # log Bernoulli(x; sigmoid(l)) = x*l - softplus(l), also for grey x in [0, 1]
        return logits @ xf.to(logits.dtype).T - torch.nn.functional.softplus(logits).sum(1, keepdim=True)  # (K, B)
    if isinstance(base, Normal):
        # float64: the expanded square subtracts large terms when the scale is small
        mean, prec = base.loc.reshape(k, -1).double(), base.scale.reshape(k, -1).double().pow(-2)  # (K, P)
        xd = xf.double()
        square = prec @ xd.pow(2).T - 2 * (mean * prec) @ xd.T + (mean.pow(2) * prec).sum(1, keepdim=True)  # (K, B)
        log_norm = 0.5 * prec.log().sum(1, keepdim=True) - 0.5 * xf.shape[1] * math.log(2 * math.pi)  # (K, 1)
        return (log_norm - 0.5 * square).to(base.loc.dtype)
    return torch.stack([px_z.log_prob(image) for image in x], dim=1)  # (K, B)


@torch.no_grad()
def prior_sampling_evidence(
    model, x: torch.Tensor, ks: Sequence[int], repeats: int = 1, chunk: int = 10_000, progress=None
) -> torch.Tensor:
    """Naive estimates log (1/K) Σ_{k<=K} p(x|z_k), z_k ~ p(z), for every K in `ks` -> (repeats, len(ks), B), float64.

    Within a repeat the estimates are nested (the K = 100 one uses the first 100 of the draws that
    the K = 1000 one uses); repeats use fresh draws. x: (B, C, H, W) on the model's device.
    `chunk` codes are decoded at a time (memory: about chunk * (P + B) floats). `progress`, if
    given, is updated with the number of codes decoded.
    """
    ks = sorted(int(k) for k in ks)
    if not ks or ks[0] < 1:
        raise VaekitError(f"prior samples K must be at least 1, got {ks}")
    if model.num_labels:
        raise VaekitError(
            "--proposal prior needs an unconditional model: a conditional decoder p(x|z, y) cannot share "
            "its draws across images of different labels"
        )
    if not model.has_prior:
        raise VaekitError(f"{type(model).__name__} has no prior p(z) to draw codes from")
    model.eval()
    prior = model.prior()
    out = torch.empty(repeats, len(ks), x.shape[0], dtype=torch.float64, device=x.device)
    for r in range(repeats):
        running = torch.full((x.shape[0],), -math.inf, dtype=torch.float64, device=x.device)  # log Σ p(x|z_k)
        done = 0
        for j, k in enumerate(ks):
            while done < k:
                take = min(chunk, k - done)
                z = prior.sample((take,))  # (take, D)
                log_px = log_likelihood_matrix(model.decode(z), x).double()  # (take, B)
                running = torch.logaddexp(running, torch.logsumexp(log_px, dim=0))
                done += take
                if progress is not None:
                    progress.update(take)
            out[r, j] = running - math.log(k)
    return out
