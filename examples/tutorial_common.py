"""What the steps of examples/tutorial.py share: sizes (full or CI-small), opening runs, writing results."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Sizes:
    latents: tuple[int, ...]  # the bottleneck sweep
    images: int  # test images for the evidence step (naive MC and importance sampling)
    prior_ks: tuple[int, ...]  # prior samples K for naive Monte Carlo
    prior_repeats: int
    prior_k_max_2d: int  # the 2-D model converges early: its prior samples stop here
    q_ks: tuple[int, ...]  # importance samples K from q(z|x)
    q_repeats: int
    samples: int  # decoded random codes per model, read by the classifier
    pairs: int  # interpolation pairs
    steps: int  # points on each interpolation path (odd: the middle one is t = 0.5)
    nll_images: int  # test images for the bottleneck table's NLL
    nll_k: int
    pca_images: int  # training images PCA is fitted to


FULL = Sizes(
    latents=(2, 8, 16, 32),
    images=100,
    prior_ks=(10, 100, 1000, 10**4, 10**5, 10**6),
    prior_repeats=3,
    prior_k_max_2d=10**5,
    q_ks=(1, 5, 10, 100, 1000, 5000),
    q_repeats=2,
    samples=1000,
    pairs=200,
    steps=9,
    nll_images=500,
    nll_k=500,
    pca_images=20_000,
)
SMALL = Sizes(
    latents=(2, 16),
    images=60,
    prior_ks=(10, 100, 1000),
    prior_repeats=3,
    prior_k_max_2d=1000,
    q_ks=(1, 5, 10, 100),
    q_repeats=2,
    samples=300,
    pairs=40,
    steps=9,
    nll_images=200,
    nll_k=100,
    pca_images=4000,
)


def open_run(runs: Path, name: str):
    """(model in eval mode on the CPU, its RunConfig, its dataset's DataSplits)."""
    from vaekit.data import load_dataset
    from vaekit.models import load_run

    model, cfg = load_run(Path(runs) / name)
    return model, cfg, load_dataset(cfg.data.name, cfg.data.data_dir)


def finished(runs: Path, name: str) -> bool:
    """Whether the run exists and trained all its epochs (a run still going has only some)."""
    metrics, config = Path(runs) / name / "metrics.json", Path(runs) / name / "config.json"
    if not (metrics.is_file() and config.is_file()):
        return False
    epochs = json.loads(config.read_text())["train"]["epochs"]
    done = len(json.loads(metrics.read_text()).get("epochs", [])) >= epochs
    return done and (Path(runs) / name / "reconstructions.png").is_file()  # pictures come last


def write_result(out: Path, name: str, result: dict, table: str) -> None:
    """out/NAME.json (numbers) and out/NAME.md (the table the tutorial shows)."""
    from vaekit.io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{name}.json", json.dumps(result, indent=2, default=float) + "\n")
    atomic_write_text(out / f"{name}.md", table + "\n")
    print(table)


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """Entropy in bits of each row of probabilities (N, C) -> (N,)."""
    return -torch.special.xlogy(p, p).sum(-1) / math.log(2)


def fitted_gaussian(codes: torch.Tensor) -> torch.distributions.MultivariateNormal:
    """N(mean, covariance) of codes (N, D): the simplest density one can put on an AE's code space."""
    codes = codes.double()
    cov = torch.cov(codes.T) + 1e-6 * torch.eye(codes.shape[1], dtype=codes.dtype)
    return torch.distributions.MultivariateNormal(codes.mean(0), covariance_matrix=cov)


class FidJudge:
    """The Fréchet distance of decoded images to real grey MNIST test digits, in the classifier's features.

    The real features are computed once; `floor` is the distance between as many real training and
    test digits, what a perfect model would score with this many images (FID is biased up for small n).
    """

    def __init__(self, classifier, n: int):
        from vaekit.data import load_dataset
        from vaekit.eval.classifier import features

        grey = load_dataset("mnist")  # grey levels: decoded Bernoulli means are grey, not binary
        self.classifier, self.n = classifier, n
        self.real = features(grey.test_x[:n], classifier)  # (n, F)
        self.floor = self(grey.train_x[:n])

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> float:
        from vaekit.eval.classifier import features
        from vaekit.eval.sample_quality import feature_distance

        return feature_distance(self.real, features(images, self.classifier))


def markdown_table(header: list[str], rows: list[list]) -> str:
    def cells(row) -> str:  # a "|" inside a cell (p(x|z)) would end it: escape it
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"

    lines = [cells(header), "|" + "---|" * len(header)]
    lines += [cells(row) for row in rows]
    return "\n".join(lines)
