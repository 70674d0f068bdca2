"""Using a trained sentence model: sample sentences, reconstruct them, walk between two of them.

Everything returns text (lists of strings, via the run's `Vocabulary`), since that is what one
looks at. Decodes are greedy (the argmax word at every step) unless said otherwise: a cheap,
deterministic stand-in for the most likely sentence given z, as in Bowman et al. (2016).

Greedy decoding of a recurrent model falls into loops ("the <unk> <unk> <unk> ..." up to the
length limit), so decodes follow a rule a reader can be told (`DecodeRule`): no n-gram repeated
within a sentence (n = 3 by default) and, for greedy decodes, no <unk>: on a corpus like PTB, where
<unk> is one token in twenty, it is the argmax wherever a rarer content word would go, and a decode
of "<unk> <unk> of the <unk>" says nothing. A sentence that reaches the length limit without <eos>
ends in "…".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaekit.data.text import encode_sentences, trim_padding
from vaekit.data.vocab import EOS_ID, Vocabulary
from vaekit.errors import VaekitError

CUT_MARK = " …"  # ends a decode that reached the length limit without <eos>


@dataclass(frozen=True)
class DecodeRule:
    """What decoding never emits: a repeated n-gram (`no_repeat` n, 0: no rule), <unk> (`allow_unk`)."""

    no_repeat: int = 3
    allow_unk: bool = True

    def __post_init__(self):
        if self.no_repeat < 0 or self.no_repeat == 1:
            raise VaekitError(f"--no-repeat must be 0 (off) or at least 2 words, got {self.no_repeat}")

    def describe(self) -> str:
        """A line for the output, saying the rule."""
        n = self.no_repeat
        repeat = f"no {n}-word sequence repeated in a sentence (--no-repeat)" if n else "no repetition rule"
        unk = (
            "<unk> never chosen, the next most likely word is (--unk allows it)"
            if not self.allow_unk
            else "<unk> may be chosen: it marks a word outside the vocabulary (--no-unk bans it)"
        )
        return f"decoding: {repeat}; {unk}; a sentence cut at the length limit ends in …"

    def kwargs(self) -> dict:
        return {"no_repeat": self.no_repeat, "allow_unk": self.allow_unk}


READABLE = DecodeRule(allow_unk=False)  # greedy decodes: no repeated trigram, no <unk>
SAMPLING = DecodeRule(no_repeat=0)  # ancestral samples: the model's own distribution


def _device(model) -> torch.device:
    return next(model.parameters()).device


def unknown_words(vocab: Vocabulary, text: str) -> list[str]:
    """The words of `text`, split as the training text was, that the vocabulary lacks (they read as <unk>)."""
    return vocab.unknown(vocab.split(text))


def sentences_to_tensor(vocab: Vocabulary, texts: list[str], device=None) -> torch.Tensor:
    """Sentences typed by a user -> (N, T) padded token ids; words outside the vocabulary -> <unk>."""
    split = [vocab.split(t) for t in texts]
    for text, tokens in zip(texts, split):
        if not tokens:
            raise VaekitError(f"empty sentence {text!r}: give at least one {vocab.level}")
    x, _ = encode_sentences(split, vocab, max(len(t) for t in split), "cut")
    return x.to(device) if device is not None else x


def decode_texts(vocab: Vocabulary, tokens: torch.Tensor) -> list[str]:
    """(N, T) token ids -> the N sentences, each up to its <eos>; one without <eos> ends in "…"."""
    return [vocab.decode(row.tolist()) + ("" if EOS_ID in row else CUT_MARK) for row in tokens.cpu()]


@torch.no_grad()
def sample_sentences(
    model, vocab: Vocabulary, n: int, temperature: float = 1.0, greedy: bool = False, rule: DecodeRule | None = None
) -> list[str]:
    """n sentences: z ~ p(z) then x ~ p(x|z) for a VAE, x ~ p(x) for a language model.

    temperature T scales the word distribution at every step, softmax(log p / T): below 1 more
    typical sentences, above 1 more varied ones. greedy=True takes the argmax word instead
    (for a VAE: the typical sentence of each z). `rule` applies to both; by default READABLE for
    greedy decodes, none (SAMPLING) for draws.
    """
    rule = rule or (READABLE if greedy else SAMPLING)
    if n < 1:
        raise VaekitError(f"-n must be at least 1, got {n}")
    if not temperature > 0:
        raise VaekitError(f"--temperature must be positive, got {temperature}")
    model.eval()
    if model.has_prior:
        p = model.decode(model.prior().sample((n,)).to(_device(model)))
    elif model.code_kind == "none":  # a language model: decode(z) with an empty code is p(x)
        p = model.decode(torch.zeros((n, 0), device=_device(model)))
    else:
        model.prior()  # raises NoPrior with what to do instead
    return decode_texts(vocab, p.sample(temperature=temperature, greedy=greedy, **rule.kwargs()))


@torch.no_grad()
def reconstruct_sentences(model, vocab: Vocabulary, x: torch.Tensor, rule: DecodeRule = READABLE) -> list[str]:
    """Greedy decodes of the posterior means E[z|x] of sentences x (N, T)."""
    model.eval()
    return decode_texts(vocab, model.decode(model.encode(trim_padding(x)).mean).greedy(**rule.kwargs()))


@torch.no_grad()
def homotopy(
    model, vocab: Vocabulary, a: torch.Tensor, b: torch.Tensor, steps: int = 7, rule: DecodeRule = READABLE
) -> list[str]:
    """Bowman et al.'s homotopy: greedy decodes along z(t) = (1 - t) E[z|a] + t E[z|b], t = 0 .. 1.

    a, b: (1, T) sentences. Returns `steps` sentences, ends included.
    """
    if steps < 2:
        raise VaekitError(f"--steps must be at least 2 (the two ends), got {steps}")
    model.eval()
    za, zb = model.encode(trim_padding(a)).mean, model.encode(trim_padding(b)).mean  # (1, D) each
    t = torch.linspace(0.0, 1.0, steps, device=za.device)[:, None]  # (S, 1)
    return decode_texts(vocab, model.decode((1 - t) * za + t * zb).greedy(**rule.kwargs()))  # (S, D) codes


@torch.no_grad()
def sentence_codes(model, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Posterior means E[z|x] of sentences x (N, T) -> (N, D)."""
    model.eval()
    return torch.cat([model.encode(trim_padding(x[i : i + batch_size])).mean for i in range(0, x.shape[0], batch_size)])
