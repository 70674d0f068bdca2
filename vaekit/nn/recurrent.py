"""Recurrent backbones for sentences: an encoder to a fixed-size state, a decoder conditioned on z.

Sentences arrive as padded rows of token ids (`vaekit.data.text`): <bos> w_1 .. w_n <eos> <pad>...

    SentenceEncoder   reads w_1 .. w_n <eos> (packed: padding never enters the RNN), through the
                      decoder's word vectors, and returns the
                      last layer's final state (B, H), both directions concatenated (B, 2H) when
                      bidirectional; a Gaussian head then makes q(z|x) of it.
    SentenceDecoder   reads <bos> w_1 .. w_n and predicts w_1 .. w_n <eos>. z conditions it twice,
                      as Bowman et al. (2016) and most later sentence VAEs do: the initial state is
                      tanh(W z), and z is concatenated to the input embedding at every step, so the
                      decoder cannot forget it along the way. With latent_dim = 0 it is a plain RNN
                      language model (the baseline). Word dropout (Bowman et al.) replaces each input
                      word by <unk> with probability `word_dropout` while training, so the decoder
                      must lean on z to predict the next word.

Dropout while training, as the anchors use it (0.5 in Texar's PTB VAE): `embedding_dropout` on the
word vectors both networks read, `dropout` on the decoder's outputs before the softmax, and
`weight_drop` on the decoder's recurrent (hidden-to-hidden) matrices: DropConnect, one mask per batch
shared by every time step (AWD-LSTM, Merity et al. 2018), which regularises the recurrence itself
without disturbing the fused RNN kernel.

The output layer is `vaekit.nn.sequence.TokenHead`: an adaptive softmax for large vocabularies.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vaekit.data.vocab import BOS_ID, PAD_ID, UNK_ID
from vaekit.errors import VaekitError

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class Dropout(nn.Dropout):
    """nn.Dropout (same p, same distribution, no state) with its mask drawn by `torch.rand`: on a CPU
    `bernoulli_` draws element by element, and at a PTB batch's (128, 36, 512) states it took 32 ms
    against 8 here (BENCHMARKS.md, "bf16 on text"), a tenth of a bf16 training step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep = (torch.rand(x.shape, device=x.device) >= self.p).to(x.dtype)
        return x * keep.mul_(1.0 / (1.0 - self.p))


def _cell(kind: str) -> type[nn.Module]:
    if kind not in CELLS:
        raise VaekitError(f"unknown recurrent cell {kind!r}: use --arch gru or lstm")
    return CELLS[kind]


class SentenceEncoder(nn.Module):
    """Token ids (B, T) -> features (B, out_features): the final RNN state over each sentence.

    It reads through the decoder's word vectors (`shared_embedding`, owned and saved by the decoder):
    one table instead of two halves the parameters Adam updates, most of them in the embeddings.
    """

    def __init__(
        self,
        shared_embedding: nn.Embedding,
        hidden: int,
        layers: int = 1,
        cell: str = "gru",
        bidirectional: bool = False,
        embedding_dropout: float = 0.0,
    ):
        super().__init__()
        self._embedding = (shared_embedding,)  # a tuple: not a submodule, so saved once, by its owner
        self.embedding_dropout = Dropout(embedding_dropout)  # on the word vectors, in training only
        embedding_dim = shared_embedding.embedding_dim
        self.rnn = _cell(cell)(embedding_dim, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.directions = 2 if bidirectional else 1
        self.out_features = hidden * self.directions

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.states(x, every_step=False)[1]

    def states(self, x: torch.Tensor, every_step: bool = True):
        """(outputs (B, S, F) or None, final (B, F), mask (B, S)) over w_1 .. w_n <eos> (S = T-1 trimmed
        to the batch's longest): the last layer's state at every step (zeros at padding), for attention."""
        tokens = x[:, 1:]  # (B, T-1) w_1 .. w_n <eos>, no <bos>
        lengths = (tokens != PAD_ID).sum(1).clamp(min=1)  # (B,)
        tokens = tokens[:, : int(lengths.max())]  # (B, S)
        vectors = self.embedding_dropout(self._embedding[0](tokens))  # (B, S, E)
        packed = pack_padded_sequence(vectors, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H); an LSTM's c is not used
        final = h[-self.directions :].transpose(0, 1).flatten(1)  # (B, dirs * H) the last layer
        outputs = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])[0] if every_step else None
        return outputs, final, tokens != PAD_ID


