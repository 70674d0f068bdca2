"""Sentence models: the same contract as the image models, with sentences for x.

    encode(x) -> q(z|x)      x (B, T) padded token ids; a Gaussian (VAE) or a point mass (AE), event (D,)
    decode(z) -> p(x|z)      a `SentenceDistribution`: log_prob of whole sentences, sample, greedy
    prior()   -> N(0, I)     (the VAE; the AE has none)

so the ELBO, beta-VAE, IWAE and reconstruction objectives, the trainer and the importance-sampled
evaluation run on text unchanged. `--arch gru|lstm` picks the cell, `--hidden 256` (one size per
layer, all equal) the state size, `--encoder-hidden` the encoder's if it differs (a cheaper encoder
buys epochs: the decoder does the work), `--embedding-dim` the word vectors, `--bidirectional` the encoder,
`--softmax adaptive|full` the output layer and `--tie-embeddings` makes the word vectors its matrix.

`LanguageModel` is the baseline that answers "does the latent variable help?": the same decoder
with no z (latent_dim 0, initial state zero), trained on -log p(x) and scored exactly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.data.vocab import FIRST_OUTPUT_ID, PAD_ID
from vaekit.errors import NoPrior, VaekitError
from vaekit.nn import GaussianLatentHead
from vaekit.nn.heads import PointMass
from vaekit.nn.recurrent import CELLS, SentenceDecoder, SentenceEncoder
from vaekit.nn.sequence import SentenceDistribution, TokenHead
from vaekit.objectives import LossOutput


class SentenceAutoencoder(nn.Module):
    """Recurrent encoder -> q(z|x) (Gaussian if `variational`, else a point mass) -> recurrent decoder.

    Under `vaekit.models.contract`: unconditional (num_labels 0); own_evaluation is False because a
    text run is measured by `vaekit.eval.text` (per sentence and per token), for the AE too.
    """

    num_labels = 0
    own_evaluation = False
    data_kind, code_kind, trainable_prior = "sentences", "continuous", False

    @property
    def prior_words(self) -> str:
        return "N(0, I)" if self.variational else "none"

    def __init__(
        self,
        encoder: SentenceEncoder,
        decoder: SentenceDecoder,
        head: TokenHead,
        latent_dim: int,
        max_length: int,
        variational: bool = True,
    ):
        super().__init__()
        self.encoder, self.decoder, self.head = encoder, decoder, head
        self.latent_head = (
            GaussianLatentHead(encoder.out_features, latent_dim)
            if variational
            else nn.Linear(encoder.out_features, latent_dim)
        )
        self.latent_dim, self.max_length, self.variational = latent_dim, max_length, variational
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """q(z|x): batch (B,), event (D,)."""
        h = self.encoder(x)  # (B, F)
        return self.latent_head(h) if self.variational else PointMass(self.latent_head(h))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> SentenceDistribution:
        """p(x|z): batch z.shape[:-1], events are padded sentences."""
        return SentenceDistribution(self.decoder, self.head, z, max_length=self.max_length)

    @property
    def has_prior(self) -> bool:
        return self.variational

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        if not self.variational:
            raise NoPrior("a sentence autoencoder has no prior p(z) to sample from: train vae (or lm) to sample")
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1, validate_args=False)

    @torch.no_grad()
    def reset_decoder(self) -> None:
        """Fresh weights for the decoder's recurrent layers, its z -> state map and the output layer
        (Li et al. 2019); the word vectors stay, the encoder reads through them. In place, so an
        optimizer keeps holding the same parameters."""
        for module in (self.decoder.rnn, self.decoder.init, *self.head.modules()):
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def bag_of_words_nll(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-sum_t log p_bow(x_t | z) over each sentence's words and <eos>, (B,): every word predicted
        from z alone, in no order (Zhao et al. 2017's bag-of-words loss). The decoder's first state
        tanh(W z) is read by its own output layer, so the term adds no parameters; the decoder still
        reads z at every step, and the loss pushes z to name the sentence's words, which the decoder's
        own history would otherwise supply (`--set bow_weight`, `vaekit.objectives.ELBO`)."""
        state = self.decoder.initial_state(z, z.shape[0])
        first = (state[0] if isinstance(state, tuple) else state)[-1]  # (B, H) the last layer's first state
        log_p = self.head.log_probs(first)  # (B, classes)
        targets = x[:, 1:]  # (B, T-1) w_1 .. w_n <eos> <pad>...
        scored = targets != PAD_ID
        picked = log_p.gather(1, (targets - FIRST_OUTPUT_ID).clamp(min=0))  # (B, T-1)
        return -(picked * scored).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Greedy decodes of the posterior means, (B, T') padded token ids."""
        return self.decode(self.encode(x).mean).greedy()


class LanguageModel(nn.Module):
    """The decoder alone: p(x) = prod_t p(x_t | x_<t), no latent variable."""

    has_prior = False
    latent_dim = 0
    num_labels = 0
    own_evaluation = False  # scored exactly by vaekit.eval.text
    data_kind, code_kind, trainable_prior = "sentences", "none", False  # decode(z (..., 0)) is p(x)
    prior_words = "none"

    def __init__(self, decoder: SentenceDecoder, head: TokenHead, max_length: int):
        super().__init__()
        self.decoder, self.head, self.max_length = decoder, head, max_length

    def distribution(self, batch: int) -> SentenceDistribution:
        """p(x) for `batch` sentences."""
        return SentenceDistribution(self.decoder, self.head, None, batch=batch, max_length=self.max_length)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) of sentences x (B, T) -> (B,)."""
        return self.distribution(x.shape[0]).log_prob(x)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        raise VaekitError(
            "a language model has no latent code z: reconstruct, interpolate and latents need vae, beta-vae, iwae or ae"
        )

    def decode(self, z: torch.Tensor | None, y: torch.Tensor | None = None) -> SentenceDistribution:
        """p(x), ignoring z except for how many sentences it stands for."""
        return self.distribution(1 if z is None else z.shape[:-1].numel())

    def prior(self, y: torch.Tensor | None = None) -> Distribution:
        raise NoPrior("a language model has no p(z): 'vaekit sample RUN' draws sentences from p(x) directly")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_prob(x)


class SentenceNLL:
    """The language model's loss: -log p(x) per sentence, summed over its words and <eos> (nats)."""

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor | None, progress: torch.Tensor) -> LossOutput:
        nll = -model.log_prob(x)  # (B,)
        return LossOutput(nll.mean(), {"nll": nll})


