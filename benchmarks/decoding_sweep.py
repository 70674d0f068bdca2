"""Choose the beam width and length normalisation of a translation run on its VALIDATION sentences
(BENCHMARKS.md, "Translation: fra-eng"): corpus BLEU and chrF (every reference of each sentence, as
`vaekit eval`), the exact-match share and the length of the translations against the references',
for every beam x alpha asked, in one process (the model and the data are read once; beam 1 is
greedy, alone whatever alpha says). The test number of the chosen setting is then `vaekit eval RUN
--beam B --alpha A` (the test split), not this script.

    python benchmarks/decoding_sweep.py RUN_DIR [RUN_DIR ...] [--beams 1 5 10] [--alphas 0 0.5 1]
        [--split val] [--out sweep.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vaekit.data import load_dataset
from vaekit.data.pairs import PairOptions
from vaekit.eval.translation import corpus_scores
from vaekit.generate.translate import Translator
from vaekit.models.run import load_run


def settings(beams: list[int], alphas: list[float]) -> list[tuple[int, float]]:
    """Every (beam, alpha), beam 1 (greedy) once."""
    return [(b, a) for b in beams for a in (alphas if b > 1 else alphas[:1])]


def sweep(run: Path, beams, alphas, split: str) -> list[dict]:
    model, cfg = load_run(run, "best", torch.device("cpu"))
    translator = Translator.of_run(model, cfg, run)
    data = load_dataset(cfg.data.name, cfg.data.data_dir, pairs=PairOptions.of_run(cfg.data, run))
    sources, references, _ = data.pairs.held_out(split)
    ref_words = sum(min((len(r) for r in refs), key=lambda n: n) for refs in references)
    rows = []
    for beam, alpha in settings(beams, alphas):
        start = time.process_time()
        done = translator.translate_tokens(sources, beam=beam, alpha=alpha, batch=100)
        hyps = [t.tokens for t in done]
        scores = corpus_scores(hyps, references)
        row = {
            "run": str(run),
            "split": split,
            "sentences": len(sources),
            "beam": beam,
            "alpha": alpha,
            "bleu": scores["bleu"],
            "chrf": scores["chrf"],
            "exact_match": sum(h in refs for h, refs in zip(hyps, references)) / len(hyps),
            "length_ratio": sum(map(len, hyps)) / ref_words,  # against each sentence's shortest reference
            "cpu_s": time.process_time() - start,
        }
        print(
            f"{run.name:28s} {split} beam {beam:2d} alpha {alpha:3g}: BLEU {row['bleu']:6.2f}  "
            f"chrF {row['chrf']:6.2f}  "
            f"exact {row['exact_match']:6.2%}  length {row['length_ratio']:.3f}  ({row['cpu_s']:.0f} CPU s)",
            flush=True,
        )
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--beams", nargs="+", type=int, default=[1, 5, 10])
    p.add_argument("--alphas", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    p.add_argument("--split", choices=("val", "test"), default="val")
    p.add_argument("--out", type=Path, default=None, help="write every row as JSON here")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = [row for run in args.runs for row in sweep(run, args.beams, args.alphas, args.split)]
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
