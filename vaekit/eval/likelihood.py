"""Honest evaluation: the ELBO, the importance-sampled log-likelihood, bits/dim, active units.

One importance-sampled loop (`block_terms`) serves images here and sentences in `vaekit.eval.text`
(whose perplexity is computed from its output).

The number papers report for a VAE is not its ELBO but an importance-sampled estimate of
-log p(x) (Burda et al. 2015, eq. 8):

    log p(x) ≈ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

a lower bound that equals the ELBO in expectation at K = 1 and rises to log p(x) as K grows.
Everything here is batched over images *and* samples: K draws for a block of images go through
the decoder as one (K_chunk * B)-row batch, never a Python loop per image. Chunks are sized to a
memory budget, and halved on an out-of-memory error, so large K fits any device.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch.distributions import Normal

from vaekit.errors import VaekitError
from vaekit.eval.latent import active_units
from vaekit.eval.naive_mc import prior_sampling_evidence
from vaekit.eval.partial import Partial
from vaekit.info import bits_per_dim
from vaekit.nn.distributions import kl_or_estimate, peel
from vaekit.nn.heads import is_discrete
from vaekit.objectives import importance_log_weights
from vaekit.precision import precision as numeric_precision


def _require_posterior(model) -> None:
    if model.own_evaluation or not model.has_prior:
        raise VaekitError(
            f"{type(model).__name__} has no probabilistic encoder q(z|x), so its likelihood cannot be estimated"
        )


@torch.no_grad()
def log_weights(
    model, x: torch.Tensor, y: torch.Tensor | None, k: int, max_elements: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Importance log-weights for a block of images.

    Returns (log_w, log_px_z, q) with log_w and log_px_z shaped (K, B): log_w = log p(x|z) +
    log p(z) - log q(z|x) for z_k ~ q(z|x), and q the encoder's distribution for the block.
    """
    q = model.encode(x, y)  # batch (B,), event (D,)
    per_sample = x[0].numel() * 4  # decoder output elements per draw, with room for intermediates
    chunk = max(1, min(k, max_elements // max(1, per_sample * x.shape[0])))
    log_w, log_px = [], []
    done = 0
    while done < k:
        take = min(chunk, k - done)
        try:
            lw, lp = importance_log_weights(model, x, y, q, _draw(q, take))  # (k_c, B) each
        except torch.OutOfMemoryError:
            if chunk == 1:
                raise VaekitError("out of memory even for one sample per image: lower --batch-size") from None
            chunk = max(1, chunk // 2)
            continue
        log_px.append(lp)
        log_w.append(lw)
        done += take
    return torch.cat(log_w), torch.cat(log_px), q


@dataclass
class BlockTerms:
    """Per data point of a block (B,), float64, nats: the importance-sampled -log p(x) with K draws,
    the reconstruction term -E_q[log p(x|z)], KL(q(z|x) || p(z)); and the codes' means E_q[z] (B, D)."""

    nll: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    code_means: torch.Tensor

    def sums(self) -> torch.Tensor:
        """(3,) float64: the block's sums of nll, recon and kl."""
        return torch.stack([self.nll.sum(), self.recon.sum(), self.kl.sum()])


@torch.no_grad()
def block_terms(model, x: torch.Tensor, y: torch.Tensor | None, k: int, max_elements: int) -> BlockTerms:
    """The importance-sampled loop for one block of data points x (images or sentences), K draws each:

        -log p(x) ≈ -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

    and the ELBO's two terms, the KL in closed form where torch has one, else (a mixture prior) the
    K-sample mean of log q - log p = log p(x|z) - log w."""
    log_w, log_px, q = log_weights(model, x, y, k, max_elements)  # (K, B) each
    log_w64 = log_w.double()
    nll = -(torch.logsumexp(log_w64, dim=0) - math.log(k))  # (B,)
    kl = kl_or_estimate(q, model.prior(y), lambda: (log_px.double() - log_w64).mean(0)).double()
    return BlockTerms(nll, -log_px.double().mean(0), kl, q.mean)


def mean_terms(totals: torch.Tensor, n: int) -> dict[str, float]:
    """Summed (nll, recon, kl) over n data points -> per data point elbo, nll, recon, kl (nats)."""
    nll, recon, kl = (totals / n).tolist()
    return {"elbo": -(recon + kl), "nll": nll, "recon": recon, "kl": kl}


def _draw(q, n: int) -> torch.Tensor:
    """n draws from q(z|x), (n, B, D). A Gaussian q draws its noise in float32 whatever the
    precision, so evaluations in float32, bf16 and float64 see the same z and differ only by
    their arithmetic (two dtypes' generators give unrelated numbers)."""
    base = peel(q)
    if not isinstance(base, Normal):
        return q.sample((n,))
    eps = torch.randn((n, *base.loc.shape), device=base.loc.device)  # float32
    return base.loc + base.scale * eps.to(base.loc.dtype)


@torch.no_grad()
def evaluate(
    model,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    k: int = 1000,
    batch_size: int = 500,
    max_elements: int | None = None,
    seed: int = 0,
    progress=None,
    precision: str = "float32",
    proposal: str = "posterior",
    partial: Partial | None = None,
) -> dict:
    """ELBO, importance-sampled NLL with K samples, bits/dim and active units over images x.

    A model without a probabilistic encoder provides `evaluate_split(x, y, batch_size, seed)`
    returning its own measures (reconstruction error, codebook usage, ...) and is asked for those.

    x: (N, C, H, W) on the model's device. `precision` is one of vaekit.precision.PRECISIONS;
    float64 evaluates a double copy of the model. Returns a dict of floats (nats per image):
      elbo          E_q[log p(x|z)] - KL(q||p)  (a lower bound on log p(x); negative)
      recon         -E_q[log p(x|z)], the reconstruction term as a loss
      kl            KL(q(z|x) || p(z)), closed form
      nll           -log p(x) estimated with K importance samples (<= -elbo in expectation)
      bits_per_dim  nll in bits per pixel (for continuous data: of the 8-bit discretized image)
      active_units  latents u with Cov_x(E_q[z_u]) > 0.01 (Burda et al. 2015)
      k, n          samples per image, images evaluated
      proposal      where the K codes come from: "posterior" q(z|x) (importance sampling), or
                    "prior" p(z) (naive Monte Carlo, `vaekit.eval.naive_mc`: shows why q is needed;
                    then elbo, recon and kl use min(K, 100) draws from q)
    `partial` (vaekit.eval.partial) keeps the running sums and each image's NLL
    (`partial.per_example(n)`) after every block, and continues from the blocks it holds.
    """
    if not x.is_floating_point():  # token ids: a sentence model
        raise VaekitError(
            "sentences are evaluated by vaekit.eval.text.evaluate_sentences (nats per sentence, perplexity per token)"
        )
    if proposal not in PROPOSALS:
        raise VaekitError(f"unknown proposal {proposal!r}: choose one of {', '.join(PROPOSALS)}")
    if precision == "float64":
        model, x = copy.deepcopy(model).double(), x.double()
    with numeric_precision(precision, x.device):
        if model.own_evaluation and proposal == "prior":
            raise VaekitError(
                f"{type(model).__name__} reports reconstruction measures, not a likelihood: "
                "--proposal prior needs a model with an encoder q(z|x), such as a vae"
            )
        if model.own_evaluation:  # models without a density q(z|x) (AE, WAE, VQ-VAE) report their own measures
            return model.evaluate_split(x, y, batch_size=batch_size, seed=seed)
        return _evaluate_likelihood(model, x, y, k, batch_size, max_elements, seed, progress, proposal, partial)


PROPOSALS = ("posterior", "prior")
ELBO_DRAWS_WITH_PRIOR = 100  # q draws for the ELBO terms when the NLL comes from prior samples


def _evaluate_likelihood(
    model,
    x,
    y,
    k: int,
    batch_size: int,
    max_elements: int | None,
    seed: int,
    progress,
    proposal: str = "posterior",
    partial: Partial | None = None,
) -> dict:
    _require_posterior(model)
    if k < 1:
        raise VaekitError(f"--iw-samples must be at least 1, got {k}")
    model.eval()
    partial = partial if partial is not None else Partial()
    partial.seed(seed, x.device)
    if max_elements is None:
        max_elements = memory_budget(x.device)
    for start in range(partial.done, x.shape[0], batch_size):  # from the first block not yet summed
        xb = x[start : start + batch_size]
        yb = None if y is None else y[start : start + batch_size]
        if proposal == "prior":
            terms = block_terms(model, xb, yb, min(k, ELBO_DRAWS_WITH_PRIOR), max_elements)
            chunk = _prior_chunk(xb, max_elements)
            terms.nll = -prior_sampling_evidence(model, xb, [k], chunk=chunk, progress=progress)[0, 0]  # (B,)
        else:
            terms = block_terms(model, xb, yb, k, max_elements)
        index = torch.arange(start, start + xb.shape[0])
        partial.add(terms.sums(), terms.code_means, terms.nll, index, x.device)
        if progress is not None and proposal == "posterior":  # the prior path counts decoded codes instead
            progress.update(xb.shape[0])
    n = x.shape[0]
    terms = mean_terms(partial.totals, n)  # nll, recon, kl
    return {
        **terms,
        "bits_per_dim": bits_per_dim(terms["nll"], x[0].numel(), discrete=_discrete_data(model, x, y)),
        "active_units": active_units(partial.code_means()),
        "k": k,
        "n": n,
        "proposal": proposal,
    }


def _prior_chunk(x: torch.Tensor, max_elements: int) -> int:
    """Prior codes decoded at once for a block x: each costs about a decoded image plus a score per image."""
    return max(1, max_elements // (4 * x[0].numel() + x.shape[0]))


def _discrete_data(model, x: torch.Tensor, y: torch.Tensor | None) -> bool:
    """Whether the model's p(x|z) is over discrete values (then bits/dim needs no dequantization term)."""
    y1 = None if y is None else y[:1]
    return is_discrete(model.decode(model.encode(x[:1], y1).mean, y1))


def memory_budget(device: torch.device) -> int:
    """How many float32 elements one chunk of decoder work may hold on `device`."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(1 << 20, free // 4 // 8)  # an eighth of free memory, in float32 elements
    return 1 << 24  # 64 MB of float32 per chunk on the CPU: cache-friendly and safe
