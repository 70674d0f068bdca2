"""The model family on MNIST, on whatever device is there (numbers in results_family.md are a CPU's).

1. ae-pca: a nonlinear autoencoder against PCA at the same code size. For each code size d the
   AE (vaekit's default MLP 784-512-256-d, Bernoulli decoder, i.e. trained on the binary
   cross-entropy) is trained with `vaekit train ae` as a user would type it; PCA keeps d
   components of the 59,000 training images. Reported on the 10,000 test images, per image:
   the sum of squared errors (SSE) and the binary cross-entropy (BCE) of the reconstruction
   (clipped to [1e-6, 1 - 1e-6]; PCA's reconstruction is clipped the same way for BCE, left raw for SSE).
2. cvae: a conditional VAE trained with `vaekit train cvae`, then `n` samples per digit drawn
   with that label and read by the cached MNIST classifier (`vaekit.eval.classifier`): the share read
   as the requested digit. Target: at least 90% for every digit.

    PYTHONPATH=. VAEKIT_DATA_DIR=../shared/data python benchmarks/bench_family.py ae-pca \
        [--epochs 6] [--sizes 2,8,16,32]
    PYTHONPATH=. VAEKIT_DATA_DIR=../shared/data python benchmarks/bench_family.py cvae [--epochs 20] [--latent-dim 8]

Runs go to runs/bench-family/ (replaced). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vaekit.cli import main as vaekit
from vaekit.data import load_dataset

RUNS = Path("runs/bench-family")


def train(model: str, name: str, *flags: str) -> tuple[Path, float]:
    out = RUNS / name
    began = time.perf_counter()
    code = vaekit(
        [
            "--threads",
            str(torch.get_num_threads()),
            "train",
            model,
            "--data",
            "mnist",
            "--out",
            str(out),
            "--overwrite",
            "--quiet",
            "--device",
            "cpu" if not torch.cuda.is_available() else "auto",
            *flags,
        ]
    )
    if code != 0:
        raise SystemExit(f"vaekit train {model} failed with status {code}")
    return out, time.perf_counter() - began


def pca_errors(train_x: torch.Tensor, test_x: torch.Tensor, d: int) -> tuple[float, float, float]:
    """(SSE, BCE, seconds) of a d-component PCA reconstruction, per test image."""
    from vaekit.classical import PCA

    began = time.perf_counter()
    flat = test_x.flatten(1).double()  # (N, 784)
    pca = PCA(d).fit(train_x.flatten(1).double())
    recon = pca.inverse_transform(pca.transform(flat))  # (N, 784)
    seconds = time.perf_counter() - began
    sse = (recon - flat).pow(2).sum(1).mean()
    p = recon.clamp(1e-6, 1 - 1e-6)
    bce = -(flat * p.log() + (1 - flat) * (1 - p).log()).sum(1).mean()
    return float(sse), float(bce), seconds


def ae_pca(args) -> None:
    from vaekit.train import load_run

    data = load_dataset("mnist")
    print("| code size | PCA SSE | AE SSE | PCA BCE | AE BCE | AE train s | epochs |")
    print("|---|---|---|---|---|---|---|")
    for d in args.sizes:
        pca_sse, pca_bce, _ = pca_errors(data.train_x, data.test_x, d)
        run, seconds = train("ae", f"ae-{d}", "--latent-dim", str(d), "--epochs", str(args.epochs))
        model, _ = load_run(run)
        m = model.evaluate_split(data.test_x, batch_size=1000)
        print(
            f"| {d} | {pca_sse:.2f} | {m['sse']:.2f} | {pca_bce:.1f} | {m['bce']:.1f} | {seconds:.0f} "
            f"| {args.epochs} |",
            flush=True,
        )


def cvae(args) -> None:
    from vaekit.eval.classifier import load_classifier, per_label_accuracy
    from vaekit.eval.likelihood import evaluate
    from vaekit.generate.images import sample
    from vaekit.train import load_run

    net = load_classifier()
    data = load_dataset("mnist")
    real = per_label_accuracy(data.test_x, data.test_y, net)
    run, seconds = train("cvae", "cvae", "--latent-dim", str(args.latent_dim), "--epochs", str(args.epochs))
    model, _ = load_run(run)
    torch.manual_seed(0)
    labels = torch.arange(10).repeat_interleave(args.n)  # (10 n,)
    shares = per_label_accuracy(sample(model, labels.shape[0], labels=labels), labels, net)
    result = evaluate(model, data.test_x[:1000], data.test_y[:1000], k=100, seed=0)
    print(
        f"cvae: latent_dim {args.latent_dim}, {args.epochs} epochs, {seconds:.0f} s training; "
        f"test ELBO {result['elbo']:.2f}, K=100 NLL {result['nll']:.2f} nats (first 1000 test images, grey MNIST)"
    )
    print("| digit | " + " | ".join(map(str, range(10))) + " | min |")
    print("|---" * 12 + "|")
    print(
        "| samples read as that digit | "
        + " | ".join(f"{shares[c]:.1%}" for c in range(10))
        + f" | {min(shares.values()):.1%} |"
    )
    print(
        "| real test images (classifier) | "
        + " | ".join(f"{real[c]:.1%}" for c in range(10))
        + f" | {min(real.values()):.1%} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", choices=("ae-pca", "cvae"))
    ap.add_argument("--epochs", type=int, default=None, help="default: 6 for ae-pca, 20 for cvae")
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[2, 8, 16, 32])
    ap.add_argument("--latent-dim", type=int, default=8, help="cvae code size")
    ap.add_argument("-n", type=int, default=500, help="cvae samples per digit")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.epochs = args.epochs or (6 if args.which == "ae-pca" else 20)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, torch {torch.__version__}, threads {args.threads}")
    ae_pca(args) if args.which == "ae-pca" else cvae(args)


if __name__ == "__main__":
    main()
