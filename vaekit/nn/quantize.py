"""Vector quantizers: a codebook of K vectors and nearest-neighbour assignment (van den Oord et al. 2017).

    k(z_e) = argmin_k ||z_e - e_k||^2,   z_q = e_k(z_e)

Two small classes, in the manner of sonnet's `VectorQuantizer` / `VectorQuantizerEMA`, share one
base for the assignment, the straight-through estimator and the dead-code restarts:

- `VectorQuantizer` learns the codebook by gradient descent on the codebook loss
  ||sg[z_e] - e||^2 (returned in `codebook_loss`; the objective adds it).
- `VectorQuantizerEMA` learns it as exponential moving averages of the encoder outputs assigned
  to each code (the paper's appendix; decay 0.99); its `codebook_loss` is zero.

Both restart dead codes: a code unused for `restart_after` training steps is re-initialised to
an encoder output drawn from the current batch. Everything is written with tensor operations and
masked writes (`torch.where`), so a training step has no host synchronisation.

`QuantizerOutput` fields (tensors on the input's device):
    quantized        (B, D, H, W) z_q with the straight-through gradient: z_e + sg[z_q - z_e]
    codes            (B, H, W) int64 code indices
    codebook_loss    (B,) ||sg[z_e] - z_q||^2 summed over the grid (zero for the EMA variant)
    commitment_loss  (B,) ||z_e - sg[z_q]||^2 summed over the grid
    perplexity       () exp(entropy of the batch's code usage): K when all codes are used evenly
    usage            () fraction of the K codes used in the batch
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor
    codes: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor
    usage: torch.Tensor


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(H(p)) of the usage distribution p = counts / sum(counts), with 0 log 0 = 0. counts: (K,)."""
    p = counts / counts.sum().clamp_min(1e-12)
    return torch.exp(-torch.special.xlogy(p, p).sum())


