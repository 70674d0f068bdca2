"""p(x|z) over whole sentences: an autoregressive distribution with `log_prob`, `sample`, greedy decoding.

    log p(x|z) = sum_{t=1}^{n+1} log p(x_t | x_<t, z),   x_{n+1} = <eos>

Only real tokens are scored: the words and the end-of-sentence token; <bos> is never predicted and
padding is never computed at all (the hidden states of padded positions are dropped before the
output layer). That is also what perplexity counts (`vaekit.eval.text`).

The output layer (`TokenHead`) is, by default (`softmax="adaptive"`), PyTorch's adaptive softmax
(Grave et al. 2017) for large vocabularies: frequent tokens in a head softmax, rare ones in smaller
tail clusters reached through the head. It is a properly normalised distribution over all classes
(not a sampled approximation), so the likelihood stays exact, while training scores the tail only
for the tokens that occur. `softmax="full"` is one softmax over every class (one matrix, classes x
hidden), and with `tied` the input word vectors are that matrix (Press & Wolf 2017):

    logits = E[2:] W h + b        E (vocab, emb) the word vectors, W (emb, hidden) a projection
                                  (none when emb == hidden), rows 2.. of E the predicted tokens

so the output layer adds only W and b to the parameters, and every word's vector is trained by
both its uses. The head reads E through its owner (the decoder), so it is saved once.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, constraints

from vaekit.data.vocab import BOS_ID, EOS_ID, FIRST_OUTPUT_ID, PAD_ID, UNK_ID
from vaekit.errors import VaekitError

ADAPTIVE_MIN_CLASSES = 2000  # below this a plain softmax is as fast
SOFTMAX_KINDS = ("adaptive", "full")


EVAL_LOGIT_ELEMENTS = 1 << 21  # logits per block without gradients: 8 MB of float32, 210 rows of PTB's 10,000


class TokenHead(nn.Module):
    """Hidden states (M, H) -> log-probabilities over the `classes` predicted tokens.

    softmax: "adaptive" (an adaptive softmax from ADAPTIVE_MIN_CLASSES classes on, a plain one
    below) or "full" (always one softmax over every class). tied: the word vectors `tied` (an
    nn.Embedding whose rows FIRST_OUTPUT_ID.. are the classes) are the output matrix; needs "full".
    """

    def __init__(self, hidden: int, classes: int, softmax: str = "adaptive", tied: nn.Embedding | None = None):
        super().__init__()
        if softmax not in SOFTMAX_KINDS:
            raise VaekitError(f"unknown output layer {softmax!r}: use --softmax adaptive or full")
        if tied is not None and softmax != "full":
            raise VaekitError(
                "tied word vectors (--tie-embeddings, on by default for --data ptb) need one output matrix, "
                "which the adaptive softmax does not have: use --softmax full, or add --no-tie-embeddings"
            )
        self.classes, self.softmax = classes, softmax
        self.adaptive = self.linear = self.proj = self.bias = None
        self._tied = (tied,) if tied is not None else ()  # a tuple: not a submodule, saved by its owner
        if tied is not None:
            if tied.num_embeddings != classes + FIRST_OUTPUT_ID:
                raise VaekitError(f"tied word vectors have {tied.num_embeddings} rows for {classes} classes")
            dim = tied.embedding_dim
            self.proj = nn.Linear(hidden, dim, bias=False) if dim != hidden else None
            self.bias = nn.Parameter(torch.zeros(classes))
        elif softmax == "adaptive" and classes >= ADAPTIVE_MIN_CLASSES:
            cutoffs = [c for c in (2000, 10000) if c < classes - 1]  # PTB: 2000 in the head, 8000 in one tail
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(hidden, classes, cutoffs, div_value=4.0)
        else:
            self.linear = nn.Linear(hidden, classes)

    @property
    def tied(self) -> bool:
        return bool(self._tied)

    def output_weight(self) -> torch.Tensor:
        """The (classes, emb) output matrix of a tied head: a view of the word vectors, not a copy."""
        return self._tied[0].weight[FIRST_OUTPUT_ID:]

    def reset_parameters(self) -> None:
        """A fresh output bias (the projection and the layers reset themselves; tied word vectors stay)."""
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        if not self.tied:
            return self.linear(h)
        h = self.proj(h) if self.proj is not None else h  # (M, E)
        return nn.functional.linear(h, self.output_weight(), self.bias)  # (M, classes)

    def target_log_prob(self, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(target | h): h (M, H), target (M,) classes -> (M,)."""
        if self.adaptive is not None:
            return _adaptive_target_log_prob(self.adaptive, h, target)
        if torch.is_grad_enabled():
            return torch.log_softmax(self._logits(h).float(), dim=-1).gather(1, target[:, None])[:, 0]
        # Without gradients (evaluation: K draws x tokens rows), rows go through in blocks whose logits
        # stay in the cache, and log p = logit - logsumexp writes no (M, classes) log-softmax: the
        # products are then 94-98% of the time instead of 85% (BENCHMARKS.md, "The text evaluation's
        # output layer").
        rows = max(1, EVAL_LOGIT_ELEMENTS // self.classes)
        return torch.cat([self._picked(h[i : i + rows], target[i : i + rows]) for i in range(0, h.shape[0], rows)])

    def _picked(self, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = self._logits(h).float()
        return logits.gather(1, target[:, None])[:, 0] - torch.logsumexp(logits, dim=-1)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """All classes: (M, H) -> (M, classes)."""
        if self.adaptive is not None:
            with _float32(h):
                return self.adaptive.log_prob(h.float())
        return torch.log_softmax(self._logits(h).float(), dim=-1)


def _adaptive_target_log_prob(adaptive: nn.AdaptiveLogSoftmaxWithLoss, h: torch.Tensor, target: torch.Tensor):
    """log p(target | h) (M,) under an adaptive softmax: what torch's forward computes, with its products
    free to run in bfloat16 under autocast (the head is most of a PTB step's products once the recurrent
    layers are bf16) while every log-softmax and the output stay float32.

    p(w) = p_head(w) for the head's words; p_head(cluster i) * p_i(w) for a word of tail cluster i.
    """
    head_logp = torch.log_softmax(adaptive.head(h).float(), dim=1)  # (M, shortlist + clusters)
    shortlist = adaptive.shortlist_size
    first = target  # the head column: the word itself, or (set below) its tail cluster's
    bounds = adaptive.cutoffs  # [shortlist, ..., n_classes]
    tail_logp = head_logp.new_zeros(target.shape)
    for i, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
        rows = ((target >= low) & (target < high)).nonzero()[:, 0]
        if rows.numel() == 0:
            continue
        first = first.index_fill(0, rows, shortlist + i)
        cluster_logp = torch.log_softmax(adaptive.tail[i](h.index_select(0, rows)).float(), dim=1)
        tail_logp = tail_logp.index_copy(0, rows, cluster_logp.gather(1, (target[rows] - low)[:, None])[:, 0])
    return head_logp.gather(1, first[:, None])[:, 0] + tail_logp


def _float32(h: torch.Tensor):
    """Autocast off: the adaptive softmax computes in float32 whatever precision the step runs in."""
    return torch.autocast(h.device.type, enabled=False)


def banned_tokens(logp: torch.Tensor, tokens: torch.Tensor, no_repeat: int, allow_unk: bool) -> torch.Tensor:
    """logp (N, C) over output classes with -inf at the tokens a decoding rule forbids next.

    tokens (N, L): each sentence so far (<bos> first). With no_repeat = n > 0, a token that would
    complete an n-gram the sentence already holds is forbidden; with allow_unk False, <unk> is.
    """
    n = no_repeat
    if n > 0 and tokens.shape[1] >= n:
        grams = tokens.unfold(1, n - 1, 1) if n > 1 else tokens[:, :, None][..., :0]  # (N, L-n+2, n-1)
        suffix = tokens[:, tokens.shape[1] - (n - 1) :]  # (N, n-1) the last n-1 tokens
        seen = (grams[:, : tokens.shape[1] - n + 1] == suffix[:, None, :]).all(-1)  # (N, L-n+1) earlier matches
        follow = torch.where(seen, tokens[:, n - 1 :], PAD_ID)  # the tokens that followed them
        banned = torch.zeros(tokens.shape[0], logp.shape[1] + FIRST_OUTPUT_ID, dtype=torch.bool, device=logp.device)
        banned.scatter_(1, follow, True)
        logp = logp.masked_fill(banned[:, FIRST_OUTPUT_ID:], -math.inf)
    if not allow_unk:
        logp = logp.clone()
        logp[:, UNK_ID - FIRST_OUTPUT_ID] = -math.inf
    return logp


class SentenceDistribution(Distribution):
    """p(x|z) for a batch of codes z (*lead, D), or the language model's p(x) (z None, `batch` rows).

    Events are padded sentences (T,) of token ids starting with <bos>. `log_prob(x)` broadcasts x
    (B, T) over extra leading dims of z, e.g. K importance samples (K, B, D) -> (K, B).
    """

    arg_constraints: ClassVar[dict] = {}
    support = constraints.integer_interval(0, 2**31)

    def __init__(
        self, decoder: nn.Module, head: TokenHead, z: torch.Tensor | None, batch: int = 1, max_length: int = 100
    ):
        self.decoder, self.head, self.z, self.max_length = decoder, head, z, max_length
        lead = z.shape[:-1] if z is not None else torch.Size([batch])
        super().__init__(lead, torch.Size([max_length + 2]), validate_args=False)

    def _flat(self, x: torch.Tensor):
        lead = self.batch_shape
        x = x.expand(*lead, x.shape[-1]).reshape(-1, x.shape[-1])  # (N, T)
        z = None if self.z is None else self.z.reshape(-1, self.z.shape[-1])  # (N, D)
        return x, z, lead

    def token_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_t | x_<t, z) for every predicted position, 0 at padding: (*lead, T-1)."""
        x, z, lead = self._flat(x)
        hidden = self.decoder(x, z)  # (N, T-1, H)
        targets = x[:, 1:]  # (N, T-1)
        scored = targets != PAD_ID
        out = hidden.new_zeros(targets.shape, dtype=torch.float32)
        out[scored] = self.head.target_log_prob(hidden[scored], targets[scored] - FIRST_OUTPUT_ID)
        return out.view(*lead, -1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) of whole sentences x (B, T) -> (*lead,), summed over words and <eos>."""
        return self.token_log_probs(x).sum(-1)

    @torch.no_grad()
    def sample(
        self,
        sample_shape=(),
        temperature: float = 1.0,
        greedy: bool = False,
        no_repeat: int = 0,
        allow_unk: bool = True,
    ) -> torch.Tensor:
        """Ancestral sampling (or greedy argmax): (N, T) padded sentences <bos> ... <eos>, N = batch size.

        Each token is drawn from softmax(log p / temperature); a sentence ends at <eos> or after
        `max_length` tokens (then it has no <eos>). Decoding rules, for text a person reads:
        `no_repeat` n > 0 never lets a sentence repeat an n-gram it already holds (greedy decoding
        of a language model otherwise falls into loops such as "<unk> <unk> <unk> ..."), and
        `allow_unk=False` never emits <unk>. Both only remove tokens before the choice.
        """
        if tuple(sample_shape):
            raise ValueError("a SentenceDistribution draws one sentence per code: pass codes, not sample_shape")
        z = None if self.z is None else self.z.reshape(-1, self.z.shape[-1])
        n = self.batch_shape.numel()
        device = next(self.head.parameters()).device
        tokens = torch.full((n, 1), BOS_ID, dtype=torch.long, device=device)
        state = self.decoder.initial_state(z, n)
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for _ in range(self.max_length + 1):
            h, state = self.decoder.step(tokens[:, -1], z, state)
            logp = banned_tokens(self.head.log_probs(h), tokens, no_repeat, allow_unk)  # (n, C)
            cls = logp.argmax(1) if greedy else torch.multinomial(torch.softmax(logp / temperature, 1), 1)[:, 0]
            nxt = torch.where(done, torch.full_like(cls, PAD_ID), cls + FIRST_OUTPUT_ID)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            done |= nxt == EOS_ID
            if bool(done.all()):
                break
        return tokens

    def greedy(self, no_repeat: int = 0, allow_unk: bool = True) -> torch.Tensor:
        """The argmax token at every step (a cheap stand-in for the most likely sentence)."""
        return self.sample(greedy=True, no_repeat=no_repeat, allow_unk=allow_unk)

    @property
    def mode(self) -> torch.Tensor:
        return self.greedy()
