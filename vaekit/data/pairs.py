"""Sentence pairs for translation: the Tatoeba English-French pairs, or your own tab-separated file.

Every pair becomes two padded rows of token ids (`vaekit.data.text.encode_sentences`):

    x  the target  <bos> y_1 .. y_m <eos> <pad>..   what the model scores (like a text run's x)
    y  the source  <bos> x_1 .. x_n <eos> <pad>..   what it is conditioned on (in place of a label)

so the trainer's batching, padding trim and resume work for pairs unchanged.

Sources (`--data`):

- ``fra-eng``: 76,037 English-French pairs from Tatoeba (manythings.org's Anki release), fetched
  from the public GitHub copy the shared data README names; that copy stops inside its last line,
  which is dropped before the SHA-256 check. English is the source (``reverse`` makes it French).
- ``synthetic-copy``, ``synthetic-reverse``: seeded random strings of 5 to 60 symbols and the same
  string, or the string reversed (`vaekit.data.synthetic`): the bottleneck study's task.
- a ``.tsv`` path: UTF-8, one pair a line, two tab-separated columns (source, target) or the three
  of the Tatoeba/Anki files (the third, the attribution, ignored). Blank lines are skipped; a line
  with no tab, more than three columns or an empty side, undecodable bytes and an empty file are
  errors naming the file and line.

Tokens (`vaekit.data.tokenize`): lower-cased and punctuation split by default for pairs (NFC,
apostrophes and accents kept). Pairs with a side longer than ``max_length`` tokens (default 50)
are skipped and counted.

The split (seeded, by the *source sentence*, so no test source sentence is seen in training; for
``fra-eng`` the English sentence): the distinct source sentences, in order of first appearance, are
permuted by numpy PCG64 seeded with ``seed`` (default 0); the first min(2000, n // 10) are the test
sentences, the next min(1000, n // 10) the validation sentences, the rest train, each with all of its
pairs. For ``fra-eng``: 49,195 source sentences -> 46,195 / 1,000 / 2,000 (71,472 / 1,578 / 2,987 pairs).
Every test and validation sentence keeps all its references (`PairInfo.test_references`,
`PairInfo.val_references`, or `PairInfo.held_out(split)`) for BLEU.

One vocabulary per side from the training pairs (``min_count``, ``vocab_size``, `<unk>` for the
rest): `DataSplits.vocab` is the target's, `PairInfo.source_vocab` the source's. Every training
word is kept by default: with ``--min-count 2`` the decoder learns to write `<unk>` for the French
words seen once, which costs BLEU (BENCHMARKS.md, issue 24).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vaekit.data import synthetic
from vaekit.data.download import RemoteFile, ensure_file
from vaekit.data.splits import DataSplits
from vaekit.data.text import encode_sentences
from vaekit.data.tokenize import Tokenizer
from vaekit.data.vocab import Vocabulary
from vaekit.errors import VaekitError

FRA_ENG = RemoteFile(
    "fra-eng",
    "fra.txt",
    (
        "https://raw.githubusercontent.com/Soubhagya264/Language_Translator-Encoder-Decoder-/"
        "f6c89651306aa93d2f0f0447ce15b553a530abb0/fra.txt",
    ),
    "0054ea2102484f4800d0b2cca57460b6b4a2e05328e6954240601065b001b1a6",
    whole_lines=True,  # that copy ends inside line 76,038: the 76,037 whole lines are the data
)
PAIR_SUFFIXES = (".tsv",)
DEFAULT_MAX_LENGTH = 50
TEST_SENTENCES, VAL_SENTENCES = 2000, 1000
SOURCE_VOCAB = "source-vocab.json"  # beside a run's vocab.json (the target's)


@dataclass(frozen=True)
class PairOptions:
    """How pairs become tokens; `vocabs` (a saved run's source and target) replace building them."""

    tokenizer: Tokenizer = field(default_factory=lambda: Tokenizer(lower=True, split_punct=True))
    reverse: bool = False  # the second column is the source
    vocab_size: int | None = None  # per side (None: all)
    min_count: int = 1
    max_length: int | None = None  # tokens per side, <eos> not counted (None: DEFAULT_MAX_LENGTH)
    vocabs: tuple[Vocabulary, Vocabulary] | None = field(default=None, compare=False)

    def limit(self) -> int:
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH

    @classmethod
    def of_run(cls, data, run_dir: Path | None = None) -> PairOptions:
        """The pair settings of a DataConfig; with the vocabularies saved in `run_dir` when it has them."""
        tokenizer = Tokenizer(
            lower=True if data.lower is None else data.lower,
            split_punct=True if data.split_punct is None else data.split_punct,
        )
        vocabs = None
        if run_dir is not None and (Path(run_dir) / SOURCE_VOCAB).is_file():
            vocabs = (Vocabulary.load(Path(run_dir) / SOURCE_VOCAB), Vocabulary.load(Path(run_dir) / "vocab.json"))
        return cls(tokenizer, data.reverse, data.vocab_size, data.min_count, data.max_length, vocabs)


@dataclass
class PairInfo:
    """What a pairs dataset holds beyond the two token tensors."""

    source_vocab: Vocabulary
    tokenizer: Tokenizer
    languages: tuple[str | None, str | None]  # (source, target), e.g. ("en", "fr"); None: unknown
    test_sources: list[list[str]]  # the distinct test source sentences, as tokens
    test_references: list[list[list[str]]]  # every reference translation of each, as tokens
    test_group: torch.Tensor  # (N_test,) which test source sentence each test pair belongs to
    val_sources: list[list[str]] = field(default_factory=list)  # the same three for the validation split
    val_references: list[list[list[str]]] = field(default_factory=list)
    val_group: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))

    def held_out(self, split: str) -> tuple[list[list[str]], list[list[list[str]]], torch.Tensor]:
        """(distinct source sentences, every reference of each, the sentence of each pair) of 'val' or 'test'."""
        if split not in ("val", "test"):
            raise VaekitError(f"only the held-out splits keep every reference (val, test), not {split!r}")
        return getattr(self, f"{split}_sources"), getattr(self, f"{split}_references"), getattr(self, f"{split}_group")


