"""Translate sentences with a trained encoder-decoder (`vaekit train seq2seq`).

The sentence is tokenized as the run's training pairs were (its config.json: lower-casing,
punctuation split), its words looked up in the run's source vocabulary, and the translation is
decoded greedily (--beam 1) or by beam search, then joined for reading. Words the model never saw
become <unk> and are named on stderr, never dropped in silence.

examples:
  vaekit translate runs/seq2seq-fra-eng "They are watching."
  vaekit translate RUN --file in.txt --out out.txt --beam 5
  vaekit translate RUN "I'm hungry." --tokens      # the tokens BLEU is computed on
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import add_run_arguments, count, non_negative
from vaekit.config import DEFAULT_ALPHA, DEFAULT_BEAM
from vaekit.errors import VaekitError

HELP = "translate a sentence (or a file, line by line) with a trained seq2seq run"
BATCH = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("sentence", nargs="?", default=None, help="the sentence to translate (or --file)")
    p.add_argument("--file", type=Path, default=None, help="translate every line of this UTF-8 file")
    p.add_argument("--out", type=Path, default=None, help="write the translations here (default: stdout)")
    p.add_argument("--beam", type=count(1, 100), default=DEFAULT_BEAM, help="beam width; 1 is greedy decoding")
    p.add_argument(
        "--alpha",
        type=non_negative,
        default=DEFAULT_ALPHA,
        help="length normalisation: a hypothesis scores log p(y|x) / length^alpha (0: none)",
    )
    p.add_argument(
        "--max-length",
        type=count(1),
        default=None,
        help="at most this many target tokens (default: 2 x the source's tokens + 10)",
    )
    p.add_argument("--tokens", action="store_true", help="print the tokens, space-separated, instead of joined text")


def _lines(args) -> list[str]:
    if (args.sentence is None) == (args.file is None):
        raise VaekitError("give one sentence to translate, or --file FILE (not both)")
    if args.sentence is not None:
        return [args.sentence]
    try:
        raw = args.file.read_bytes()
    except OSError as err:
        raise VaekitError(f"cannot read {args.file}: {err.strerror or err}") from None
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise VaekitError(f"{args.file}, line {line}: bytes that are not UTF-8: save it as UTF-8") from None


def run(args) -> int:
    from vaekit.commands._common import open_run
    from vaekit.commands._translation import open_translator

    lines = _lines(args)
    if args.out is not None and args.out.is_dir():
        raise VaekitError(f"--out {args.out} is a folder: give a file name inside it")
    model, cfg, device = open_run(args)
    translator = open_translator(model, cfg, args.run_dir)
    results = translator.translate(lines, beam=args.beam, alpha=args.alpha, max_length=args.max_length, device=device)
    for number, result in enumerate(results, 1):
        if result.unknown:
            where = f"line {number}: " if args.file is not None else ""
            words = ", ".join(repr(w) for w in result.unknown)
            print(f"vaekit: {where}not in the source vocabulary, read as <unk>: {words}", file=sys.stderr)
    text = "\n".join(" ".join(r.tokens) if args.tokens else r.text for r in results) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        from vaekit.io import atomic_write_text

        atomic_write_text(args.out, text)
        print(f"wrote {len(results)} translation(s) to {args.out}", file=sys.stderr)
    return 0
