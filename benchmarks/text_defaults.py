"""Which settings keep a sentence VAE's code in use: train each corpus x setting, measure, tabulate.

    python benchmarks/text_defaults.py --corpus A.txt B.txt --setting none bowman ... --epochs 8 --out DIR

Each run is `vaekit --threads 1 train vae --data CORPUS --epochs N FLAGS` in a child process whose
CPU seconds (user + system, from wait4) and wall-clock are recorded with the load average. Then, on
the validation split:

    KL, active units    nats per sentence; latents whose E[z|x] varies (Cov > 0.01)
    NLL, ppl            importance-sampled (K = 5) nats per sentence and perplexity per token
    overlap             share of an input's words (not <unk>) found in its greedy reconstruction,
                        minus the same share against another sentence's reconstruction (chance):
                        above 0 the code carries words of its sentence
    distinct            distinct reconstructions / sentences (collapse: one sentence for all)
    homotopy            distinct greedy decodes along 5 steps between two sentences (1 = frozen)

Results are appended to OUT/results.jsonl (one line per run) and the table printed in markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "none": [],  # the defaults before issue 20
    "bowman": ["--kl-warmup", "2", "--word-dropout", "0.3"],
    "docs": ["--kl-warmup", "2", "--free-bits", "0.2", "--word-dropout", "0.3"],
    "fb0.5-wd0.5": ["--kl-warmup", "2", "--free-bits", "0.5", "--word-dropout", "0.5"],
    "cyclic": ["--kl-cycle", "4", "--kl-warmup", "2", "--free-bits", "0.5", "--word-dropout", "0.5"],
    "pretrain": ["--set", "pretrain_epochs=2", "--kl-warmup", "2", "--free-bits", "0.5", "--word-dropout", "0.3"],
    "pretrain-wd0": ["--set", "pretrain_epochs=2", "--kl-warmup", "2", "--free-bits", "0.5"],
    "small-dec": ["--kl-warmup", "2", "--free-bits", "0.5", "--word-dropout", "0.5", "--hidden", "128"],
    "dropout": ["--kl-warmup", "2", "--free-bits", "0.5", "--word-dropout", "0.5", "--dropout", "0.3"],
}


def train(corpus: Path, setting: str, epochs: int, out: Path, extra: list[str]) -> dict:
    run = out / corpus.stem / setting
    cmd = [sys.executable, "-m", "vaekit", "--threads", "1", "train", "vae", "--data", str(corpus)]
    cmd += ["--epochs", str(epochs), "--out", str(run), "--overwrite", "--quiet", *SETTINGS[setting], *extra]
    load = os.getloadavg()[0]
    began = time.perf_counter()
    child = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"{' '.join(cmd)} failed ({status})")
    wall = time.perf_counter() - began
    return {"run": str(run), "cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": wall, "load": load}


def words(text: str) -> set[str]:
    return {w for w in text.split() if w != "<unk>"}


def measure(run: Path, n: int = 100, pairs: int = 5) -> dict:
    import torch

    from vaekit.commands._common import open_vocab
    from vaekit.data import load_dataset
    from vaekit.data.text import TextOptions
    from vaekit.eval.text import evaluate_sentences
    from vaekit.generate.text import decode_texts, homotopy, reconstruct_sentences
    from vaekit.models.run import load_run

    torch.set_num_threads(1)
    model, cfg = load_run(run)
    vocab = open_vocab(run)
    data = load_dataset(cfg.data.name, cfg.data.data_dir, text=TextOptions.of_run(cfg.data, run))
    x = data.val_x
    r = evaluate_sentences(model, x, k=5)
    xs = x[:n]
    inputs, outputs = decode_texts(vocab, xs), reconstruct_sentences(model, vocab, xs)

    def share(a: str, b: str) -> float:
        w = words(a)
        return len(w & words(b)) / len(w) if w else 0.0

    own = sum(share(a, b) for a, b in zip(inputs, outputs)) / len(inputs)
    other = sum(share(a, b) for a, b in zip(inputs, outputs[1:] + outputs[:1])) / len(inputs)
    moves = [len(set(homotopy(model, vocab, x[2 * i : 2 * i + 1], x[2 * i + 1 : 2 * i + 2], 5))) for i in range(pairs)]
    return {
        "kl": r["kl"],
        "au": r["active_units"],
        "nll": r["nll"],
        "ppl": r["perplexity"],
        "overlap": own - other,
        "own": own,
        "distinct": len(set(outputs)) / len(outputs),
        "homotopy": sum(moves) / len(moves),
        "examples": list(zip(inputs[:3], outputs[:3])),
    }


def table(rows: list[dict]) -> str:
    head = "| corpus | setting | epochs | KL | AU | NLL | ppl | overlap (own) | distinct | homotopy | CPU s | wall s"
    head += " | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['setting']} | {r['epochs']} | {r['kl']:.2f} | {r['au']} | {r['nll']:.2f} | "
            f"{r['ppl']:.1f} | {r['overlap']:+.2f} ({r['own']:.2f}) | {r['distinct']:.2f} | {r['homotopy']:.1f} | "
            f"{r['cpu_s']:.0f} | {r['wall_s']:.0f} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, nargs="+", required=True)
    p.add_argument("--setting", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="flags added to every run")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for corpus in args.corpus:
        for setting in args.setting:
            row = {"corpus": corpus.stem, "setting": setting, "epochs": args.epochs, "extra": args.extra}
            row |= train(corpus, setting, args.epochs, args.out, args.extra)
            row |= measure(Path(row["run"]))
            with (args.out / "results.jsonl").open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(table([row]).splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
