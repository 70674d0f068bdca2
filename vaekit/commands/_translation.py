"""What the commands share for translation runs (`vaekit train seq2seq`): opening the run's
tokenizer and vocabularies, `vaekit eval` on one, and its table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vaekit.errors import VaekitError

TRANSLATIONS = "translations-{split}-{decoding}.tsv"  # source, translation, references (" | "), exact


def open_translator(model, cfg, run_dir: Path):
    """The `Translator` of a run: its model with the tokenizer and both vocabularies it was trained with."""
    from vaekit.generate.translate import Translator

    return Translator.of_run(model, cfg, run_dir)


def evaluate_run(model, cfg, device, args, checkpoint: dict) -> dict:
    """`vaekit eval` on a translation run: measures, JSON record and translations file in RUN_DIR."""
    from tqdm.auto import tqdm

    from vaekit.commands._common import open_data
    from vaekit.eval.translation import evaluate_translation

    data = open_data(cfg, args)
    if args.split not in ("val", "test"):
        raise VaekitError(
            "a translation run is evaluated on held-out sentences, whose references are all kept: --split val or test"
        )
    info, translator = data.pairs, open_translator(model, cfg, args.run_dir)
    targets, sources = (t.to(device) for t in data.split(args.split))
    sentences, references, group = info.held_out(args.split)
    if args.limit is not None:
        sentences, references = sentences[: args.limit], references[: args.limit]
        keep = group < args.limit
        targets, sources = targets[keep.to(device)], sources[keep.to(device)]
    with tqdm(
        total=targets.shape[0] + len(sentences), unit="sentence", desc=f"beam {args.beam}", disable=args.json
    ) as bar:
        result, done = evaluate_translation(
            translator,
            targets,
            sources,
            sentences,
            references,
            beam=args.beam,
            alpha=args.alpha,
            batch_size=min(args.batch_size, 100),
            progress=bar,
        )
    result = {"split": args.split, **result, "checkpoint": checkpoint}
    stem = f"eval-{args.split}-{_decoding(args)}" + (f"-first{args.limit}" if args.limit else "")
    _save(args.run_dir / f"{stem}.json", json.dumps(result, indent=2) + "\n")
    rows = ["source\ttranslation\treferences\texact"]
    for t, refs in zip(done, references):
        joined = [" ".join(r) for r in refs]
        rows.append(
            "\t".join([" ".join(t.source_tokens), " ".join(t.tokens), " | ".join(joined), str(t.tokens in refs)])
        )
    _save(args.run_dir / TRANSLATIONS.format(split=args.split, decoding=_decoding(args)), "\n".join(rows) + "\n")
    return result


def _decoding(args) -> str:
    """best-beam5 (alpha 1, as these names always meant), best-beam10-alpha0.5: two decodings' files never collide."""
    return f"{args.which}-beam{args.beam}" + ("" if args.alpha == 1.0 else f"-alpha{args.alpha:g}")


def _save(path: Path, text: str) -> None:
    import warnings

    from vaekit.errors import VaekitWarning
    from vaekit.io import atomic_write_text

    try:
        atomic_write_text(path, text)
        print(f"wrote {path}", file=sys.stderr)
    except OSError as err:  # someone else's run on a read-only disk: the numbers are still printed
        warnings.warn(f"could not save {err.filename} ({err.strerror})", VaekitWarning, stacklevel=2)


def eval_table(r: dict) -> str:
    """The measures as a few readable lines."""
    lines = [
        f"{r['split']} split: {r['sentences']} source sentences ({r['pairs']} pairs, "
        f"{r['references_per_sentence']:.2f} references each), {r['checkpoint']['which']} checkpoint, "
        f"beam {r['decoding']['beam']}, alpha {r['decoding']['alpha']:g}",
        f"  BLEU            {r['bleu']:8.2f}   ({r['bleu_signature']})",
        f"  chrF            {r['chrf']:8.2f}   ({r['chrf_signature']})",
        f"  NLL             {r['nll']:8.3f}   nats per sentence, exact -log p(y|x), mean over pairs",
        f"  perplexity      {r['perplexity']:8.3f}   per token ({r['tokens_per_sentence']:.2f} a sentence: "
        f"{r['perplexity_counts']})",
        f"  exact match     {r['exact_match']:8.2%}   translations equal to one of their references",
        f"  unknown source  {r['unknown_source_tokens']:8.2%}   of source tokens read as <unk>",
        "  BLEU by source length (tokens): "
        + ", ".join(f"{b['source_tokens']}: {b['bleu']:.1f} ({b['sentences']})" for b in r["bleu_by_length"]),
    ]
    return "\n".join(lines)
