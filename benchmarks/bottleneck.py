"""The bottleneck study's figures (docs/translation.md): how translation quality falls with the
source's length, one line per `vaekit train seq2seq` run, from what `vaekit eval RUN --beam B` wrote.

    exact  the share of test sentences translated exactly (a reference matched token for token),
           by source length in bins of --bin tokens, from RUN/translations-test-best-beamB.tsv
           (the synthetic copy/reverse tasks: one reference, exact match is the measure)
    bleu   corpus BLEU by source length, the buckets of `vaekit eval`, from RUN/eval-test-best-beamB.json
           (RUN/eval-test-best-beamB-alphaA.json with --alpha A other than 1)

    python benchmarks/bottleneck.py exact OUT.png RUN_DIR [RUN_DIR ...] [--beam 1] [--bin 5] [--title TEXT]
    python benchmarks/bottleneck.py bleu OUT.png RUN_DIR [RUN_DIR ...] [--beam 5] [--title TEXT]

It prints the numbers it draws, so they can be quoted beside the picture.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def label(run: Path) -> str:
    """'attention=dot, GRU 128 bidirectional' from a run's config.json."""
    model = json.loads((run / "config.json").read_text())["model"]
    both = " bidirectional" if model.get("bidirectional") else ""
    epochs = json.loads((run / "metrics.json").read_text())["epochs"]
    steps = epochs[-1].get("steps")  # the clock stopped this epoch after `steps` batches
    trained = f"{len(epochs) - 1} ep. + {steps} steps" if steps else f"{len(epochs)} ep."
    network = f"{model['arch'].upper()} {model['hidden'][0]}{both}"
    return f"attention={model['options'].get('attention')}, {network}, {trained}"


def exact_by_length(run: Path, beam: int, width: int) -> tuple[list[str], list[float], list[int]]:
    """(bin labels, exact-match share, sentences) by source length in bins of `width` tokens."""
    csv.field_size_limit(sys.maxsize)
    with open(run / f"translations-test-best-beam{beam}.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    bins: dict[int, list[tuple[int, bool]]] = {}
    for r in rows:
        n = len(r["source"].split())
        bins.setdefault(n // width, []).append((n, r["exact"] == "True"))
    groups = [bins[k] for k in sorted(bins)]
    names = [f"{min(g)[0]}-{max(g)[0]}" if min(g)[0] < max(g)[0] else str(g[0][0]) for g in groups]
    return names, [sum(e for _, e in g) / len(g) for g in groups], [len(g) for g in groups]


def bleu_by_length(run: Path, beam: int, alpha: float) -> tuple[list[str], list[float], list[int]]:
    name = f"eval-test-best-beam{beam}" + ("" if alpha == 1.0 else f"-alpha{alpha:g}")  # as `vaekit eval` names it
    rows = json.loads((run / f"{name}.json").read_text())["bleu_by_length"]
    return [r["source_tokens"] for r in rows], [r["bleu"] for r in rows], [r["sentences"] for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("measure", choices=("exact", "bleu"))
    p.add_argument("out", type=Path)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--beam", type=int, default=None, help="the eval's beam (default: 1 for exact, 5 for bleu)")
    p.add_argument("--alpha", type=float, default=1.0, help="bleu: the eval's length normalisation (default 1)")
    p.add_argument("--bin", type=int, default=5, help="exact: source tokens per bin")
    p.add_argument("--min-sentences", type=int, default=20, help="draw only bins with this many sentences")
    p.add_argument("--title", default=None)
    args = p.parse_args()
    beam = args.beam or (1 if args.measure == "exact" else 5)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for run in args.runs:
        if args.measure == "exact":
            names, values, counts = exact_by_length(run, beam, args.bin)
            values = [100 * v for v in values]
        else:
            names, values, counts = bleu_by_length(run, beam, args.alpha)
        print(f"{run}: {label(run)}")
        print("  " + ", ".join(f"{n}: {v:.1f} ({c})" for n, v, c in zip(names, values, counts)))
        kept = [(n, v) for n, v, c in zip(names, values, counts) if c >= args.min_sentences]
        ax.plot([n for n, _ in kept], [v for _, v in kept], marker="o", label=label(run))
    measure = "exact matches (% of test strings)" if args.measure == "exact" else "BLEU"
    ax.set_xlabel(f"source length (tokens; bins of at least {args.min_sentences} test sentences)")
    ax.set_ylabel(measure)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)  # below the lines
    ax.set_title(args.title or f"{measure} by source length, beam {beam}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
