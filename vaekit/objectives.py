"""Objectives: what training minimises, as plain callables on (model, batch).

An objective is called as `objective(model, x, y, progress)` and returns a `LossOutput`: the scalar
loss (mean over the batch, nats per example) and a dict of per-example terms (B,) for logging.
`progress` is training progress in epochs as a 0-dim tensor, so schedules such as KL warm-up live
with the objective and the training step stays free of Python-side state (it can be captured in a
CUDA graph). One reduction rule everywhere: log-densities are summed over event dimensions by the
distributions themselves, giving shape (B,), and averaged once here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import kl_divergence


@dataclass
class LossOutput:
    loss: torch.Tensor  # () the scalar to minimise
    terms: dict[str, torch.Tensor]  # name -> (B,) per-example values, in nats


class ELBO:
    """The evidence lower bound of Kingma & Welling (2013), with a weight on the KL term.

        ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

    The expectation uses one reparameterized draw z = mu + sigma * eps; the KL is the closed form
    from `torch.distributions.kl_divergence`. The loss is -(recon term) + w * KL with
    w = beta * min(1, progress / warmup_epochs): beta > 1 is the beta-VAE of Higgins et al. (2017);
    a warm-up (Bowman et al. 2016; Sønderby et al. 2016) keeps early training from switching
    latents off. The logged 'elbo' is always the true bound (w = 1).
    """

    def __init__(self, beta: float = 1.0, warmup_epochs: float = 0.0):
        self.beta = beta
        self.warmup_epochs = warmup_epochs

    def kl_weight(self, progress: torch.Tensor) -> torch.Tensor:
        if self.warmup_epochs <= 0:
            return torch.as_tensor(self.beta, device=progress.device)
        return self.beta * torch.clamp(progress / self.warmup_epochs, max=1.0)

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        q = model.encode(x, y)  # q(z|x), batch (B,), event (D,)
        z = q.rsample()  # (B, D)
        recon = -model.decode(z, y).log_prob(x)  # (B,)
        kl = kl_divergence(q, model.prior())  # (B,)
        loss = (recon + self.kl_weight(progress) * kl).mean()
        return LossOutput(loss, {"elbo": -(recon + kl), "recon": recon, "kl": kl})
