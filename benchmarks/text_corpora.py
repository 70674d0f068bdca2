"""Small text files for measuring the sentence VAE's defaults (issue 20): several sizes and styles.

    python benchmarks/text_corpora.py OUT_DIR [--data-dir DIR]

writes, one sentence per line:

    ptb-2500.txt      the first 2,500 sentences of PTB's training file (lower-case, <unk>, N)
    ptb-12000.txt     the first 12,000
    tatoeba-5000.txt  5,000 distinct English sentences of the Tatoeba pairs (fra-eng), seeded:
                      short everyday sentences, capitals and punctuation as typed ("I can't win.")
    grammar-4000.txt  4,000 sentences of a small probabilistic grammar (below), seeded: capitals,
                      commas and full stops, a closed vocabulary of about 200 words

The grammar is there because it is the kind of text a person makes to try a tool: its sentences
differ in their content words, so a code z that carries the sentence shows in the reconstructions.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

NAMES = "Anna Ben Clara David Emma Felix Grace Henry Iris Jack Laura Max Nora Oscar Paul Rosa".split()
ANIMALS = "cat dog horse bird fox rabbit mouse owl goat sheep duck frog".split()
THINGS = "apple book letter ball cup key box hat coat chair lamp song story picture bottle ring".split()
PLACES = "garden kitchen market forest river station library school village harbour field bridge".split()
ADJECTIVES = "red old small big quiet happy tired green bright cold warm strange yellow heavy".split()
ADVERBS = "slowly quickly quietly often never always carefully suddenly".split()
VERBS_T = [
    ("eats", "ate"),
    ("finds", "found"),
    ("carries", "carried"),
    ("sees", "saw"),
    ("likes", "liked"),
    ("buys", "bought"),
    ("reads", "read"),
    ("opens", "opened"),
    ("paints", "painted"),
    ("hides", "hid"),
]
VERBS_I = [
    ("sleeps", "slept"),
    ("sings", "sang"),
    ("runs", "ran"),
    ("waits", "waited"),
    ("laughs", "laughed"),
    ("walks", "walked"),
    ("dances", "danced"),
    ("works", "worked"),
]
TIMES = "in the morning|at night|on Sunday|after dinner|before the rain|every day|last winter".split("|")
PREPS = "in near behind beside under".split()


def _np(r: random.Random, kind: str | None = None) -> str:
    kind = kind or r.choice(["name", "animal", "thing"])
    if kind == "name":
        return r.choice(NAMES)
    noun = r.choice(ANIMALS if kind == "animal" else THINGS)
    det = r.choice(["the", "a", "my", "her", "his", "that"])
    return f"{det} {r.choice(ADJECTIVES)} {noun}" if r.random() < 0.5 else f"{det} {noun}"


def _clause(r: random.Random) -> str:
    subject, past = _np(r, r.choice(["name", "animal"])), r.random() < 0.5
    if r.random() < 0.6:
        verb = r.choice(VERBS_T)[past]
        words = [subject, verb, _np(r, "thing")]
    else:
        words = [subject, r.choice(VERBS_I)[past]]
        if r.random() < 0.5:
            words.append(r.choice(ADVERBS))
    if r.random() < 0.4:
        words.append(f"{r.choice(PREPS)} the {r.choice(PLACES)}")
    if r.random() < 0.3:
        words.append(r.choice(TIMES))
    return " ".join(words)


def grammar_sentence(r: random.Random) -> str:
    """One sentence: a clause, two joined, a question or a quote; capitalised, punctuated."""
    roll = r.random()
    if roll < 0.5:
        text = _clause(r) + "."
    elif roll < 0.7:
        text = f"{_clause(r)}, {r.choice(['and', 'but', 'because', 'while'])} {_clause(r)}."
    elif roll < 0.85:
        text = f"Did {_np(r, 'name')} {r.choice(['see', 'find', 'buy', 'read', 'open', 'paint'])} {_np(r, 'thing')}?"
    else:
        text = f'"{_clause(r).capitalize()}," said {r.choice(NAMES)}.'
    return text[0].upper() + text[1:]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VAEKIT_DATA_DIR", "../shared/data")))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ptb = (args.data_dir / "ptb" / "ptb.train.txt").read_text().splitlines()
    for n in (2500, 12000):
        (args.out / f"ptb-{n}.txt").write_text("\n".join(line.strip() for line in ptb[:n]) + "\n")
    pairs = (args.data_dir / "fra-eng" / "fra.txt").read_text(encoding="utf-8").splitlines()
    english = sorted({line.split("\t")[0].strip() for line in pairs if line.strip()})
    (args.out / "tatoeba-5000.txt").write_text("\n".join(random.Random(0).sample(english, 5000)) + "\n")
    r = random.Random(0)
    (args.out / "grammar-4000.txt").write_text("\n".join(grammar_sentence(r) for _ in range(4000)) + "\n")
    for f in sorted(args.out.glob("*.txt")):
        print(f, sum(1 for _ in f.open()))


if __name__ == "__main__":
    main()
