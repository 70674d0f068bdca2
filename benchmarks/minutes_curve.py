"""The validation loss of `vaekit train --time` runs against training minutes, one line per run.

Reads each run's metrics.json (every epoch record carries `elapsed`, the run's training seconds
so far) and draws the validation negative ELBO (nats, 1,000 validation images) against minutes;
a run's final K=5000 test NLL, when given as RUN=NLL, is marked at its last minute.

    python benchmarks/minutes_curve.py OUT.png RUN_DIR[=NLL] [RUN_DIR[=NLL] ...] [--title TEXT] [--notes TEXT ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("runs", nargs="+", help="RUN_DIR, or RUN_DIR=NLL to mark its final test NLL")
    p.add_argument("--title", default="validation loss against training minutes")
    p.add_argument("--notes", nargs="+", default=[], help="text added to each run's label, in order")
    p.add_argument("--ylim", type=float, nargs=2, metavar=("LOW", "HIGH"), help="the plotted nats range")
    p.add_argument("--target", type=float, default=86.76, help="a test-NLL line to draw (nats; 0: none)")
    p.add_argument("--target-label", default="target: Burda et al.'s VAE")
    p.add_argument("--legend", help="matplotlib's legend place (default: lower left with a target, else best)")
    args = p.parse_args()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, item in enumerate(args.runs):
        run, _, nll = item.partition("=")
        config = json.loads((Path(run) / "config.json").read_text())
        history = json.loads((Path(run) / "metrics.json").read_text())["epochs"]
        minutes = [r["elapsed"] / 60 for r in history]
        model = config["model"]
        label = f"{model['name']} {'-'.join(map(str, model['hidden']))} {model['activation']}, z={model['latent_dim']}"
        options = model["options"]
        if options.get("pseudo_inputs"):
            label += f", K={options['pseudo_inputs']} pseudo-inputs"
        if model["name"] in ("hvae", "hiwae"):
            label += f", z2={options.get('top_dim', 50)}"
        if model["name"] in ("iwae", "hiwae"):
            late = f" -> {options['late_k']} from {options.get('late_from', 0.75):.0%}" if options.get("late_k") else ""
            label += f", k={options.get('k', 5)}{late} (k-sample bound)"
        label += f" ({len(history)} epoch{'s' if len(history) > 1 else ''})"
        if i < len(args.notes):
            label += f" {args.notes[i]}"
        (line,) = ax.plot(minutes, [r["val_loss"] for r in history], marker=".", label=label)
        if nll:
            ax.plot(
                [minutes[-1]],
                [float(nll)],
                marker="*",
                markersize=12,
                color=line.get_color(),
                linestyle="none",
                label=f"  its test NLL, K=5000: {float(nll):.2f}",
            )
    if args.target > 0:
        label = f"{args.target_label}, {args.target:g} (test NLL)"
        ax.axhline(args.target, color="grey", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel("training minutes (wall-clock, shared 2-core CPU)")
    ax.set_ylabel("validation -ELBO (nats)")
    ax.set_title(args.title)
    lows = [
        r["val_loss"]
        for item in args.runs
        for r in json.loads((Path(item.partition("=")[0]) / "metrics.json").read_text())["epochs"]
    ]
    ax.set_ylim(*(args.ylim or (84, min(max(lows), min(lows) + 40))))
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    loc = args.legend or ("lower left" if args.target else "best")  # below the curves, beside the target line
    ax.legend(fontsize=8, loc=loc)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