# ---- builders from a ModelConfig --------------------------------------------------------------

TIED_INIT = 0.1  # tied word vectors start in U(-0.1, 0.1), as PyTorch's word_language_model and AWD-LSTM start them


def _sizes(cfg, vocab_size: int) -> tuple[int, int]:
    if cfg.arch not in CELLS:
        raise VaekitError(f"text needs a recurrent network: --arch {' or '.join(CELLS)} (got {cfg.arch!r})")
    if len(set(cfg.hidden)) != 1:
        raise VaekitError(
            f"--hidden gives one state size per recurrent layer, all equal, e.g. 256,256 (got {cfg.hidden})"
        )
    if vocab_size < 5:
        raise VaekitError(f"a vocabulary of {vocab_size} ids is too small to train on")
    return cfg.hidden[0], len(cfg.hidden)


def _decoder(cfg, vocab_size: int, latent_dim: int) -> tuple[SentenceDecoder, TokenHead]:
    hidden, layers = _sizes(cfg, vocab_size)
    decoder = SentenceDecoder(
        vocab_size,
        cfg.embedding_dim,
        hidden,
        latent_dim,
        layers,
        cfg.arch,
        cfg.word_dropout,
        cfg.dropout,
        cfg.embedding_dropout,
        cfg.weight_drop,
    )
    tied = decoder.embed if cfg.tie_embeddings else None  # Press & Wolf 2017: one matrix in and out
    if tied is not None:  # N(0, 1) vectors as logits start far from uniform: the first epoch is lost (BENCHMARKS.md)
        with torch.no_grad():
            tied.weight.uniform_(-TIED_INIT, TIED_INIT)
            tied.weight[tied.padding_idx].zero_()
    return decoder, TokenHead(hidden, vocab_size - 2, cfg.softmax, tied)  # <pad> and <bos> are never predicted


def build_sentence_model(cfg, data_shape, vocab_size: int, variational: bool = True) -> SentenceAutoencoder:
    """A sentence VAE (or AE) for padded sentences of `data_shape` (T,) over `vocab_size` token ids."""
    hidden, layers = _sizes(cfg, vocab_size)
    decoder, head = _decoder(cfg, vocab_size, cfg.latent_dim)
    encoder_hidden = cfg.encoder_hidden or hidden
    encoder = SentenceEncoder(decoder.embed, encoder_hidden, layers, cfg.arch, cfg.bidirectional, cfg.embedding_dropout)
    return SentenceAutoencoder(encoder, decoder, head, cfg.latent_dim, data_shape[0] - 2, variational)


def build_sentence_ae(cfg, data_shape, vocab_size: int) -> SentenceAutoencoder:
    return build_sentence_model(cfg, data_shape, vocab_size, variational=False)


def build_language_model(cfg, data_shape, vocab_size: int) -> LanguageModel:
    if cfg.encoder_hidden:
        raise VaekitError("--encoder-hidden sizes a sentence VAE's encoder; the language model has none: drop it")
    decoder, head = _decoder(cfg, vocab_size, 0)
    return LanguageModel(decoder, head, data_shape[0] - 2)
