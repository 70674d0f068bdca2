"""What `sample`, `reconstruct`, `interpolate`, `latents` and `eval` do for a run trained on text.

Sentences are printed (that is the result) and also written to a text file in the run folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vaekit.commands._common import default_out, open_split, open_vocab
from vaekit.errors import VaekitError
from vaekit.options import count


def add_decode_arguments(p) -> None:
    """--no-repeat, --unk/--no-unk: the decoding rule of a text run's sentences (vaekit.generate.text)."""
    p.add_argument(
        "--no-repeat",
        type=count(2, or_zero=True),
        default=None,
        metavar="N",
        help="text: never repeat a sequence of N words within a sentence, so greedy decodes do not loop "
        "(default: 3 for greedy decodes, 0 (off) for sampling)",
    )
    unk = p.add_mutually_exclusive_group()
    unk.add_argument(
        "--unk", action="store_true", help="text: let greedy decodes choose <unk> (by default they never do)"
    )
    unk.add_argument(
        "--no-unk", action="store_true", help="text: never emit <unk>, sampling too (greedy decodes never do anyway)"
    )


def refuse_decode_flags(args) -> None:
    """An image run given a text decoding flag: one line, not silence."""
    values = {flag: getattr(args, flag[2:].replace("-", "_"), None) for flag in ("--no-repeat", "--unk", "--no-unk")}
    given = [flag for flag, value in values.items() if value is not None and value is not False]  # --no-repeat 0 too
    if given:
        raise VaekitError(f"{', '.join(given)} set how sentences are decoded: they apply to runs trained on text")


def decode_rule(args, greedy: bool = True):
    """The DecodeRule the flags ask for (READABLE or SAMPLING where they say nothing), said on stderr."""
    import dataclasses

    from vaekit.generate.text import READABLE, SAMPLING

    rule = READABLE if greedy else SAMPLING
    if getattr(args, "no_repeat", None) is not None:
        rule = dataclasses.replace(rule, no_repeat=args.no_repeat)
    if getattr(args, "unk", False) or getattr(args, "no_unk", False):
        rule = dataclasses.replace(rule, allow_unk=bool(getattr(args, "unk", False)))
    print(rule.describe(), file=sys.stderr)
    return rule


def say_unknown(vocab, text: str | list[str], flag: str) -> None:
    """Names the words of typed sentences that the run's vocabulary lacks (they are read as <unk>)."""
    from vaekit.generate.text import unknown_words

    texts = [text] if isinstance(text, str) else text
    unknown = list(dict.fromkeys(w for t in texts for w in unknown_words(vocab, t)))
    if unknown:
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        words = ", ".join(repr(w) for w in unknown[:20]) + more
        print(
            f"{flag}: {len(unknown)} word(s) outside the run's vocabulary, read as <unk>: {words} "
            f"(text read as: {vocab.tokenizer.describe()})",
            file=sys.stderr,
        )


def _write_lines(path: Path, lines: list[str]) -> Path:
    from vaekit.io import atomic_write_text

    path = Path(path)
    if path.suffix.lower() == ".png":
        raise VaekitError(f"{path}: a text run writes sentences, give --out a .txt file")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return path


def sample(args, model, cfg) -> int:
    from vaekit.generate.text import sample_sentences

    if args.prior != "standard" or args.label is not None or args.save_array:
        raise VaekitError("--prior, --label and --save-array are for image runs; a text run takes -n and --temperature")
    vocab = open_vocab(args.run_dir)  # first: a run it cannot read is one line, with no decoding note before it
    rule = decode_rule(args, greedy=args.greedy)
    texts = sample_sentences(model, vocab, args.n, args.temperature, greedy=args.greedy, rule=rule)
    for text in texts:
        print(text)
    _write_lines(default_out(args, "samples.txt"), texts)
    return 0


