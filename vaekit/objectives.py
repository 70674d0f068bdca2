"""Objectives: what training minimises, as plain callables on (model, batch).

An objective is called as `objective(model, x, y, progress)` and returns a `LossOutput`: the scalar
loss (mean over the batch, nats per example) and a dict of per-example terms (B,) for logging.
`progress` is training progress in epochs as a 0-dim tensor, so schedules such as KL warm-up live
with the objective and the training step stays free of Python-side state (it can be captured in a
CUDA graph). One reduction rule everywhere: log-densities are summed over event dimensions by the
distributions themselves, giving shape (B,), and averaged once here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import kl_divergence

from vaekit.errors import VaekitError
from vaekit.nn.distributions import kl_or_estimate


@dataclass
class LossOutput:
    loss: torch.Tensor  # () the scalar to minimise
    terms: dict[str, torch.Tensor]  # name -> (B,) per-example values, in nats


def kl_term(q, prior, z: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || p(z)) per example (B,): the closed form where torch has one, else the
    one-sample estimate log q(z|x) - log p(z) at the draw z (B, D) (a mixture prior: VampPrior)."""
    return kl_or_estimate(q, prior, lambda: q.log_prob(z) - prior.log_prob(z))


class ELBO:
    """The evidence lower bound of Kingma & Welling (2013), with a weight on the KL term.

        ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

    The expectation uses one reparameterized draw z = mu + sigma * eps; the KL is the closed form
    from `torch.distributions.kl_divergence`. The loss is -(recon term) + w * KL with
    w = beta * min(1, progress / warmup_epochs): beta > 1 is the beta-VAE of Higgins et al. (2017);
    a warm-up (Bowman et al. 2016; Sønderby et al. 2016) keeps early training from switching
    latents off. The logged 'elbo' is always the true bound (w = 1).

    Against posterior collapse (the decoder ignoring z, KL -> 0; text VAEs suffer it most):

    - cycle_epochs > 0: cyclical annealing (Fu et al. 2019): the warm-up restarts every
      cycle_epochs epochs, w = beta * min(1, (progress mod cycle_epochs) / warmup_epochs); Fu et al.
      ramp over the first half of each cycle (warmup_epochs = cycle_epochs / 2).
    - free_bits > 0 (Kingma et al. 2016): each latent dimension's KL, averaged over the batch, costs
      nothing below free_bits nats: loss KL term = sum_d max(free_bits, mean_batch KL_d). The
      per-example KL logged stays the true one.
    - pretrain_epochs > 0 (Li et al. 2019, "A surprisingly effective fix for deep latent variable
      models of text"): the first pretrain_epochs train an autoencoder (KL weight 0), then the
      decoder is reset to fresh weights (`model.reset_decoder()`, sentence models) and the KL
      schedule above starts: the encoder already carries the sentence when the decoder meets it.
      The reset happens once, at the first step past pretrain_epochs (a run resumed exactly there too).
    - bow_weight > 0 (sentence models; Zhao et al. 2017, "Learning discourse-level diversity for
      neural dialog models using conditional VAEs"): adds bow_weight * -log p_bow(words of x | z), every
      word of the sentence predicted from z alone, in no order (`bag_of_words_nll`). A strong
      autoregressive decoder predicts the next word from the words before it and needs z for little
      else; this term makes z carry which words the sentence holds. It is not part of the bound: the
      logged 'elbo' and every likelihood stay the model's own; 'bow' is logged beside them.
    """

    def __init__(
        self,
        beta: float = 1.0,
        warmup_epochs: float = 0.0,
        cycle_epochs: float = 0.0,
        free_bits: float = 0.0,
        pretrain_epochs: float = 0.0,
        bow_weight: float = 0.0,
    ):
        if min(cycle_epochs, free_bits, warmup_epochs, pretrain_epochs, bow_weight) < 0:
            raise VaekitError(
                "--kl-warmup, --kl-cycle, --free-bits, --set pretrain_epochs and --set bow_weight must be >= 0"
            )
        if cycle_epochs > 0 and not 0 < warmup_epochs <= cycle_epochs:
            raise VaekitError(
                f"cyclical annealing needs 0 < --kl-warmup <= --kl-cycle ({cycle_epochs:g}): "
                f"Fu et al. use half the cycle, --kl-warmup {cycle_epochs / 2:g}"
            )
        self.beta, self.warmup_epochs = beta, warmup_epochs
        self.cycle_epochs, self.free_bits = cycle_epochs, free_bits
        self.pretrain_epochs, self.bow_weight = pretrain_epochs, bow_weight
        self._seen: float | None = None  # the last training progress seen (pretraining: when to reset)

    def kl_weight(self, progress: torch.Tensor) -> torch.Tensor:
        after = progress - self.pretrain_epochs  # epochs since the autoencoder pretraining ended
        if self.warmup_epochs <= 0:
            weight = torch.full_like(progress, self.beta)  # no host-to-device copy: capturable
        else:
            within = torch.remainder(after, self.cycle_epochs) if self.cycle_epochs > 0 else after
            weight = self.beta * torch.clamp(within / self.warmup_epochs, max=1.0)
        return weight if self.pretrain_epochs <= 0 else torch.where(after < 0, torch.zeros_like(weight), weight)

    def check(self, model) -> None:
        """Refuses what `model` cannot do, before a run folder is made (the trainer calls it)."""
        if self.pretrain_epochs > 0 and not hasattr(model, "reset_decoder"):
            raise VaekitError("--set pretrain_epochs resets a sentence model's decoder: it is for text runs; drop it")
        if self.bow_weight > 0 and not hasattr(model, "bag_of_words_nll"):
            raise VaekitError("--set bow_weight predicts a sentence's words from z: it is for text runs; drop it")

    def _end_pretraining(self, model, progress: torch.Tensor) -> None:
        """Resets the decoder once, at the first training step past pretrain_epochs."""
        if self.pretrain_epochs <= 0 or not model.training:
            return
        now, end = float(progress), self.pretrain_epochs
        crossed = now == end if self._seen is None else self._seen < end <= now  # None: a run resumed at `now`
        if crossed:
            model.reset_decoder()
        self._seen = now

    def kl_cost(self, q, prior, kl: torch.Tensor) -> torch.Tensor:
        """The KL as the loss sees it, (B,): itself, or under free bits the batch's clamped per-dimension KL."""
        if self.free_bits <= 0:
            return kl
        if not (hasattr(q, "base_dist") and hasattr(prior, "base_dist")):
            raise VaekitError("--free-bits needs a factorised Gaussian q(z|x) and p(z) (vae, beta-vae, cvae); drop it")
        per_dim = kl_divergence(q.base_dist, prior.base_dist).mean(0)  # (D,) batch-averaged KL per latent
        return torch.clamp(per_dim, min=self.free_bits).sum().expand_as(kl)

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        self._end_pretraining(model, progress)
        q = model.encode(x, y)  # q(z|x), batch (B,), event (D,)
        z = q.rsample()  # (B, D)
        recon = -model.decode(z, y).log_prob(x)  # (B,)
        prior = model.prior(y)  # p(z), or p(z|y) for a conditional model with a learned label prior
        kl = kl_term(q, prior, z)  # (B,)
        loss = recon + self.kl_weight(progress) * self.kl_cost(q, prior, kl)
        terms = {"elbo": -(recon + kl), "recon": recon, "kl": kl}
        if self.bow_weight > 0:
            terms["bow"] = model.bag_of_words_nll(z, x)
            loss = loss + self.bow_weight * terms["bow"]
        return LossOutput(loss.mean(), terms)