class _Quantizer(nn.Module):
    """Codebook (K, D), nearest-neighbour lookup, straight-through output and dead-code restarts."""

    def __init__(self, num_codes: int, code_dim: int, restart_after: int = 100):
        super().__init__()
        self.num_codes, self.code_dim, self.restart_after = num_codes, code_dim, restart_after
        self.register_buffer("unused_steps", torch.zeros(num_codes))  # training steps since each code was last used

    @property
    def codebook(self) -> torch.Tensor:  # (K, D)
        raise NotImplementedError

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of flat (N, D) -> (N,)."""
        e = self.codebook  # (K, D)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]  # (N, K)
        return dist.argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices (B, H, W) -> their vectors as a grid (B, D, H, W)."""
        return self.codebook[codes].permute(0, 3, 1, 2)

    def quantize(self, z_e: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B, D, H, W) -> code indices (B, H, W), no side effects."""
        b, d, h, w = z_e.shape
        return self.nearest(z_e.permute(0, 2, 3, 1).reshape(-1, d)).view(b, h, w)

    def forward(self, z_e: torch.Tensor) -> QuantizerOutput:
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)  # (N, D), N = B*H*W
        codes = self.nearest(flat.detach())  # (N,)
        onehot = nn.functional.one_hot(codes, self.num_codes).to(flat.dtype)  # (N, K)
        counts = onehot.sum(0)  # (K,)
        if self.training:
            self._update(flat.detach(), onehot, counts)
        z_q = self.lookup(codes.view(b, h, w))  # (B, D, H, W), after any update
        codebook_loss = (z_q - z_e.detach()).pow(2).sum((1, 2, 3))  # (B,)
        commitment_loss = (z_e - z_q.detach()).pow(2).sum((1, 2, 3))  # (B,)
        quantized = z_e + (z_q - z_e).detach()  # straight-through: forward z_q, gradient to z_e
        usage = (counts > 0).to(flat.dtype).mean()
        return QuantizerOutput(
            quantized,
            codes.view(b, h, w),
            self._codebook_term(codebook_loss),
            commitment_loss,
            perplexity(counts),
            usage,
        )

    def _codebook_term(self, loss: torch.Tensor) -> torch.Tensor:
        return loss

    def _update(self, flat: torch.Tensor, onehot: torch.Tensor, counts: torch.Tensor) -> None:
        """Training-time bookkeeping: count unused steps and restart codes unused for too long."""
        self.unused_steps.copy_(torch.where(counts > 0, torch.zeros_like(counts), self.unused_steps + 1))
        if self.restart_after > 0:
            dead = self.unused_steps >= self.restart_after  # (K,)
            fresh = flat[torch.randint(0, flat.shape[0], (self.num_codes,), device=flat.device)]  # (K, D)
            self._restart(dead, fresh)
            self.unused_steps.masked_fill_(dead, 0.0)

    def _restart(self, dead: torch.Tensor, fresh: torch.Tensor) -> None:
        raise NotImplementedError


class VectorQuantizer(_Quantizer):
    """Codebook learned by gradient descent on the codebook loss ||sg[z_e] - e||^2."""

    def __init__(self, num_codes: int, code_dim: int, restart_after: int = 100):
        super().__init__(num_codes, code_dim, restart_after)
        self.embedding = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes))

    @property
    def codebook(self) -> torch.Tensor:
        return self.embedding

    @torch.no_grad()
    def _restart(self, dead: torch.Tensor, fresh: torch.Tensor) -> None:
        self.embedding.copy_(torch.where(dead[:, None], fresh, self.embedding))


class VectorQuantizerEMA(_Quantizer):
    """Codebook as exponential moving averages (decay gamma) of the encoder outputs assigned to each code.

        N_k <- gamma N_k + (1 - gamma) n_k            n_k: how many outputs chose code k in the batch
        m_k <- gamma m_k + (1 - gamma) sum_{i: k(i)=k} z_e,i
        e_k  = m_k / N~_k,   N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j   (Laplace smoothing)

    N starts at 1 and m at the initial codebook, so an unused code keeps its vector.
    """

    def __init__(self, num_codes: int, code_dim: int, restart_after: int = 100, decay: float = 0.99, eps: float = 1e-5):
        super().__init__(num_codes, code_dim, restart_after)
        self.decay, self.eps = decay, eps
        init = torch.randn(num_codes, code_dim)
        self.register_buffer("embedding", init.clone())  # (K, D)
        self.register_buffer("cluster_size", torch.ones(num_codes))  # (K,) N_k
        self.register_buffer("embed_sum", init.clone())  # (K, D) m_k

    @property
    def codebook(self) -> torch.Tensor:
        return self.embedding

    def _codebook_term(self, loss: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(loss)  # the codebook follows the EMA, not a gradient

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, onehot: torch.Tensor, counts: torch.Tensor) -> None:
        g = self.decay
        self.cluster_size.mul_(g).add_(counts, alpha=1 - g)
        self.embed_sum.mul_(g).add_(onehot.t() @ flat, alpha=1 - g)  # (K, D)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n  # (K,)
        self.embedding.copy_(self.embed_sum / smoothed[:, None])
        super()._update(flat, onehot, counts)

    @torch.no_grad()
    def _restart(self, dead: torch.Tensor, fresh: torch.Tensor) -> None:
        self.embedding.copy_(torch.where(dead[:, None], fresh, self.embedding))
        self.embed_sum.copy_(torch.where(dead[:, None], fresh, self.embed_sum))
        self.cluster_size.copy_(torch.where(dead, torch.ones_like(self.cluster_size), self.cluster_size))


def build_quantizer(
    num_codes: int, code_dim: int, ema: bool, decay: float = 0.99, restart_after: int = 100
) -> _Quantizer:
    if ema:
        return VectorQuantizerEMA(num_codes, code_dim, restart_after, decay)
    return VectorQuantizer(num_codes, code_dim, restart_after)
