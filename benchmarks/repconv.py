"""Structural re-parameterization on the conv VAE: inference speed fused vs unfused, and the ablation.

    PYTHONPATH=. VAEKIT_DATA_DIR=shared/data python benchmarks/repconv.py speed --threads 1 2
    PYTHONPATH=. VAEKIT_DATA_DIR=shared/data python benchmarks/repconv.py ablation --runs /tmp/repconv-ablation
    PYTHONPATH=. python benchmarks/repconv.py table --runs /tmp/repconv-ablation

speed: milliseconds per image of the mean reconstruction model(x) (encoder + decoder) and of a
prior sample (decoder), for each block kind in eval mode and fused, batches of 100 and of 1.

ablation: the conv VAE on Fashion-MNIST with RepVGG blocks, ACNet blocks, plain 3x3 conv + BN
blocks of the same inference-time shape, and plain blocks given the branched runs' wall-clock
(more epochs), for several seeds. Every run is one subprocess with ONE torch thread (at most
--jobs at a time): train on the first --train-size training images, fuse (`vaekit export
--fuse`), then evaluate the fused model on the first --test-size test images: ELBO and the
importance-sampled NLL with K samples (the fused and the unfused model give the same numbers,
checked on a slice each run). Each run writes RUNS/NAME/result.json; `table` prints the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

KINDS = ("repvgg", "acnet", "plain")


# ---- speed ------------------------------------------------------------------------------------


def _model(block: str, channels, seed: int = 0):
    from vaekit.config import ModelConfig
    from vaekit.models import build_model

    torch.manual_seed(seed)
    cfg = ModelConfig(arch="conv", channels=channels, hidden=(256,), block=block, likelihood="bernoulli")
    model = build_model(cfg, (1, 28, 28), 0)
    with torch.no_grad():  # running statistics that are not the init's
        model.train()
        model(torch.rand(100, 1, 28, 28))
    return model.eval()


def _ms_per_image(fn, batch: int, min_seconds: float = 1.0, repeats: int = 5) -> tuple[float, float]:
    """(wall, CPU) milliseconds per image of fn(): medians over `repeats`, each running >= min_seconds.

    On a shared machine the wall time counts the waits for a core; the process's CPU time does
    not, and with one thread it is what the wall time would be on an idle core.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        n, began, began_cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - began < min_seconds:
            fn()
            n += 1
        wall.append((time.perf_counter() - began) / n / batch * 1e3)
        cpu.append((time.process_time() - began_cpu) / n / batch * 1e3)
    return statistics.median(wall), statistics.median(cpu)


@torch.no_grad()
def speed(args) -> None:
    from vaekit.nn.repconv import fuse_blocks

    channels = tuple(args.channels)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batches:
            x, z = torch.rand(batch, 1, 28, 28), torch.randn(batch, 32)
            for block in KINDS:
                model = _model(block, channels)
                fused = fuse_blocks(model)
                row = {"threads": threads, "batch": batch, "block": block, "channels": list(channels)}
                for name, m in (("unfused", model), ("fused", fused)):
                    jobs = (("reconstruct", lambda m=m, x=x: m(x)), ("decode", lambda m=m, z=z: m.decoder(z)))
                    for what, fn in jobs:
                        wall, cpu = _ms_per_image(fn, batch, args.min_seconds)
                        row[f"{name}_{what}_wall_ms"], row[f"{name}_{what}_cpu_ms"] = round(wall, 4), round(cpu, 4)
                print(json.dumps(row), flush=True)


# ---- ablation ---------------------------------------------------------------------------------