def language_pair(name: str, reverse: bool = False) -> tuple[str | None, str | None]:
    """(source, target) language codes of a pairs dataset, (None, None) for a user's file."""
    known = {"fra-eng": ("en", "fr")}.get(Path(str(name)).name.lower(), (None, None))
    return known[::-1] if reverse else known


def is_pairs_source(name: str) -> bool:
    """Whether a --data value names sentence pairs: 'fra-eng' or a .tsv file."""
    key = str(name).strip().lower().replace("_", "-")
    return key in PAIR_DATASETS or Path(str(name)).suffix.lower() in PAIR_SUFFIXES


# ---- reading ----------------------------------------------------------------------------------


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(first column, second column) of every non-blank line; one-line errors naming file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise VaekitError(f"cannot read {path}: {err.strerror or err}") from None
    if not raw.strip():
        raise VaekitError(f"{path} is empty: give tab-separated pairs, one 'source<TAB>target' a line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise VaekitError(
            f"{path}, line {line}: bytes that are not UTF-8 (byte {err.start}): save it as UTF-8"
        ) from None
    pairs = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        columns = line.rstrip("\r").split("\t")
        if len(columns) < 2:
            raise VaekitError(f"{path}, line {number}: no tab: each line must be 'source<TAB>target'")
        if len(columns) > 3:
            raise VaekitError(
                f"{path}, line {number}: {len(columns)} tab-separated columns: give 2 (source, target) "
                "or 3 (source, target, attribution)"
            )
        for side, name in ((0, "first"), (1, "second")):
            if not columns[side].strip():
                raise VaekitError(f"{path}, line {number}: the {name} column is empty")
        pairs.append((columns[0].strip(), columns[1].strip()))
    return pairs


# ---- splitting and encoding ---------------------------------------------------------------------