def reconstruct(args, model, cfg) -> int:
    from vaekit.generate.text import decode_texts, reconstruct_sentences

    vocab = open_vocab(args.run_dir)
    x, _ = open_split(cfg, args, args.split)
    x = x[: args.n].to(next(model.parameters()).device)
    rule = decode_rule(args)
    originals, decodes = decode_texts(vocab, x), reconstruct_sentences(model, vocab, x, rule)
    lines = []
    for original, decoded in zip(originals, decodes):
        lines += [f"  in:  {original}", f"  out: {decoded}", ""]
    print("\n".join(lines))  # the rule was said on stderr; the file keeps it
    _write_lines(default_out(args, "reconstructions.txt"), [f"({rule.describe()})", "", *lines])
    return 0


def interpolate(args, model, cfg) -> int:
    from vaekit.generate.text import decode_texts, homotopy, sentences_to_tensor

    vocab = open_vocab(args.run_dir)
    device = next(model.parameters()).device
    if (args.from_text is None) != (args.to_text is None):
        raise VaekitError("give both --from and --to (or neither, for pairs of test sentences)")
    rule = decode_rule(args)
    if args.from_text is not None:
        say_unknown(vocab, args.from_text, "--from")
        say_unknown(vocab, args.to_text, "--to")
        pairs = [tuple(sentences_to_tensor(vocab, [text], device) for text in (args.from_text, args.to_text))]
    else:
        x, _ = open_split(cfg, args, "test")
        x = x[: 2 * args.pairs].to(device)
        pairs = [(x[i : i + 1], x[i + 1 : i + 2]) for i in range(0, x.shape[0] - 1, 2)]
    lines = []
    for a, b in pairs:
        ends = decode_texts(vocab, a) + decode_texts(vocab, b)
        lines += [f"from: {ends[0]}", f"to:   {ends[1]}"]
        path = homotopy(model, vocab, a, b, args.steps, rule)
        lines += [f"  {t:4.2f}  {text}" for t, text in zip(_fractions(args.steps), path)]
        lines.append("")
    print("\n".join(lines))  # the rule was said on stderr; the file keeps it
    _write_lines(default_out(args, "interpolations.txt"), [f"({rule.describe()})", "", *lines])
    return 0


def _fractions(steps: int) -> list[float]:
    return [i / (steps - 1) for i in range(steps)] if steps > 1 else [0.0]


def latents(args, model, cfg) -> int:
    from vaekit.commands._common import run_words, write_picture
    from vaekit.data.text import sentence_lengths
    from vaekit.eval.latent import project_2d
    from vaekit.generate.text import sentence_codes
    from vaekit.plots import latent_scatter_figure

    x, _ = open_split(cfg, args, "test")
    x = x[: args.limit].to(next(model.parameters()).device)
    codes = sentence_codes(model, x)  # (N, D)
    words = (sentence_lengths(x) - 2).cpu()  # words per sentence (no <bos>, <eos>)
    points, axes, how = project_2d(codes, args.projection, seed=args.seed)
    title = f"{run_words(cfg, args)}: E[z|x] of {x.shape[0]} test sentences\n{how}"
    fig = latent_scatter_figure(points, words, axes, title, label_title="words in the sentence", continuous=True)
    out_dir = Path(args.out) if args.out else Path(args.run_dir)
    write_picture(fig, out_dir / "latent-scatter.png")
    return 0


def eval_table(r: dict) -> str:
    head = (
        f"{r['split']} split, {r['n']:,} sentences, {r['tokens']:,} predicted tokens "
        f"({r['words']:,} words + {r['n']:,} <eos>); nats per sentence"
    )
    if "elbo" not in r:
        name = "NLL (-log p(x), exact)" if "nll" in r else "recon (-log p(x|f(x)))"
        value = r.get("nll", r.get("recon"))
        ppl = r.get("perplexity", r.get("recon_perplexity"))
        return "\n".join([head, f"  {name:<26}{value:10.3f}", f"  perplexity per token      {ppl:10.2f}"])
    return "\n".join(
        [
            head,
            f"  ELBO                      {r['elbo']:10.3f}   (recon {r['recon']:.3f} + KL {r['kl']:.3f})",
            f"  NLL (-log p(x), K={r['k']:<5}) {r['nll']:10.3f}",
            f"  perplexity per token      {r['perplexity']:10.2f}   (from -ELBO: {r['elbo_perplexity']:.2f})",
            f"  active units              {r['active_units']:10d}",
        ]
    )
