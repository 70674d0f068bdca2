"""A vocabulary: token strings <-> integer ids, built from the training split only.

Ids are laid out so that a padded batch and an output layer need no lookup tables:

    0 <pad>   fills sentences up to the batch's longest; never read, never scored
    1 <bos>   the decoder's first input; never predicted
    2 <eos>   ends every sentence; predicted, and counted in perplexity
    3 <unk>   stands for every token outside the vocabulary (and PTB's own "<unk>")
    4 ...     the kept tokens, most frequent first (ties: alphabetical), so an adaptive
              softmax's frequency clusters are contiguous id ranges

The decoder predicts ids 2.. only (`num_outputs` = len(vocab) - 2 classes): the likelihood is a
distribution over end-of-sentence, <unk> and the kept tokens, nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from vaekit.data.tokenize import Tokenizer
from vaekit.errors import VaekitError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)
FIRST_OUTPUT_ID = EOS_ID  # output class c is token id c + FIRST_OUTPUT_ID


class Vocabulary:
    """Token strings and their ids; `level` is 'word' or 'char'; `tokenizer` says how a line was split
    (`vaekit.data.tokenize`: lower-casing, punctuation), so a person's sentence is read the same way."""

    def __init__(self, tokens: Sequence[str], level: str = "word", tokenizer: Tokenizer | None = None):
        if level not in ("word", "char"):
            raise VaekitError(f"unknown token level {level!r}: use word or char")
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise VaekitError(f"a vocabulary must start with {', '.join(SPECIALS)}")
        self.tokens, self.level = list(tokens), level
        self.tokenizer = tokenizer or Tokenizer()
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        level: str = "word",
        max_size: int | None = None,
        min_count: int = 1,
        tokenizer: Tokenizer | None = None,
    ) -> Vocabulary:
        """The `max_size` most frequent tokens seen at least `min_count` times (specials not counted)."""
        if max_size is not None and max_size < 1:
            raise VaekitError(f"--vocab-size must be at least 1, got {max_size}")
        if min_count < 1:
            raise VaekitError(f"--min-count must be at least 1, got {min_count}")
        counts = Counter(t for sentence in sentences for t in sentence)
        for special in SPECIALS:  # PTB writes its own "<unk>": it maps onto ours, not a new word
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls([*SPECIALS, *kept[:max_size]], level, tokenizer)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def num_outputs(self) -> int:
        """Classes the decoder predicts: <eos>, <unk> and the kept tokens."""
        return len(self.tokens) - FIRST_OUTPUT_ID

    def split(self, line: str) -> list[str]:
        """A line as tokens, as the training text was split: words (the run's tokenizer), or characters."""
        return self.tokenizer.tokens(line) if self.level == "word" else list(self.tokenizer.normalize(line.strip()))

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens outside the vocabulary (each once, in order): what becomes <unk>."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token ids of one sentence, without <bos>/<eos>; unknown tokens -> <unk>."""
        return [self.index.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids, stopping at <eos> and skipping <pad>/<bos>."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            out.append(self.tokens[i])
        return (" " if self.level == "word" else "").join(out)

    def to_json(self) -> str:
        raw = {"level": self.level, "tokenizer": self.tokenizer.to_dict(), "tokens": self.tokens}
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        raw = json.loads(text)
        tokenizer = Tokenizer.from_dict(raw["tokenizer"]) if "tokenizer" in raw else None  # older runs: whitespace
        return cls(raw["tokens"], raw["level"], tokenizer)

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as err:
            raise VaekitError(f"cannot read the vocabulary {path} ({err}): the run folder is incomplete") from None