class SentenceDecoder(nn.Module):
    """Teacher-forced hidden states (B, T-1, H) of a sentence given z, and single steps for sampling."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden: int,
        latent_dim: int,
        layers: int = 1,
        cell: str = "gru",
        word_dropout: float = 0.0,
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        weight_drop: float = 0.0,
    ):
        super().__init__()
        if not 0.0 <= word_dropout < 1.0:
            raise VaekitError(f"--word-dropout must be in [0, 1), got {word_dropout}")
        if not 0.0 <= weight_drop < 1.0:
            raise VaekitError(f"--weight-drop must be in [0, 1), got {weight_drop}")
        self.embedding_dropout = Dropout(embedding_dropout)  # on the input word vectors
        self.embed = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.rnn = _cell(cell)(embedding_dim + latent_dim, hidden, layers, batch_first=True)
        self.is_lstm, self.layers, self.hidden = cell == "lstm", layers, hidden
        self.latent_dim, self.word_dropout = latent_dim, word_dropout
        # z -> every layer's initial state (and an LSTM's initial cell); no z: learned-free zeros.
        self.init = nn.Linear(latent_dim, layers * hidden * (2 if self.is_lstm else 1)) if latent_dim else None
        self.dropout = Dropout(dropout)  # on the outputs (the last layer's states), before the softmax
        self.weight_drop = Dropout(weight_drop)  # on the hidden-to-hidden matrices, once per batch
        self.out_features = hidden

    def initial_state(self, z: torch.Tensor | None, batch: int):
        """(layers, B, H) from z (B, D) — or (h, c) for an LSTM — zeros for the language model."""
        if self.init is None:
            h = self.embed.weight.new_zeros(self.layers, batch, self.hidden)
            return (h, torch.zeros_like(h)) if self.is_lstm else h
        s = torch.tanh(self.init(z)).view(batch, -1, self.layers, self.hidden).permute(1, 2, 0, 3)  # (1|2, L, B, H)
        return (s[0].contiguous(), s[1].contiguous()) if self.is_lstm else s[0].contiguous()

    def embedded(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word vectors (..., E) of input tokens (...), with word and embedding dropout while training."""
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(tokens.shape, device=tokens.device) < self.word_dropout) & (tokens != BOS_ID)
            tokens = tokens.masked_fill(drop & (tokens != PAD_ID), UNK_ID)
        return self.embedding_dropout(self.embed(tokens))

    def _inputs(self, tokens: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        e = self.embedded(tokens)  # (B, T, E)
        if z is None:
            return e
        return torch.cat([e, z[:, None, :].expand(-1, tokens.shape[1], -1)], dim=2)  # (B, T, E + D)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None, state=None) -> torch.Tensor:
        """x (B, T) padded sentences, z (B, D) or None -> hidden states (B, T-1, H) predicting x[:, 1:];
        `state` replaces the initial state made from z (an encoder-decoder's bridge)."""
        inputs = x[:, :-1]  # (B, T-1) <bos> w_1 .. w_n (and <eos>/<pad> whose outputs are never scored)
        args = (self._inputs(inputs, z), self.initial_state(z, x.shape[0]) if state is None else state)
        return self.dropout(self._recur(*args)[0])

    def _recur(self, inputs: torch.Tensor, state):
        """The RNN over (B, T, F) inputs; with `weight_drop` in training, through dropped recurrent matrices."""
        if not (self.training and self.weight_drop.p > 0):
            return self.rnn(inputs, state)
        names = [f"weight_hh_l{k}" for k in range(self.layers)]
        dropped = {name: self.weight_drop(getattr(self.rnn, name)) for name in names}
        return functional_call(self.rnn, dropped, (inputs, state))

    def step(self, tokens: torch.Tensor, z: torch.Tensor | None, state):
        """One step: last tokens (B,) -> (hidden (B, H), new state)."""
        return self.step_embedded(self.embedded(tokens), z, state)

    def step_embedded(self, vectors: torch.Tensor, z: torch.Tensor | None, state):
        """One step from the last tokens' word vectors (B, E) (`embedded`) -> (hidden (B, H), new state)."""
        inputs = vectors if z is None else torch.cat([vectors, z], dim=1)  # (B, E + D)
        out, state = self.rnn(inputs[:, None, :], state)  # decoding: weight drop is for teacher-forced training
        return out[:, 0], state