class CapacityELBO:
    """The ELBO with a controlled KL capacity (Burgess et al. 2018, "Understanding disentangling in beta-VAE").

        loss(x) = -E_q(z|x)[log p(x|z)] + gamma * |KL(q(z|x) || p(z)) - C(t)|
        C(t)    = capacity_max * min(1, t / capacity_epochs)      (t = progress in epochs)

    Raising C linearly lets the encoder spend information in the latents gradually, so factors
    are picked up one at a time instead of being squeezed out by a large fixed beta. The paper
    uses gamma = 1000 and C_max = 25 nats on dSprites. The logged 'elbo' is the true bound and
    'capacity' the target C(t) (repeated per example).
    """

    def __init__(self, capacity_max: float = 25.0, capacity_epochs: float = 20.0, gamma: float = 1000.0):
        self.capacity_max, self.capacity_epochs, self.gamma = capacity_max, capacity_epochs, gamma

    def capacity(self, progress: torch.Tensor) -> torch.Tensor:
        if self.capacity_epochs <= 0:
            return torch.full_like(progress, self.capacity_max)
        return self.capacity_max * torch.clamp(progress / self.capacity_epochs, max=1.0)

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        q = model.encode(x, y)  # batch (B,), event (D,)
        z = q.rsample()  # (B, D)
        recon = -model.decode(z, y).log_prob(x)  # (B,)
        kl = kl_term(q, model.prior(y), z)  # (B,)
        c = self.capacity(progress)  # ()
        loss = (recon + self.gamma * (kl - c).abs()).mean()
        return LossOutput(loss, {"elbo": -(recon + kl), "recon": recon, "kl": kl, "capacity": c.expand_as(kl)})