def split_sizes(sentences: int) -> tuple[int, int, int]:
    """(train, val, test) counts of distinct source sentences (module docstring)."""
    held = max(1, sentences // 10)
    test, val = min(TEST_SENTENCES, held), min(VAL_SENTENCES, held)
    if sentences - test - val < 1:
        raise VaekitError(f"only {sentences} distinct source sentence(s): need at least 3 to split three ways")
    return sentences - test - val, val, test


def pair_splits(
    name: str, raw: Sequence[tuple[str, str]], options: PairOptions, seed: int, languages=(None, None)
) -> DataSplits:
    """Tokenize, filter by length, split by source sentence, build the vocabularies, encode."""
    tok, limit = options.tokenizer, options.limit()
    if options.reverse:
        raw, languages = [(b, a) for a, b in raw], languages[::-1]
    tokenized = [(tok.tokens(s), tok.tokens(t)) for s, t in raw]
    kept = [(s, t) for s, t in tokenized if len(s) <= limit and len(t) <= limit]
    skipped = len(tokenized) - len(kept)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, (s, _) in enumerate(kept):
        groups.setdefault(tuple(s), []).append(i)
    n_train, n_val, n_test = split_sizes(len(groups))
    order = np.random.default_rng(seed).permutation(len(groups))
    keys = list(groups)
    chosen = {
        "test": [keys[i] for i in order[:n_test]],
        "val": [keys[i] for i in order[n_test : n_test + n_val]],
        "train": [keys[i] for i in order[n_test + n_val :]],
    }
    parts = {split: [kept[i] for key in ks for i in groups[key]] for split, ks in chosen.items()}
    if options.vocabs is not None:
        source_vocab, target_vocab = options.vocabs
    else:
        source_vocab, target_vocab = (
            Vocabulary.build([p[side] for p in parts["train"]], "word", options.vocab_size, options.min_count)
            for side in (0, 1)
        )
    tensors = {}
    for split, pairs in parts.items():
        target, _ = encode_sentences([t for _, t in pairs], target_vocab, limit, "cut")  # (N, Tt)
        source, _ = encode_sentences([s for s, _ in pairs], source_vocab, limit, "cut")  # (N, Ts)
        tensors[split] = (target, source)
    held = {split: _held_out(kept, groups, chosen[split]) for split in ("test", "val")}
    info = PairInfo(source_vocab, tok, tuple(languages), *held["test"], *held["val"])
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = tensors["train"], tensors["val"], tensors["test"]
    data = DataSplits(name, tr_x, tr_y, va_x, va_y, te_x, te_y, likelihood="categorical", vocab=target_vocab)
    data.pairs = info
    counts = ", ".join(f"{s} {len(chosen[s]):,} sentences ({len(parts[s]):,} pairs)" for s in ("train", "val", "test"))
    data.notes = (
        f"{counts}; {len(source_vocab):,} source / {len(target_vocab):,} target token ids; {tok.describe()}"
        + (f"; {skipped:,} pairs skipped (a side over {limit} tokens)" if skipped else "")
    )
    return data


def _held_out(kept, groups, keys) -> tuple[list[list[str]], list[list[list[str]]], torch.Tensor]:
    """(sources, references, group of each pair) of a held-out split's source sentences `keys`, whose
    pairs are encoded in this order (`pair_splits`)."""
    sizes = torch.tensor([len(groups[k]) for k in keys], dtype=torch.long)
    references = [[kept[i][1] for i in groups[k]] for k in keys]
    return [list(k) for k in keys], references, torch.repeat_interleave(torch.arange(len(keys)), sizes)


# ---- sources ----------------------------------------------------------------------------------


def load_fra_eng(
    data_dir: Path, *, options: PairOptions | None = None, download: bool = True, seed: int = 0
) -> DataSplits:
    """The Tatoeba English-French pairs (module docstring)."""
    path = ensure_file(FRA_ENG, Path(data_dir), download=download)
    return pair_splits("fra-eng", read_pairs(path), options or PairOptions(), seed, languages=language_pair("fra-eng"))


def load_pairs_file(path: Path, *, options: PairOptions | None = None, seed: int = 0) -> DataSplits:
    """Your own tab-separated pairs (module docstring)."""
    return pair_splits(Path(path).stem, read_pairs(path), options or PairOptions(), seed)


def load_synthetic(task: str, data_dir: Path | None = None, *, options=None, download=True, seed: int = 0):
    """A seeded synthetic task (`vaekit.data.synthetic`): strings of 5 to 60 symbols, copied or reversed.
    Nothing is read from `data_dir`; strings up to the longest are kept unless --max-length says less."""
    options = options or PairOptions()
    if options.max_length is None:
        options = dataclasses.replace(options, max_length=synthetic.LENGTHS[1])
    return pair_splits(f"synthetic-{task}", synthetic.synthetic_pairs(task), options, seed)


PAIR_DATASETS = {
    "fra-eng": load_fra_eng,
    **{f"synthetic-{task}": functools.partial(load_synthetic, task) for task in synthetic.TASKS},
}
