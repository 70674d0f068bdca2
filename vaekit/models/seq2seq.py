"""The encoder-decoder of the articles' first idea: translate a source sentence into a target sentence.

    p(y | x) = prod_{t=1}^{m+1} p(y_t | y_<t, x),   y_{m+1} = <eos>

A recurrent encoder (`vaekit.nn.recurrent.SentenceEncoder`, GRU or LSTM, `--bidirectional`) reads the
source x; a recurrent decoder (`SentenceDecoder`) writes the target y word by word through a
`TokenHead` softmax. What the decoder sees of x is the choice ``attention``:

- ``none``: only the encoder's final state c, a vector of fixed size whatever the sentence's length
  (Cho et al. 2014): the decoder's initial state is tanh(W c) and c joins its input at every step.
  This is the bottleneck the articles draw.
- ``dot``: Luong et al. (2015)'s global attention, "general" score: after the RNN, each decoder
  state h_t looks at every encoder state, c_t = sum_j a_tj m_j, and predicts from
  tanh(W_c [h_t; c_t]). Training runs the teacher-forced target through one fused RNN call.
- ``additive``: Bahdanau et al. (2015): the previous decoder state s_{t-1} scores every encoder
  state (v^T tanh(W s + U m)), the context c_t joins the RNN's input, and the output is
  tanh(W_c [s_t; c_t]). Training steps through the target one token at a time. The default: it
  costs ~1.25x the CPU of ``dot`` per batch and learns more per CPU second (BENCHMARKS.md).

With attention the decoder's initial state is tanh(W c) (a "bridge" from the final encoder state)
and its input is the previous word alone (and, for ``additive``, the context). With
``--bidirectional`` the encoder reads the source both ways: c is the two directions' final states
joined (2H numbers) and attention reads the joined states of every position (B, S, 2H).
``--dropout p`` drops the word vectors of both sides and the decoder's outputs while training only.

Training is teacher-forced; the loss (`TranslationNLL`) and the evaluation number are the exact
-log p(y|x) per sentence, summed over the target's words and <eos> (padding never scored).

Rows are the padded token ids of `vaekit.data.pairs`: the target is the model's x (B, Tt) and the
source its condition y (B, Ts), as a label conditions the cvae.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Distribution

from vaekit.data.vocab import FIRST_OUTPUT_ID, PAD_ID
from vaekit.errors import NoPrior, VaekitError
from vaekit.nn.attention import ATTENTION
from vaekit.nn.recurrent import CELLS, Dropout, SentenceDecoder, SentenceEncoder
from vaekit.nn.sequence import TokenHead
from vaekit.objectives import LossOutput

ATTENTION_KINDS = ("none", *ATTENTION)


class DroppedEmbedding(nn.Embedding):
    """Word vectors with dropout while training (`--dropout`): the same parameters as nn.Embedding."""

    def __init__(self, vocab: int, dim: int, dropout: float = 0.0):
        super().__init__(vocab, dim, padding_idx=PAD_ID)
        self.drop = Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.drop(super().forward(tokens))


@dataclass
class SourceMemory:
    """What the decoder may read of a batch of source sentences."""

    final: torch.Tensor  # (B, F) the encoder's last state
    memory: torch.Tensor | None  # (B, S, F) its state at every source token (with attention)
    keys: torch.Tensor | None  # (B, S, A) the attention's projection of `memory`
    mask: torch.Tensor  # (B, S) True at real tokens

    def select(self, index: torch.Tensor) -> SourceMemory:
        """Rows `index` (e.g. each sentence repeated once per beam)."""

        def pick(t):
            return None if t is None else t.index_select(0, index)

        return SourceMemory(pick(self.final), pick(self.memory), pick(self.keys), pick(self.mask))


class Seq2Seq(nn.Module):
    """Source sentences (B, Ts) -> a distribution over target sentences (B, Tt); see the module docstring."""

    num_labels = 0  # the source conditions it, but it is not a class label
    has_prior = False
    own_evaluation = False  # measured by vaekit's translation evaluation (BLEU, chrF, NLL)
    data_kind = "pairs"  # a conditional model of a target sentence given a source sentence
    code_kind = "none"  # no latent variable: what the decoder reads is the encoder's states
    trainable_prior = False
    prior_words = "none"

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_dim: int,
        hidden: int,
        layers: int = 1,
        cell: str = "gru",
        bidirectional: bool = False,
        attention: str = "additive",
        dropout: float = 0.0,
        max_length: int = 50,
    ):
        super().__init__()
        if attention not in ATTENTION_KINDS:
            raise VaekitError(f"unknown attention {attention!r}: use --attention {' or '.join(ATTENTION_KINDS)}")
        self.source_embed = DroppedEmbedding(source_vocab, embedding_dim, dropout)
        self.encoder = SentenceEncoder(self.source_embed, hidden, layers, cell, bidirectional)
        features = self.encoder.out_features
        # the decoder's input: the word and c (none), the word (dot), the word and c_t (additive)
        extra = {"none": features, "dot": 0, "additive": features}[attention]
        self.decoder = SentenceDecoder(target_vocab, embedding_dim, hidden, extra, layers, cell, 0.0, dropout)
        self.decoder.embed = DroppedEmbedding(target_vocab, embedding_dim, dropout)  # the same weights' shape
        self.attention_kind = attention
        self.attention = None if attention == "none" else ATTENTION[attention](hidden, features)
        self.combine = None if attention == "none" else nn.Linear(hidden + features, hidden)
        self.bridge = (
            None if attention == "none" else nn.Linear(features, layers * hidden * (2 if cell == "lstm" else 1))
        )
        self.head = TokenHead(hidden, target_vocab - FIRST_OUTPUT_ID)
        self.max_length = max_length

    # ---- scoring (teacher forcing) ---------------------------------------------------------------
    def remember(self, source: torch.Tensor) -> SourceMemory:
        """Encodes source rows (B, Ts) once, for scoring or decoding."""
        memory, final, mask = self.encoder.states(source, every_step=self.attention is not None)
        keys = None if self.attention is None else self.attention.keys(memory)
        return SourceMemory(final, memory, keys, mask)

    def states(self, target: torch.Tensor, source: torch.Tensor):
        """(outputs (B, Tt-1, H) predicting target[:, 1:], attention weights (B, Tt-1, S) or None)."""
        memo = self.remember(source)
        if self.attention_kind == "additive":
            return self._step_through(target, memo)
        if self.attention is None:
            return self.decoder(target, memo.final), None  # (B, Tt-1, H), one fused RNN call
        h = self.decoder(target, None, self.initial_state(memo))  # (B, Tt-1, H)
        context, weights = self.attention(h, memo.keys, memo.memory, memo.mask)  # (B, Tt-1, F), (B, Tt-1, S)
        return self.decoder.dropout(self._output(h, context)), weights

    def _step_through(self, target: torch.Tensor, memo: SourceMemory):
        """Bahdanau's decoder, teacher-forced one step at a time. The target's word vectors are looked
        up once for all steps: a lookup per step made a dense gradient of the whole table per step in
        the backward pass (a fill and an add of 16,281 x 256 numbers each), ~23% of the step's CPU time."""
        state = self.initial_state(memo)
        vectors = self.decoder.embedded(target[:, :-1])  # (B, Tt-1, E)
        outs, weights = [], []
        for t in range(vectors.shape[1]):
            out, state, w = self._attend_and_step(vectors[:, t], memo, state)
            outs.append(out)
            weights.append(w)
        return self.decoder.dropout(torch.stack(outs, 1)), torch.stack(weights, 1)

    def _attend_and_step(self, vectors: torch.Tensor, memo: SourceMemory, state):
        """Bahdanau's step from the previous words' vectors (B, E): context from s_{t-1}, then the RNN."""
        top = (state[0] if self.decoder.is_lstm else state)[-1]  # (B, H) s_{t-1}
        context, weights = self.attention(top, memo.keys, memo.memory, memo.mask)
        h, state = self.decoder.step_embedded(vectors, context, state)
        return self._output(h, context), state, weights

    def _output(self, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.combine(torch.cat([h, context], dim=-1)))

    def token_log_probs(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """log p(y_t | y_<t, x) at every predicted position, 0 at padding: (B, Tt-1)."""
        hidden, _ = self.states(target, source)
        targets = target[:, 1:]  # (B, Tt-1)
        scored = targets != PAD_ID
        out = hidden.new_zeros(targets.shape, dtype=torch.float32)
        out[scored] = self.head.target_log_prob(hidden[scored], targets[scored] - FIRST_OUTPUT_ID)
        return out

    def log_prob(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Exact log p(y|x) of whole target sentences (B,), summed over words and <eos>."""
        return self.token_log_probs(target, source).sum(-1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | y): target rows x given source rows y, (B,)."""
        if y is None:
            raise VaekitError("a translation model scores a target sentence given its source: pass both")
        return self.log_prob(x, y)

    # ---- decoding, one step for a batch of partial translations --------------------------------------
    def initial_state(self, memo: SourceMemory):
        """The decoder's first state (layers, B, H) — (h, c) for an LSTM — from the final encoder state."""
        if self.bridge is None:  # the decoder's own tanh(W c)
            return self.decoder.initial_state(memo.final, memo.final.shape[0])
        layers, hidden = self.decoder.layers, self.decoder.hidden
        s = torch.tanh(self.bridge(memo.final)).view(memo.final.shape[0], -1, layers, hidden).permute(1, 2, 0, 3)
        return (s[0].contiguous(), s[1].contiguous()) if self.decoder.is_lstm else s[0].contiguous()

    def step(self, tokens: torch.Tensor, memo: SourceMemory, state):
        """Last tokens (B,) -> (log-probabilities of the next (B, classes), new state, weights (B, S) or None);
        class c is token id c + FIRST_OUTPUT_ID."""
        out, state, weights = self._advance(tokens, memo, state)
        return self.head.log_probs(out), state, weights

    def _advance(self, tokens: torch.Tensor, memo: SourceMemory, state):
        if self.attention_kind == "additive":
            return self._attend_and_step(self.decoder.embedded(tokens), memo, state)
        if self.attention is None:
            h, state = self.decoder.step(tokens, memo.final, state)
            return h, state, None
        h, state = self.decoder.step(tokens, None, state)
        context, weights = self.attention(h, memo.keys, memo.memory, memo.mask)
        return self._output(h, context), state, weights

    def select_state(self, state, index: torch.Tensor):
        """Decoder state rows `index` (beam search reorders its hypotheses)."""
        if self.decoder.is_lstm:
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)

    # ---- the rest of the model contract ---------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        raise VaekitError("a translation model has no latent code q(z|x): use 'vaekit translate RUN \"...\"'")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        raise VaekitError("a translation model decodes source sentences, not codes: use 'vaekit translate'")

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        raise NoPrior("a translation model has no prior p(z): it translates, use 'vaekit translate RUN \"...\"'")


class TranslationNLL:
    """The loss: -log p(target | source) per sentence pair, summed over the target's words and <eos> (nats)."""

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor, progress: torch.Tensor) -> LossOutput:
        nll = -model.log_prob(x, y)  # (B,)
        return LossOutput(nll.mean(), {"nll": nll})