def importance_log_weights(model, x: torch.Tensor, y: torch.Tensor | None, q, z: torch.Tensor):
    """(log w, log p(x|z)), each (K, B), for draws z (K, B, D) from q = q(z|x) of images x (B, ...):

        log w = log p(x|z) + log p(z) - log q(z|x)

    The importance weights of the IWAE bound (training) and of the likelihood estimate (evaluation).
    """
    log_px = model.decode(z, y).log_prob(x)  # (K, B)
    return log_px + model.prior(y).log_prob(z) - q.log_prob(z), log_px


class IWAE:
    """The importance-weighted bound of Burda, Grosse & Salakhutdinov (2015), eq. 8, as the training loss.

        L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i w_i ],   w_i = p(x|z_i) p(z_i) / q(z_i|x)

    L_1 is the ELBO (with a one-sample Monte Carlo KL) and L_k rises with k towards log p(x).
    The k draws go through the decoder as one (k, B) batch: no Python loop over samples. The
    gradient weights each draw by its normalized importance weight, which keeps the encoder from
    having to cover all of p(z|x) with one Gaussian. Logged terms (B,): 'iwae' = L_k, 'elbo' =
    the mean of log w_i (the k-sample ELBO estimate), 'recon' = mean -log p(x|z_i), 'kl' closed form.

    late_k > 0 raises k to late_k once `late_from` of the run (its epochs, or its --time clock) is
    done: small k while the networks are far from a good q, a tighter bound late (Burda et al. train
    at one k throughout; this spends the dearer steps where they pay). The trainer calls `at_fraction`
    at each epoch start; validation then reports the late_k bound, so the curve steps up there.
    """

    def __init__(self, k: int = 5, late_k: int = 0, late_from: float = 0.75):
        self.base_k, self.late_k, self.late_from = int(k), int(late_k), float(late_from)
        self.k = self.base_k

    def at_fraction(self, fraction: float) -> str | None:
        """Sets k for a run `fraction` (0..1) done; says so when that changed it (a captured step then
        holds the old k and must be captured again; a compiled one recompiles by itself)."""
        k = self.late_k if self.late_k and fraction >= self.late_from else self.base_k
        said = None if k == self.k else f"the bound's samples k {self.k} -> {k} ({fraction:.0%} of the run done)"
        self.k = k
        return said

    def log_weights(self, model, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, object]:
        """(log w, log p(x|z)) each (k, B) for z_i ~ q(z|x) drawn by rsample, and q itself."""
        q = model.encode(x, y)  # batch (B,), event (D,)
        return (*importance_log_weights(model, x, y, q, q.rsample((self.k,))), q)

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        log_w, log_px, q = self.log_weights(model, x, y)  # (k, B) each
        bound = torch.logsumexp(log_w, dim=0) - math.log(self.k)  # (B,)
        # (B,) for logging only; a mixture prior: the k-sample estimate
        kl = kl_or_estimate(q, model.prior(y), lambda: (log_px - log_w).mean(0)).detach()
        return LossOutput(
            -bound.mean(), {"iwae": bound, "elbo": log_w.mean(0).detach(), "recon": -log_px.mean(0).detach(), "kl": kl}
        )


