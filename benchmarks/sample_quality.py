"""Sample quality of trained MNIST runs as the cached classifier sees it (vaekit.eval.classifier.sample_quality).

For each run and temperature: n prior samples (decoded means), their MNIST Inception Score
(at most 10), the share the classifier reads with probability > 0.9, and the mean top probability;
the first n real test images give the reference row. Works for any run that can sample
(VAE-family, WAE, a VQ-VAE with its code prior).

    PYTHONPATH=. VAEKIT_DATA_DIR=../shared/data python benchmarks/sample_quality.py RUN [RUN ...] \
        [--temperatures 1,0.8] [-n 1000]
"""

from __future__ import annotations

import argparse

import torch

from vaekit.data import load_dataset
from vaekit.eval.classifier import load_classifier, sample_quality
from vaekit.generate.images import sample
from vaekit.train import load_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--temperatures", default="1.0", help="comma-separated sampling temperatures")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = load_classifier(device=device)
    print("| images | temperature | MNIST IS | read with p > 0.9 | mean top probability |")
    print("|---|---|---|---|---|")
    real = sample_quality(load_dataset("mnist").test_x[: args.n].to(device), net)
    print(
        f"| {args.n} real test images | | {real['mnist_is']:.2f} | {real['confident']:.1%} "
        f"| {real['mean_confidence']:.3f} |"
    )
    for run in args.runs:
        model, _ = load_run(run, device=device)
        for t in (float(v) for v in args.temperatures.split(",")):
            torch.manual_seed(args.seed)
            q = sample_quality(sample(model.eval(), args.n, temperature=t), net)
            print(f"| {run} | {t:g} | {q['mnist_is']:.2f} | {q['confident']:.1%} | {q['mean_confidence']:.3f} |")


if __name__ == "__main__":
    main()
