"""How well a trained encoder-decoder translates a split: BLEU, chrF, likelihood, exact matches.

    BLEU, chrF   corpus scores by sacrebleu (Post 2018), the field's standard scorer, of the
                 translations of every distinct source sentence against *all* its references; on
                 the run's own tokens (lower-cased and punctuation split for fra-eng), joined by
                 spaces, so sacrebleu's tokenizer is 'none'. Its signature is recorded.
    NLL          -log p(y|x) per reference pair, exact (teacher forcing), in nats, mean over pairs
    perplexity   exp(sum of NLL / number of target tokens): every word and punctuation token and the
                 <eos> of each reference count; <bos> and padding do not
    exact match  share of source sentences whose translation equals one of their references
    by length    corpus BLEU of the sentences of each source length (tokens, punctuation included)

A source word outside the run's vocabulary is read as <unk> (the share is reported); a reference
word outside the target vocabulary stays itself, so translations are scored against the real text.
"""

from __future__ import annotations

import math

import torch

from vaekit.config import DEFAULT_ALPHA, DEFAULT_BEAM
from vaekit.data.text import pair_lengths, trim_padding
from vaekit.errors import VaekitError
from vaekit.generate.translate import Translator

LENGTH_BUCKETS = (1, 4, 6, 8, 10, 13, 16, 21, 31, 61)  # source-token bucket starts: 1-3, 4-5, ... 61+
TOKENS_COUNTED = "target words, punctuation tokens and <eos> of every reference; not <bos>, not padding"


@torch.no_grad()
def pair_nll(model, targets: torch.Tensor, sources: torch.Tensor, batch_size: int = 100, progress=None) -> dict:
    """Exact -log p(y|x) of every (target, source) row pair, in blocks of like lengths."""
    order = torch.argsort(pair_lengths(targets, sources))
    total, tokens, n = 0.0, 0, targets.shape[0]
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        x = trim_padding(targets[idx])
        total += float(-model.log_prob(x, sources[idx]).sum())
        tokens += int((x[:, 1:] != 0).sum())
        if progress is not None:
            progress.update(len(idx))
    return {
        "pairs": n,
        "nll": total / n,
        "tokens_per_sentence": tokens / n,
        "perplexity": math.exp(total / tokens),
        "perplexity_counts": TOKENS_COUNTED,
    }


def require_sacrebleu() -> None:
    """One line, before minutes of decoding, when the scorer is missing (an environment from before it
    was a dependency)."""
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        raise VaekitError(
            "BLEU and chrF need sacrebleu, which this environment lacks: pip install 'sacrebleu>=2.3' "
            "(or reinstall vaekit, which depends on it)"
        ) from None


def corpus_scores(hypotheses: list[list[str]], references: list[list[list[str]]]) -> dict:
    """sacrebleu's corpus BLEU and chrF of token lists against every reference of each sentence."""
    from sacrebleu.metrics import BLEU, CHRF

    hyps = [" ".join(h) for h in hypotheses]
    most = max(len(r) for r in references)
    streams = [[" ".join(r[j]) if j < len(r) else None for r in references] for j in range(most)]
    bleu, chrf = BLEU(tokenize="none", force=True), CHRF()  # force: the text is tokenized on purpose
    b, c = bleu.corpus_score(hyps, streams), chrf.corpus_score(hyps, streams)
    return {
        "bleu": b.score,
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(b),
        "chrf": c.score,
        "chrf_signature": str(chrf.get_signature()),
    }


def bleu_by_length(sources: list[list[str]], hypotheses, references) -> list[dict]:
    """Corpus BLEU of the sentences in each bucket of source lengths (non-empty buckets only)."""
    rows = []
    for low, high in zip(LENGTH_BUCKETS, (*LENGTH_BUCKETS[1:], 10**9)):
        picked = [i for i, s in enumerate(sources) if low <= len(s) < high]
        if not picked:
            continue
        scores = corpus_scores([hypotheses[i] for i in picked], [references[i] for i in picked])
        label = f"{low}-{high - 1}" if high - 1 > low else str(low) if high < 10**9 else f"{low}+"
        rows.append({"source_tokens": label, "sentences": len(picked), "bleu": scores["bleu"], "chrf": scores["chrf"]})
    return rows


def evaluate_translation(
    translator: Translator,
    targets: torch.Tensor,
    sources: torch.Tensor,
    source_sentences: list[list[str]],
    references: list[list[list[str]]],
    *,
    beam: int = DEFAULT_BEAM,
    alpha: float = DEFAULT_ALPHA,
    batch_size: int = 100,
    progress=None,
) -> tuple[dict, list]:
    """(the measures of the module docstring, the `Translated` of every source sentence)."""
    require_sacrebleu()
    likelihood = pair_nll(translator.model, targets, sources, batch_size, progress)
    done = translator.translate_tokens(
        source_sentences, beam=beam, alpha=alpha, device=sources.device, batch=batch_size
    )
    if progress is not None:
        progress.update(len(source_sentences))
    hyps = [t.tokens for t in done]
    exact = sum(h in refs for h, refs in zip(hyps, references)) / len(hyps)
    unknown = sum(len(t.unknown) for t in done) / max(1, sum(len(s) for s in source_sentences))
    result = {
        "sentences": len(source_sentences),
        "references_per_sentence": sum(map(len, references)) / len(references),
        **corpus_scores(hyps, references),
        **likelihood,
        "exact_match": exact,
        "unknown_source_tokens": unknown,
        "bleu_by_length": bleu_by_length(source_sentences, hyps, references),
        "decoding": {"beam": beam, "alpha": alpha},
    }
    return result, done
