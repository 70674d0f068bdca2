"""VQ-VAE on MNIST / Fashion-MNIST, and MIG of VAE vs beta-VAE on sprites, through the CLI.

    PYTHONPATH=. VAEKIT_DATA_DIR=shared/data OMP_NUM_THREADS=1 python benchmarks/bench_vqvae.py --part vqvae
    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_vqvae.py --part sprites

For each VQ-VAE dataset: `vaekit train vqvae` (conv, D=16, K=128, EMA codebook), `vaekit
train-prior`, `vaekit eval` (test split) and `vaekit sample` / `reconstruct` pictures copied to
benchmarks/figures/. For sprites: `vaekit train vae --arch conv` with a few beta values, then
MIG (vaekit.eval.disentangle) of the posterior means on the test split's factors. Prints one JSON
object per experiment and appends them to RUNS/results.jsonl. Runs go to --runs (not the repo).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from vaekit.cli import main

FIGURES = Path(__file__).resolve().parent / "figures"


def _cli(*argv) -> float:
    began = time.perf_counter()
    code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed with status {code}")
    return time.perf_counter() - began


def bench_vqvae(data: str, args) -> dict:
    run = args.runs / f"vqvae-{data}"
    train_s = None
    if not (args.reuse and (run / "model.safetensors").is_file()):
        train_s = _cli(
            "train",
            "vqvae",
            "--data",
            data,
            "--arch",
            "conv",
            "--epochs",
            args.epochs,
            "--latent-dim",
            16,
            "--set",
            "codebook_size=128",
            "--seed",
            0,
            "--out",
            run,
            "--overwrite",
            "--quiet",
        )
    prior_s = _cli(
        "train-prior",
        run,
        "--epochs",
        args.prior_epochs,
        "--dim",
        args.prior_dim,
        "--layers",
        args.prior_layers,
        "--limit",
        args.prior_limit,
        "--quiet",
    )
    _cli("eval", run, "--json")
    result = json.loads((run / "eval-test-best.json").read_text())  # a VQ-VAE has its own measures: no K in the name
    FIGURES.mkdir(parents=True, exist_ok=True)
    _cli("sample", run, "-n", 64, "--out", FIGURES / f"vqvae-{data}-samples.png")
    _cli("reconstruct", run, "-n", 16, "--out", FIGURES / f"vqvae-{data}-reconstructions.png")
    prior = json.loads((run / "prior.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())["epochs"][-1]
    return {
        "experiment": f"vqvae-{data}",
        "epochs": args.epochs,
        "prior_epochs": args.prior_epochs,
        "train_seconds": train_s and round(train_s, 1),
        "prior_seconds": round(prior_s, 1),
        "prior": f"dim {args.prior_dim}, {args.prior_layers} layers, first {args.prior_limit} images",
        "val_perplexity_last_epoch": metrics["val_perplexity"],
        "prior_val_nll": prior["val_nll"],
        "prior_val_bits_per_code": prior["val_bits_per_code"],
        "test": result,
    }


def bench_sprites(beta: float, args) -> dict:
    from vaekit.data import load_dataset
    from vaekit.eval.disentangle import mig, posterior_means
    from vaekit.train import load_run

    run = args.runs / f"vae-sprites-beta{beta:g}"
    train_s = _cli(
        "train",
        "vae",
        "--data",
        "sprites",
        "--arch",
        "conv",
        "--channels",
        "32,32,64,64",
        "--hidden",
        128,
        "--latent-dim",
        10,
        "--beta",
        beta,
        "--epochs",
        args.sprites_epochs,
        "--seed",
        0,
        "--out",
        run,
        "--overwrite",
        "--quiet",
    )
    model, _ = load_run(run)
    data = load_dataset("sprites")
    codes = posterior_means(model, data.test_x)
    score = mig(codes, data.factors["test"])
    last = json.loads((run / "metrics.json").read_text())["epochs"][-1]
    if beta == args.betas[0]:
        FIGURES.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "reconstructions.png", FIGURES / "sprites-vae-reconstructions.png")
    return {
        "experiment": f"sprites-beta{beta:g}",
        "epochs": args.sprites_epochs,
        "train_seconds": round(train_s, 1),
        "val_recon": last["val_recon"],
        "val_kl": last["val_kl"],
        "mig": score["mig"],
        "mig_per_factor": dict(zip(data.factor_names, score["per_factor"])),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("vqvae", "sprites", "all"), default="all")
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--epochs", type=int, default=3, help="VQ-VAE training epochs")
    p.add_argument("--prior-epochs", type=int, default=2, help="code prior epochs")
    p.add_argument(
        "--prior-dim", type=int, default=64, help="code prior width (CPU-sized; the command's default is 128)"
    )
    p.add_argument("--prior-layers", type=int, default=2)
    p.add_argument("--prior-limit", type=int, default=20000, help="fit the prior on the first N training images")
    p.add_argument("--reuse", action="store_true", help="keep VQ-VAE runs already in --runs (refit only the prior)")
    p.add_argument("--sprites-epochs", type=int, default=5)
    p.add_argument("--betas", type=lambda s: [float(b) for b in s.split(",")], default=[1.0, 4.0])
    p.add_argument("--runs", type=Path, default=Path("/tmp/vaekit-bench-vqvae"))
    return p.parse_args(argv)


def main_bench(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.runs.mkdir(parents=True, exist_ok=True)
    jobs = []
    if args.part in ("vqvae", "all"):
        jobs += [(bench_vqvae, d) for d in args.datasets.split(",")]
    if args.part in ("sprites", "all"):
        jobs += [(bench_sprites, b) for b in args.betas]
    for fn, arg in jobs:
        result = fn(arg, args)
        line = json.dumps(result)
        print(line, flush=True)
        with open(args.runs / "results.jsonl", "a") as f:
            f.write(line + "\n")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_bench())
