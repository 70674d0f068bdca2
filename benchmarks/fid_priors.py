"""FID of one run's samples under different priors: N(0, I) at temperatures 1 and 0.8, and a
K-component Gaussian mixture fitted to the training codes (what `vaekit sample --prior gmm:K` draws).

    PYTHONPATH=. VAEKIT_DATA_DIR=../shared/data python benchmarks/fid_priors.py RUN [-n 10000] [--gmm 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vaekit.classical import GaussianMixture
from vaekit.data import load_dataset
from vaekit.eval.sample_quality import measure
from vaekit.generate.images import posterior_means
from vaekit.models import load_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--gmm", type=int, default=10, help="mixture components")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_run(args.run)
    data_name = Path(cfg.data.name).name
    train_x = load_dataset(cfg.data.name).train_x[:10_000]
    codes = posterior_means(model, train_x)
    gmm = GaussianMixture(n_components=args.gmm, covariance_type="full", random_state=0).fit(codes.double())
    priors = [
        ("N(0, I)", None, 1.0),
        ("N(0, I), temperature 0.8", None, 0.8),
        (f"gmm:{args.gmm} fitted to 10,000 training codes", gmm.to_distribution(codes.dtype, "cpu"), 1.0),
    ]
    print(f"| {args.run.name} prior | FID ({args.n} samples) | real floor | Inception-style | seconds |")
    print("|---|---|---|---|---|")
    for name, prior, temperature in priors:
        start = time.time()
        q = measure(model, data_name, args.n, prior=prior, temperature=temperature)
        seconds = time.time() - start
        print(
            f"| {name} | {q['fid']:.1f} | {q['fid_real']:.2f} | {q['inception_score']:.2f} | {seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