class Reconstruction:
    """The autoencoder loss: reconstruction only, optionally from a corrupted input (denoising AE).

        loss(x) = -log p(x | z = f(x~)),   x~ = corrupt(x)   (x~ = x when noise = 0)

    -log p(x|z) is the decoder's likelihood: the binary cross-entropy summed over pixels for
    Bernoulli, a Gaussian negative log-density otherwise. Corruption (Vincent et al. 2008, 2010),
    applied only in training mode, with a clean target: 'gaussian' adds N(0, noise^2) per pixel and
    clips to [0, 1]; 'mask' sets each pixel to 0 with probability `noise`.
    """

    def __init__(self, noise: float = 0.0, corruption: str = "gaussian"):
        if corruption not in ("gaussian", "mask"):
            raise VaekitError(f"unknown corruption {corruption!r}: use --set corruption=gaussian or corruption=mask")
        if not 0.0 <= noise or (corruption == "mask" and noise >= 1.0):
            raise VaekitError(f"--set noise must be >= 0 (and < 1 for masking), got {noise}")
        self.noise, self.corruption = noise, corruption

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise == 0.0:
            return x
        if not x.is_floating_point():
            raise VaekitError("--set noise corrupts pixels; for sentences use --word-dropout instead")
        if self.corruption == "mask":
            return x * (torch.rand_like(x) >= self.noise)
        return (x + self.noise * torch.randn_like(x)).clamp(0.0, 1.0)

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        x_in = self.corrupt(x) if model.training else x
        z = model.encode(x_in, y).rsample()  # (B, D); a point mass: z = f(x~)
        recon = -model.decode(z, y).log_prob(x)  # (B,) against the clean x
        return LossOutput(recon.mean(), {"recon": recon})


MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # the scales of Tolstikhin et al.'s code


def imq_mmd(a: torch.Tensor, b: torch.Tensor, prior_variance: float = 1.0, scales=MMD_SCALES) -> torch.Tensor:
    """Unbiased MMD^2 between samples a (n, D) and b (m, D) with inverse multiquadratic kernels.

        k_C(u, v) = C / (C + ||u - v||^2),   C = 2 * D * prior_variance * s   for s in `scales`

    summed over the scales (Tolstikhin et al. 2017, WAE code). The unbiased U-statistic
    (Gretton et al. 2012, eq. 3) leaves the diagonal out of the within-sample means:

        MMD^2 = sum_{i!=j} k(a_i, a_j) / n(n-1) + sum_{i!=j} k(b_i, b_j) / m(m-1) - 2 sum_{i,j} k(a_i, b_j) / nm
    """
    n, m, d = a.shape[0], b.shape[0], a.shape[1]
    both = torch.cat([a, b])  # (n+m, D)
    norms = both.pow(2).sum(1)  # (n+m,)
    sq = (norms[:, None] + norms[None, :] - 2.0 * both @ both.T).clamp(min=0.0)  # (n+m, n+m) squared distances
    base = 2.0 * d * prior_variance
    kern = sum(base * s / (base * s + sq) for s in scales)  # (n+m, n+m)
    k_aa, k_bb, k_ab = kern[:n, :n], kern[n:, n:], kern[:n, n:]
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return within_a + within_b - 2.0 * k_ab.mean()


class WAEMMD:
    """The Wasserstein autoencoder with an MMD penalty (Tolstikhin et al. 2017, Algorithm 2).

        loss = mean_i c(x_i, G(z_i)) + lambda * MMD^2({z_i}, {z~_i}),   z_i = Q(x_i),  z~_i ~ p(z) = N(0, I)

    The encoder Q is deterministic; the MMD (unbiased, inverse multiquadratic kernels over
    several scales, `imq_mmd`) pulls the aggregate code distribution onto the prior, so decoding
    prior samples gives images. Cost c: 'nll' = -log p(x|z) from the likelihood head (binary
    cross-entropy for Bernoulli), or 'l2sq' = ||x - E[x|z]||^2 summed over pixels (the paper's
    MNIST cost). lambda = `mmd_weight` (10 in the paper). The MMD is a batch quantity; it is logged
    per example as the same value repeated.
    """

    def __init__(self, mmd_weight: float = 10.0, cost: str = "nll"):
        if cost not in ("nll", "l2sq"):
            raise VaekitError(f"unknown WAE cost {cost!r}: use --set cost=nll or cost=l2sq")
        self.mmd_weight, self.cost = mmd_weight, cost

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        z = model.encode(x, y).rsample()  # (B, D)
        p = model.decode(z, y)
        recon = -p.log_prob(x) if self.cost == "nll" else (p.mean - x).pow(2).flatten(1).sum(1)  # (B,)
        mmd = imq_mmd(z, model.prior().sample((x.shape[0],)))  # ()
        loss = recon.mean() + self.mmd_weight * mmd
        return LossOutput(loss, {"recon": recon, "mmd": mmd.expand_as(recon)})
