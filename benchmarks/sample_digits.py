"""Do a conditional model's samples show the digit asked for? Judged by a classifier that is not vaekit's.

The judge is scikit-learn's: PCA to 50 components, then a 3-nearest-neighbour vote (distance
weighted), fitted on the 60,000 MNIST training images (grey pixels in [0, 1]); its accuracy on
the 10,000 test images is printed with the result. For each run given, `-n` samples per digit
are drawn (seed 0, decoded means, the model's own prior) and the share read as the asked digit
is printed per digit, as a Markdown table row.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/sample_digits.py RUN_DIR [RUN_DIR ...] [-n 500]

A run is trained with its defaults, e.g. `vaekit --threads 1 train cvae --data mnist --epochs 10 --out RUN_DIR`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from vaekit.data import load_dataset
from vaekit.generate import sample
from vaekit.models import load_run


def fit_judge(data):
    """PCA(50) + 3-NN on MNIST pixels; returns (classifier, its test accuracy per digit, overall)."""
    flat = lambda x: x.reshape(x.shape[0], -1).numpy()  # noqa: E731
    train_x = np.concatenate([flat(data.train_x), flat(data.val_x)])
    train_y = np.concatenate([data.train_y.numpy(), data.val_y.numpy()])
    judge = make_pipeline(PCA(50, random_state=0), KNeighborsClassifier(3, weights="distance"))
    judge.fit(train_x, train_y)
    predicted = judge.predict(flat(data.test_x))
    truth = data.test_y.numpy()
    per_digit = {c: float((predicted[truth == c] == c).mean()) for c in range(10)}
    return judge, per_digit, float((predicted == truth).mean())


def row(name: str, shares: dict[int, float]) -> str:
    return f"| {name} | " + " | ".join(f"{shares[c]:.1%}" for c in range(10)) + f" | **{min(shares.values()):.1%}** |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("-n", type=int, default=500, help="samples per digit")
    args = p.parse_args()
    torch.set_num_threads(1)
    began = time.perf_counter()
    judge, real, accuracy = fit_judge(load_dataset("mnist"))
    seconds = time.perf_counter() - began
    print(f"judge: scikit-learn PCA(50) + 3-NN, MNIST test accuracy {accuracy:.2%} ({seconds:.0f} s)")
    print("| run | " + " | ".join(map(str, range(10))) + " | min |")
    print("|---" * 12 + "|")
    print(row("real test images (judge's per-digit accuracy)", real))
    for run in args.runs:
        model, _ = load_run(run)
        torch.manual_seed(0)
        labels = torch.arange(10).repeat_interleave(args.n)  # (10 n,)
        with torch.no_grad():
            images = sample(model, labels.shape[0], labels=labels)  # (10 n, 1, 28, 28)
        read = judge.predict(images.reshape(images.shape[0], -1).numpy())
        shares = {c: float((read[labels.numpy() == c] == c).mean()) for c in range(10)}
        print(row(run, shares), flush=True)


if __name__ == "__main__":
    main()
