"""Evaluation of sentence models: nats per sentence and perplexity per word, exactly counted.

    NLL          -log p(x) per sentence in nats: exact for the language model, importance-sampled
                 with K draws for the VAE (Burda et al. 2015), a lower bound on log p(x) in
                 expectation that tightens with K; K = 1 is the ELBO.
    perplexity   exp(total NLL / total predicted tokens), where the predicted tokens of a sentence
                 are its words plus the end-of-sentence token (n + 1 for n words; <bos> and padding
                 are not counted: never predicted), as Mikolov's PTB numbers and the sentence-VAE
                 papers count them. The VAE's perplexity from its IS-NLL is the comparable one;
                 `elbo_perplexity` (from -ELBO) is an upper bound, what some papers print instead.

Sentences are scored in blocks of like lengths (sorted once), each trimmed to its longest, so
padding costs no time; padding is never scored (`vaekit.nn.sequence`).
"""

from __future__ import annotations

import math

import torch

from vaekit.data.text import sentence_lengths, trim_padding
from vaekit.errors import VaekitError
from vaekit.eval.latent import active_units
from vaekit.eval.likelihood import block_terms, mean_terms
from vaekit.eval.partial import Partial


def _blocks(x: torch.Tensor, batch_size: int):
    """(positions in x, sentences trimmed to their longest) for blocks of like lengths."""
    order = torch.argsort(sentence_lengths(x))
    for start in range(0, x.shape[0], batch_size):
        index = order[start : start + batch_size]
        yield index, trim_padding(x[index])


def perplexity(total_nll: float, tokens: int) -> float:
    """exp(total NLL in nats / predicted tokens): per-token perplexity from per-sentence NLLs summed."""
    return math.exp(total_nll / tokens)


def _nll_only(log_p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3,) float64 block sums (nll, 0, 0) of the models without a KL term, and the (B,) NLLs."""
    nll = -log_p.double().cpu()
    sums = torch.zeros(3, dtype=torch.float64)
    sums[0] = nll.sum()
    return sums, nll


@torch.no_grad()
def evaluate_sentences(
    model,
    x: torch.Tensor,
    k: int = 100,
    batch_size: int = 100,
    seed: int = 0,
    progress=None,
    partial: Partial | None = None,
) -> dict:
    """Measures of a sentence model on padded sentences x (N, T); see the module docstring.

    Returns a dict of floats (per sentence, nats) and counts: `tokens` = words + <eos> scored,
    `words` = words alone. The language model gives nll/perplexity; the VAE also elbo, recon, kl,
    active_units and k; the deterministic autoencoder its reconstruction -log p(x|f(x)).
    `partial` (vaekit.eval.partial) keeps the running sums and each sentence's NLL
    (`partial.per_example(n)`) after every block, and continues from the blocks it holds.
    """
    if k < 1:
        raise VaekitError(f"--iw-samples must be at least 1, got {k}")
    model.eval()
    partial = partial if partial is not None else Partial()
    partial.seed(seed, x.device)
    n, tokens = x.shape[0], int((sentence_lengths(x) - 1).sum())
    kind = "lm" if model.code_kind == "none" else ("vae" if model.has_prior else "ae")
    for i, (index, xb) in enumerate(_blocks(x, batch_size)):
        if i < partial.blocks:  # summed before an interruption
            continue
        means = None
        if kind == "lm":
            no_code = xb.new_zeros((xb.shape[0], 0), dtype=torch.float32)  # (B, 0): p(x) of B sentences
            sums, nll = _nll_only(model.decode(no_code).log_prob(xb))
        elif kind == "ae":
            q = model.encode(xb)
            sums, nll = _nll_only(model.decode(q.mean).log_prob(xb))
        else:
            # the images' importance-sampled loop; K draws decoded about 2000 sentences at a time
            terms = block_terms(model, xb, None, k, max_elements=2000 * xb[0].numel() * 4)
            sums, means, nll = terms.sums(), terms.code_means, terms.nll
        partial.add(sums, means, nll, index, x.device)
        if progress is not None:
            progress.update(xb.shape[0])
    totals = partial.totals  # lm/ae: nll; vae: nll, recon, kl
    counts = {"n": n, "tokens": tokens, "words": tokens - n}
    if kind in ("lm", "ae"):
        nll = float(totals[0]) / n
        name = "nll" if kind == "lm" else "recon"
        return {name: nll, f"{'' if kind == 'lm' else 'recon_'}perplexity": perplexity(nll * n, tokens), **counts}
    terms = mean_terms(totals, n)
    return {
        **terms,
        "perplexity": perplexity(terms["nll"] * n, tokens),
        "elbo_perplexity": perplexity(-terms["elbo"] * n, tokens),
        "active_units": active_units(partial.code_means()),
        "k": k,
        **counts,
    }
