"""The runs behind docs/tutorial.md: one table of `vaekit train` commands, full size or small.

Every setting is pinned on the command line (no default is trusted to stay put), so the tutorial
shows exactly what produced its numbers. `--small` trains the same models, narrower and for 4
epochs, on a slice of MNIST (`--data slice.npz`), which is what CI runs.

    python examples/tutorial_runs.py --out runs/tutorial                  # all runs, one after another
    python examples/tutorial_runs.py --out runs/tutorial --only vae-z16,ae-z16
    python examples/tutorial_runs.py --out /tmp/t --small --print         # show the commands only
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

LATENTS = (2, 8, 16, 32)  # the bottleneck sweep; 16 is the model the other steps study
STUDIED = 16
MLP = ["--arch", "mlp", "--hidden", "512,256", "--activation", "relu"]
FREY = [
    "--data",
    "frey",
    "--likelihood",
    "gaussian",
    "--gaussian-variance",
    "pixel",
    "--arch",
    "mlp",
    "--hidden",
    "200",
    "--activation",
    "tanh",
    "--batch-size",
    "100",
    "--lr",
    "1e-3",
    "--seed",
    "0",
]


def mnist_settings(small: bool, data: str) -> list[str]:
    if small:  # CI: a 4,000-image training slice, a narrower MLP, 4 epochs
        return [
            "--data",
            data,
            "--arch",
            "mlp",
            "--hidden",
            "256,128",
            "--activation",
            "relu",
            "--epochs",
            "4",
            "--batch-size",
            "50",
            "--lr",
            "2e-3",
            "--seed",
            "0",
        ]
    return ["--data", data, *MLP, "--epochs", "10", "--batch-size", "100", "--lr", "1e-3", "--seed", "0"]


def runs(small: bool, data: str = "binarized-mnist") -> dict[str, list[str]]:
    """run name -> the arguments after `vaekit train`."""
    mnist = mnist_settings(small, data)
    table: dict[str, list[str]] = {}
    for d in LATENTS:
        table[f"vae-z{d}"] = ["vae", *mnist, "--latent-dim", str(d), "--beta", "1", "--kl-warmup", "0"]
        table[f"ae-z{d}"] = ["ae", *mnist, "--latent-dim", str(d), "--set", "noise=0"]
    table[f"iwae-z{STUDIED}"] = ["iwae", *mnist, "--latent-dim", str(STUDIED), "--set", "k=5"]
    frey_epochs, frey_eval = ("8", "4") if small else ("2000", "100")
    for d in (2, 4):
        table[f"frey-z{d}"] = [
            "vae",
            *FREY,
            "--latent-dim",
            str(d),
            "--epochs",
            frey_epochs,
            "--eval-every",
            frey_eval,
            "--beta",
            "1",
            "--kl-warmup",
            "0",
        ]
    return table


def command(name: str, args: list[str], out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vaekit",
        "--threads",
        "1",
        "train",
        *args,
        "--device",
        "cpu",
        "--out",
        str(out / name),
        "--overwrite",
        "--quiet",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for the run directories")
    p.add_argument("--small", action="store_true", help="one epoch on a slice of MNIST (CI size)")
    p.add_argument("--data", default="binarized-mnist", help="the MNIST data: a name or an .npz slice")
    p.add_argument("--only", default=None, help="comma-separated run names (default: all)")
    p.add_argument("--print", action="store_true", help="print the commands instead of running them")
    p.add_argument("--in-process", action="store_true", help="run vaekit inside this process (no start-up per run)")
    args = p.parse_args(argv)
    table = runs(args.small, args.data)
    names = args.only.split(",") if args.only else list(table)
    unknown = sorted(set(names) - set(table))
    if unknown:
        p.error(f"unknown run(s) {', '.join(unknown)}; known: {', '.join(table)}")
    for name in names:
        cmd = command(name, table[name], args.out)
        print("$ " + shlex.join(["vaekit", *cmd[3:]]), flush=True)
        if args.print:
            continue
        start = time.time()
        if args.in_process:
            from vaekit.cli import main as vaekit_main

            if vaekit_main(cmd[3:]) != 0:
                raise SystemExit(f"vaekit train failed for {name}")
        else:
            subprocess.run(cmd, check=True)
        print(f"{name}: {time.time() - start:.0f} s wall", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