def one(args) -> None:
    """One run in this process: train, fuse, evaluate; writes RUN/result.json."""
    torch.set_num_threads(1)
    from vaekit.commands.export import export_fused
    from vaekit.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.eval.likelihood import evaluate
    from vaekit.train import Trainer, load_run

    cpu0, wall0 = time.process_time(), time.perf_counter()
    data = load_dataset("fashion-mnist")
    data.train_x, data.train_y = data.train_x[: args.train_size], data.train_y[: args.train_size]
    cfg = RunConfig(
        data=DataConfig(name="fashion-mnist"),
        model=ModelConfig(arch="conv", channels=tuple(args.channels), hidden=(256,), block=args.block),
        train=TrainConfig(epochs=args.epochs, seed=args.seed, device="cpu", eval_every=args.epochs, log_every=10_000),
    )
    Trainer(cfg, data, args.out, show_progress=False).fit()
    train_seconds = sum(r["seconds"] for r in json.loads((args.out / "metrics.json").read_text())["epochs"])
    train_cpu = time.process_time() - cpu0
    fused_dir = args.out.with_name(args.out.name + "-fused")
    export_fused(args.out, fused_dir, overwrite=True)
    x = data.test_x[: args.test_size]
    fused, _ = load_run(fused_dir)
    result = evaluate(fused, x, k=args.k, batch_size=500, seed=0)
    unfused, _ = load_run(args.out)
    check = {
        name: evaluate(m, x[:100], k=args.k, seed=0)["nll"] for name, m in (("unfused", unfused), ("fused", fused))
    }
    out = {
        "block": args.block,
        "seed": args.seed,
        "epochs": args.epochs,
        "train_size": args.train_size,
        "channels": list(args.channels),
        "test_size": int(x.shape[0]),
        "k": args.k,
        "elbo": result["elbo"],
        "nll": result["nll"],
        "kl": result["kl"],
        "active_units": result["active_units"],
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu,
        "total_cpu_seconds": time.process_time() - cpu0,
        "total_wall_seconds": time.perf_counter() - wall0,
        "nll_check_100_images": check,
        "label": args.label,
    }
    (args.out / "result.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out), flush=True)


def _launch(args, block: str, seed: int, epochs: int, label: str) -> subprocess.Popen:
    out = args.runs / f"{label}-seed{seed}"
    cmd = [
        sys.executable,
        __file__,
        "one",
        "--block",
        block,
        "--seed",
        str(seed),
        "--epochs",
        str(epochs),
        "--train-size",
        str(args.train_size),
        "--test-size",
        str(args.test_size),
        "-k",
        str(args.k),
        "--channels",
        *map(str, args.channels),
        "--label",
        label,
        "--out",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = open(args.runs / f"{label}-seed{seed}.log", "w")
    print(f"start {label} seed {seed} ({epochs} epochs)", flush=True)
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _result(args, label: str, seed: int) -> dict | None:
    path = args.runs / f"{label}-seed{seed}" / "result.json"
    return json.loads(path.read_text()) if path.is_file() else None


def ablation(args) -> None:
    """Seed by seed: repvgg, acnet and plain, then plain for the branched runs' mean training time."""
    args.runs.mkdir(parents=True, exist_ok=True)
    pending = [(b, seed, args.epochs, b) for seed in args.seeds for b in KINDS if _result(args, b, seed) is None]
    timed = {seed for seed in args.seeds if _result(args, "plain-same-time", seed) is not None}
    running: list[subprocess.Popen] = []
    while pending or running:
        for seed in sorted(set(args.seeds) - timed):  # a seed's three runs done: queue its same-time plain run
            done = {b: _result(args, b, seed) for b in KINDS}
            if None not in done.values():
                branched = statistics.mean(done[b]["train_seconds"] for b in ("repvgg", "acnet"))
                epochs = max(args.epochs, round(args.epochs * branched / done["plain"]["train_seconds"]))
                pending.insert(0, ("plain", seed, epochs, "plain-same-time"))
                timed.add(seed)
        running = [p for p in running if p.poll() is None]
        while pending and len(running) < args.jobs:
            running.append(_launch(args, *pending.pop(0)))
        time.sleep(2)
    table(args)


def table(args) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(args.runs.glob("*/result.json"))]
    labels = ["repvgg", "acnet", "plain", "plain-same-time"]
    k = rows[0]["k"] if rows else "?"
    print(f"| blocks | seeds | epochs | train wall s | train CPU s | test ELBO | test NLL (K={k}) | active units |")
    print("|---|---|---|---|---|---|---|---|")

    def stat(mine, key, fmt="{:.2f}"):
        """mean ± sample standard deviation over the seeds"""
        values = [r[key] for r in mine]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{fmt.format(statistics.mean(values))} ± {fmt.format(spread)}"

    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        if not mine:
            continue
        epochs = sorted({r["epochs"] for r in mine})
        print(
            f"| {label} | {len(mine)} | {'/'.join(map(str, epochs))} | {stat(mine, 'train_seconds', '{:.0f}')} | "
            f"{stat(mine, 'train_cpu_seconds', '{:.0f}')} | {stat(mine, 'elbo')} | {stat(mine, 'nll')} | "
            f"{stat(mine, 'active_units', '{:.1f}')} |"
        )
    cpu = sum(r["total_cpu_seconds"] for r in rows)
    print(f"\n{len(rows)} runs, {cpu / 60:.1f} CPU-minutes in all (training, export and evaluation)")
    for r in rows:
        c = r["nll_check_100_images"]
        print(
            f"  {r['label']:>16} seed {r['seed']}: NLL {r['nll']:.2f}, ELBO {r['elbo']:.2f}, "
            f"train {r['train_seconds']:.0f} s; fused vs unfused NLL on 100 images "
            f"{c['fused']:.4f} / {c['unfused']:.4f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="part", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    s.add_argument("--batches", type=int, nargs="+", default=[100, 1])
    s.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    s.add_argument("--min-seconds", type=float, default=1.0)
    for name in ("ablation", "one"):
        a = sub.add_parser(name)
        a.add_argument("--epochs", type=int, default=6)
        a.add_argument("--train-size", type=int, default=5000)
        a.add_argument("--test-size", type=int, default=1000)
        a.add_argument("-k", type=int, default=50)
        a.add_argument("--channels", type=int, nargs="+", default=[16, 32])
    ab = sub.choices["ablation"]
    ab.add_argument("--runs", type=Path, required=True)
    ab.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ab.add_argument("--jobs", type=int, default=2)
    o = sub.choices["one"]
    o.add_argument("--block", choices=KINDS, required=True)
    o.add_argument("--seed", type=int, required=True)
    o.add_argument("--label", required=True)
    o.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("table")
    t.add_argument("--runs", type=Path, required=True)
    args = p.parse_args()
    {"speed": speed, "ablation": ablation, "one": one, "table": table}[args.part](args)


if __name__ == "__main__":
    main()
