"""Do a model's samples look like digits? Judged by a classifier that is not vaekit's.

The judge is scikit-learn's: PCA to 50 components, then a 3-nearest-neighbour vote (distance
weighted), fitted on the 60,000 MNIST training images (grey pixels in [0, 1]); its accuracy on
the 10,000 test images is printed with the result. Samples are decoded means, seed 0.

A conditional run (cvae) draws `-n` samples per digit from its own prior (p(z|y) where it learns
one) and gets a row of the per-digit table: the share read as the digit asked for.

Every run, conditional or not, draws 10 n samples (an unconditional one from its prior; an
autoencoder, which has none, from a Gaussian fitted to the codes E[z|x] of 10,000 training images,
as `vaekit sample --prior gmm:1` does) and gets a row of the per-model table:

    confident   the share of samples whose neighbour vote is >= 0.9 for one digit (in practice: the
                three nearest training images agree); the real test images give the reference
    digits      exp(entropy) of the histogram of the digits read: 10 when all ten are drawn equally
                often, 1 when one digit is all the model draws
    rarest      the share of the digit read least often (uniform: 10%)
    FID         the Fréchet distance to as many real test images in the features of vaekit's MNIST
                CNN (vaekit.eval.sample_quality; a number for ranking runs, not comparable with
                Inception FIDs); the floor is real training images against the test images

    VAEKIT_DATA_DIR=../shared/data python benchmarks/sample_digits.py RUN_DIR [RUN_DIR ...] [-n 500] [--no-fid]

A run is trained with its defaults, e.g. `vaekit --threads 1 train cvae --data mnist --epochs 10 --out RUN_DIR`.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from vaekit.classical import GaussianMixture
from vaekit.data import load_dataset
from vaekit.generate.images import posterior_means, sample
from vaekit.models import load_run

CONFIDENT = 0.9  # neighbour vote for one digit that counts as a confident reading


def flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(x.shape[0], -1).numpy()


def fit_judge(data):
    """PCA(50) + 3-NN on MNIST pixels; returns (classifier, its test accuracy per digit, overall)."""
    train_x = np.concatenate([flat(data.train_x), flat(data.val_x)])
    train_y = np.concatenate([data.train_y.numpy(), data.val_y.numpy()])
    judge = make_pipeline(PCA(50, random_state=0), KNeighborsClassifier(3, weights="distance"))
    judge.fit(train_x, train_y)
    predicted = judge.predict(flat(data.test_x))
    truth = data.test_y.numpy()
    per_digit = {c: float((predicted[truth == c] == c).mean()) for c in range(10)}
    return judge, per_digit, float((predicted == truth).mean())


@torch.no_grad()
def draw(model, data, n: int) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """n samples (n, 1, 28, 28), their labels (a conditional model: 0..9 in blocks) and where z came from."""
    torch.manual_seed(0)
    if model.num_labels:
        labels = torch.arange(10).repeat_interleave(n // 10)  # (n,)
        return sample(model, n, labels=labels), labels, "p(z|y)" if model.prior(labels[:1]).batch_shape else "N(0, I)"
    if model.has_prior:
        return sample(model, n), None, "its prior"
    codes = posterior_means(model, data.train_x[:10_000])  # (10000, D)
    gaussian = GaussianMixture(n_components=1, covariance_type="full", random_state=0).fit(codes.double())
    torch.manual_seed(0)
    return sample(model, n, prior=gaussian.to_distribution(codes.dtype)), None, "Gaussian fitted to codes"


def judged(judge, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(digit read (n,), the vote for it (n,))."""
    votes = judge.predict_proba(flat(images.clamp(0, 1)))  # (n, 10)
    return votes.argmax(1), votes.max(1)


def spread(read: np.ndarray, vote: np.ndarray) -> dict[str, float]:
    counts = np.bincount(read, minlength=10) / read.shape[0]
    entropy = -sum(p * math.log(p) for p in counts if p > 0)
    return {"confident": float((vote >= CONFIDENT).mean()), "digits": math.exp(entropy), "rarest": float(counts.min())}


def per_digit_row(name: str, shares: dict[int, float]) -> str:
    return f"| {name} | " + " | ".join(f"{shares[c]:.1%}" for c in range(10)) + f" | **{min(shares.values()):.1%}** |"


def per_model_row(name: str, source: str, s: dict, fid: float | None) -> str:
    fid_text = "" if fid is None else f"{fid:.1f}"
    return f"| {name} | {source} | {s['confident']:.1%} | {s['digits']:.2f} | {s['rarest']:.1%} | {fid_text} |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("-n", type=int, default=500, help="samples per digit (10 n per run)")
    p.add_argument("--no-fid", action="store_true", help="skip the Fréchet distance (vaekit's MNIST CNN)")
    args = p.parse_args()
    torch.set_num_threads(1)
    began = time.perf_counter()
    data = load_dataset("mnist")
    judge, real, accuracy = fit_judge(data)
    print(
        f"judge: scikit-learn PCA(50) + 3-NN, MNIST test accuracy {accuracy:.2%} ({time.perf_counter() - began:.0f} s)"
    )
    n = 10 * args.n
    fid = None
    if not args.no_fid:
        from vaekit.eval.classifier import features, load_classifier
        from vaekit.eval.sample_quality import feature_distance

        net = load_classifier()
        test_features = features(data.test_x[:n], net)

        def fid(images):
            return feature_distance(test_features, features(images, net))

    per_digit, per_model = [], []
    real_read, real_vote = judged(judge, data.test_x[:n])
    real_fid = None if fid is None else fid(data.train_x[:n])
    per_model.append(per_model_row(f"real test images ({n})", "", spread(real_read, real_vote), real_fid))
    for run in args.runs:
        model, _ = load_run(run)
        images, labels, source = draw(model, data, n)
        read, vote = judged(judge, images)
        if labels is not None:
            truth = labels.numpy()
            per_digit.append(per_digit_row(run, {c: float((read[truth == c] == c).mean()) for c in range(10)}))
            print(per_digit[-1], flush=True)
        per_model.append(per_model_row(run, source, spread(read, vote), None if fid is None else fid(images)))
        print(per_model[-1], flush=True)
    if per_digit:
        print("\n| run | " + " | ".join(map(str, range(10))) + " | min |")
        print("|---" * 12 + "|")
        print(per_digit_row("real test images (judge's per-digit accuracy)", real))
        print("\n".join(per_digit))
    print(
        f"\n| run | samples from | confident (vote >= {CONFIDENT}) | digits drawn (exp entropy) | rarest digit | FID |"
    )
    print("|---" * 6 + "|")
    print("\n".join(per_model))


if __name__ == "__main__":
    main()
