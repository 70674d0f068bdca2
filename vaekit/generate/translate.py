"""Translating with a trained encoder-decoder: greedy decoding and beam search.

    greedy       the most probable next token at every step
    beam search  keeps the `beam` best partial translations by log p(y_<=t | x); a hypothesis ends
                 at <eos>. A sentence is done when `beam` hypotheses have ended (or the length limit
                 is reached: then the unfinished ones compete too). The winner maximises
                 log p(y|x) / |y|^alpha (|y| counts the words and <eos>): alpha = 0 (the default,
                 vaekit.config.DEFAULT_ALPHA) is the plain log-likelihood, which favours short
                 translations; alpha = 1 the per-token average. Greedy's translation is always among
                 the candidates, so a beam never returns a translation its score ranks below greedy's
                 (plain beam search can, when greedy's prefix falls out of the beam); with beam 1 it
                 is greedy.

The length limit is `max_length` target tokens, by default 2 * (source tokens) + 10.
Every hypothesis carries its attention weights (one row per target token, <eos> included, one
column per source token, <eos> included) when the model attends.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaekit.config import DEFAULT_ALPHA, DEFAULT_BEAM
from vaekit.data.vocab import BOS_ID, EOS_ID, FIRST_OUTPUT_ID, PAD_ID
from vaekit.errors import VaekitError


@dataclass
class Hypothesis:
    """One translation: target token ids (no <bos>, no <eos>), its score and where it looked."""

    ids: list[int]
    log_prob: float  # log p(y|x), the <eos> included when `finished`
    finished: bool  # ended with <eos> (False: stopped at the length limit)
    attention: torch.Tensor | None = None  # (len(ids) + finished, S) weights over the source tokens

    def score(self, alpha: float) -> float:
        """log p(y|x) / |y|^alpha, |y| counting the words and <eos>."""
        return self.log_prob / max(1, len(self.ids) + self.finished) ** alpha


def default_limit(source: torch.Tensor) -> int:
    """2 * (longest source's tokens) + 10 target tokens."""
    return 2 * int(((source != PAD_ID).sum(1) - 2).max()) + 10


@torch.no_grad()
def greedy(model, source: torch.Tensor, max_length: int | None = None) -> list[Hypothesis]:
    """Greedy translations of source rows (B, Ts) (<bos> ... <eos> padded)."""
    limit = max_length or default_limit(source)
    memo = model.remember(source)
    state = model.initial_state(memo)
    n = source.shape[0]
    tokens = torch.full((n,), BOS_ID, dtype=torch.long, device=source.device)
    done = torch.zeros(n, dtype=torch.bool, device=source.device)
    steps, scores, maps = [], torch.zeros(n, device=source.device), []
    for _ in range(limit + 1):
        logp, state, weights = model.step(tokens, memo, state)  # (n, C)
        best, cls = logp.max(1)
        tokens = cls + FIRST_OUTPUT_ID
        scores += torch.where(done, torch.zeros_like(best), best)
        steps.append(torch.where(done, torch.full_like(tokens, PAD_ID), tokens))
        maps.append(weights)
        done |= tokens == EOS_ID
        if bool(done.all()):
            break
    ids = torch.stack(steps, 1).tolist()  # (n, t)
    out = []
    for i, row in enumerate(ids):
        finished = EOS_ID in row
        words = row[: row.index(EOS_ID)] if finished else row
        attention = None if maps[0] is None else torch.stack(maps, 1)[i, : len(words) + finished].cpu()
        out.append(Hypothesis(words, float(scores[i]), finished, attention))
    return out


@torch.no_grad()
def beam_search(
    model, source: torch.Tensor, beam: int = DEFAULT_BEAM, alpha: float = DEFAULT_ALPHA, max_length: int | None = None
) -> list[Hypothesis]:
    """The best hypothesis for each source row (B, Ts) by beam search (module docstring)."""
    if beam < 1:
        raise VaekitError(f"--beam must be at least 1, got {beam}")
    found = _beams(model, source, beam, max_length or default_limit(source))
    if beam == 1:
        return [hyps[0] for hyps in found]
    guesses = greedy(model, source, max_length)
    return [max([*hyps, g], key=lambda h: h.score(alpha)) for hyps, g in zip(found, guesses)]


def _beams(model, source: torch.Tensor, k: int, limit: int) -> list[list[Hypothesis]]:
    """For each source row the finished hypotheses (at least k unless the limit came first)."""
    n, device = source.shape[0], source.device
    memo = model.remember(source).select(torch.arange(n, device=device).repeat_interleave(k))  # (n*k, ...)
    state = model.initial_state(memo)
    tokens = torch.full((n * k,), BOS_ID, dtype=torch.long, device=device)
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis per sentence to start with
    prefix = torch.zeros((n * k, 0), dtype=torch.long, device=device)  # (n*k, t) the words so far
    maps: torch.Tensor | None = None  # (n*k, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(n)]
    for t in range(limit + 1):
        logp, state, weights = model.step(tokens, memo, state)  # (n*k, C)
        if weights is not None:
            maps = weights[:, None] if maps is None else torch.cat([maps, weights[:, None]], 1)
        classes = logp.shape[1]
        total = (scores.view(-1, 1) + logp).view(n, k * classes)  # (n, k*C)
        top, pos = total.topk(min(2 * k, total.shape[1]), dim=1)  # (n, 2k)
        origin = pos // classes + torch.arange(n, device=device)[:, None] * k  # (n, 2k) rows of n*k
        token = pos % classes + FIRST_OUTPUT_ID
        keep_rows, keep_tokens, keep_scores = _advance(top, origin, token, prefix, maps, finished, k, t == limit)
        if all(len(f) >= k for f in finished) or t == limit:
            break
        index = torch.tensor(keep_rows, device=device)
        tokens = torch.tensor(keep_tokens, device=device)
        scores = torch.tensor(keep_scores, device=device).view(n, k)
        state = model.select_state(state, index)
        prefix = torch.cat([prefix.index_select(0, index), tokens[:, None]], 1)
        maps = None if maps is None else maps.index_select(0, index)
    for hyps in finished:
        hyps.sort(key=lambda h: -h.log_prob)
    return finished


def _advance(top, origin, token, prefix, maps, finished, k: int, last: bool):
    """Host side of one beam step: ended candidates join `finished`; the k best others go on."""
    top, origin, token = top.tolist(), origin.tolist(), token.tolist()
    rows, tokens, scores = [], [], []
    for i in range(len(finished)):
        live = []
        for rank, (s, row, tok) in enumerate(zip(top[i], origin[i], token[i])):
            if s == float("-inf"):
                break
            if tok == EOS_ID or last:
                if rank < k and len(finished[i]) < k:  # fairseq's rule: only ends ranked within the beam count
                    ids = prefix[row].tolist() + ([] if tok == EOS_ID else [tok])
                    attention = None if maps is None else maps[row].cpu()
                    finished[i].append(Hypothesis(ids, s, tok == EOS_ID, attention))
            elif len(live) < k:
                live.append((row, tok, s))
        done = len(finished[i]) >= k
        while len(live) < k:  # fewer live candidates than beams: pad with dead ones
            live.append((live[0][0] if live else i * k, PAD_ID, float("-inf")))
        for row, tok, s in live:
            rows.append(row)
            tokens.append(tok if tok != PAD_ID else EOS_ID)
            scores.append(float("-inf") if done else s)
    return rows, tokens, scores


# ---- sentences in, sentences out -----------------------------------------------------------------


@dataclass
class Translated:
    """One source line and its translation."""

    source_tokens: list[str]
    unknown: list[str]  # source tokens outside the vocabulary (read as <unk>)
    tokens: list[str]  # the translation's tokens (what BLEU scores)
    text: str  # ... joined for reading
    hypothesis: Hypothesis | None  # None for a blank line


class Translator:
    """A trained model with the tokenizer and vocabularies of its run."""

    def __init__(self, model, tokenizer, source_vocab, target_vocab, languages=(None, None)):
        self.model, self.tokenizer = model, tokenizer
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.english_source, self.french = languages[0] == "en", languages[1] == "fr"

    @classmethod
    def of_run(cls, model, cfg, run_dir) -> Translator:
        """A trained run's model with the tokenizer and both vocabularies it was trained with."""
        from vaekit.data.pairs import PairOptions, language_pair

        if not cfg.source_vocab_size:
            raise VaekitError(
                f"{run_dir} is a {cfg.model.name} run, not a translation: train one with 'vaekit train seq2seq'"
            )
        options = PairOptions.of_run(cfg.data, run_dir)
        if options.vocabs is None:
            raise VaekitError(f"{run_dir} has no source-vocab.json: the run folder is incomplete")
        return cls(model, options.tokenizer, *options.vocabs, language_pair(cfg.data.name, cfg.data.reverse))

    def rows(self, token_lists: list[list[str]], device) -> torch.Tensor:
        """Padded source rows (B, Ts): <bos> ids <eos> <pad>..."""
        rows = [[BOS_ID, *self.source_vocab.encode(t), EOS_ID] for t in token_lists]
        out = torch.full((len(rows), max(map(len, rows))), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out.to(device)

    def words(self, ids: list[int]) -> list[str]:
        return [self.target_vocab.tokens[i] for i in ids]

    def translate(self, lines: list[str], **decoding) -> list[Translated]:
        """Translations of text lines, in their order (`decoding`: as `translate_tokens`)."""
        return self.translate_tokens([self.tokenizer.tokens(line) for line in lines], **decoding)

    def translate_tokens(
        self,
        tokens: list[list[str]],
        beam: int = DEFAULT_BEAM,
        alpha: float = DEFAULT_ALPHA,
        max_length: int | None = None,
        device="cpu",
        batch: int = 64,
    ) -> list[Translated]:
        """Translations of tokenized sentences, in their order, decoded in batches of like lengths."""
        order = sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i]))
        found: dict[int, Hypothesis] = {}
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            source = self.rows([tokens[i] for i in chunk], device)
            if beam == 1:
                hyps = greedy(self.model, source, max_length)
            else:
                hyps = beam_search(self.model, source, beam, alpha, max_length)
            found.update(zip(chunk, hyps))
        out = []
        for i, toks in enumerate(tokens):
            hyp = found.get(i)
            if hyp is not None and hyp.attention is not None:
                hyp.attention = hyp.attention[:, : len(toks) + 1]  # the sentence's tokens and <eos>, no padding
            words = self.words(hyp.ids) if hyp is not None else []
            unknown = [t for t in toks if t not in self.source_vocab.index]
            text = self.tokenizer.detokenize(words, french=self.french)
            out.append(Translated(toks, unknown, words, text, hyp))
        return out