def build_seq2seq(cfg, data_shape, source_vocab: int, target_vocab: int, *, attention: str = "additive") -> Seq2Seq:
    """The network for a ModelConfig: --arch gru|lstm, --hidden (one size per layer, all equal),
    --embedding-dim, --bidirectional, --dropout (on both sides' word vectors and the decoder's outputs);
    `attention` none | dot | additive (--attention, or --set attention=...; additive unless given: per CPU
    second it learns the most, BENCHMARKS.md "Translation: fra-eng")."""
    if cfg.arch not in CELLS:
        raise VaekitError(f"seq2seq needs a recurrent network: --arch {' or '.join(CELLS)} (got {cfg.arch!r})")
    if len(set(cfg.hidden)) != 1:
        raise VaekitError(f"--hidden gives one state size per recurrent layer, all equal, e.g. 256 (got {cfg.hidden})")
    if min(source_vocab, target_vocab) < 5:
        raise VaekitError(f"vocabularies of {source_vocab} and {target_vocab} ids are too small to train on")
    return Seq2Seq(
        source_vocab,
        target_vocab,
        cfg.embedding_dim,
        cfg.hidden[0],
        len(cfg.hidden),
        cfg.arch,
        cfg.bidirectional,
        attention,
        cfg.dropout,
        data_shape[0] - 2,
    )
