"""EM for a 10-component full-covariance Gaussian mixture on MNIST projected to 50 dimensions:
vaekit's GaussianMixture (torch, CPU and CUDA when present) against scikit-learn's on the same
data, same CPU, same settings (k-means start, tol 1e-3, reg_covar 1e-6, one initialization).

    PYTHONPATH=. python benchmarks/bench_gmm.py [--n 60000] [--dims 50] [--k 10] [--threads 1]

``--threads`` caps torch's and NumPy's BLAS threads alike (default 1): on a small machine shared
with other jobs, multi-threaded BLAS spins against them and both libraries slow down ~10-40x.

Reads $VAEKIT_DATA_DIR/mnist/train-images-idx3-ubyte.gz (default ../shared/data). Prints a
markdown table: fit time, EM iterations, time per iteration, final mean log-likelihood per sample.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from vaekit.classical import PCA, GaussianMixture


def load_mnist_train(n: int) -> np.ndarray:
    """(n, 784) float64 in [0, 1] from the IDX file, through vaekit.data when it is there."""
    root = Path(os.environ.get("VAEKIT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / "mnist" / "train-images-idx3-ubyte.gz"
    try:
        from vaekit.data.idx import read_idx_images

        images = read_idx_images(path)
    except ImportError:
        with gzip.open(path, "rb") as f:
            images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    return images[:n].reshape(n, -1).astype(np.float64) / 255.0


def time_fit(make, X) -> tuple[float, object]:
    start = time.perf_counter()
    model = make().fit(X)
    if isinstance(X, torch.Tensor) and X.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start, model


def row(name: str, device: str, seconds: float, model, X) -> str:
    ll = model.score(X)
    return f"| {name} | {device} | {seconds:.2f} | {model.n_iter_} | {1000 * seconds / model.n_iter_:.0f} | {ll:.4f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--dims", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for torch and BLAS")
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        bench(args)


def bench(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    X = PCA(args.dims).fit_transform(load_mnist_train(args.n))  # (n, dims) float64
    print(
        f"data: MNIST train {X.shape}, PCA to {args.dims} dims in {time.perf_counter() - t0:.1f} s; "
        f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}"
    )
    kw = {
        "covariance_type": "full",
        "tol": 1e-3,
        "reg_covar": 1e-6,
        "n_init": 1,
        "max_iter": args.max_iter,
        "random_state": args.seed,
    }
    print("| implementation | device | fit (s) | EM iterations | ms / iteration | mean log-lik (nats) |")
    print("|---|---|---|---|---|---|")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        Xt = torch.from_numpy(X).to(device)
        if device == "cuda":  # warm-up: CUDA context, cuBLAS/cuSOLVER handles
            GaussianMixture(args.k, max_iter=2, random_state=0).fit(Xt)
        seconds, model = time_fit(lambda: GaussianMixture(args.k, **kw), Xt)
        print(row("vaekit GaussianMixture (float64)", device, seconds, model, Xt))
    if not args.skip_sklearn:
        from sklearn.mixture import GaussianMixture as SkGaussianMixture

        seconds, model = time_fit(lambda: SkGaussianMixture(args.k, init_params="kmeans", **kw), X)
        print(row("scikit-learn GaussianMixture", "cpu", seconds, model, X))


if __name__ == "__main__":
    main()
