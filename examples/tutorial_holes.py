"""Tutorial step 4: the autoencoder's code space has holes, the VAE's does not.

Same networks, same bottleneck, same data: decode random codes and walk between two test
images' codes, and let vaekit's MNIST classifier say how often the result is a digit it reads
with confidence (> 0.9), and how unsure it is (entropy, bits) along the walk.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from tutorial_common import (  # noqa: E402
    FidJudge,
    Sizes,
    entropy_bits,
    fitted_gaussian,
    markdown_table,
    open_run,
    write_result,
)

from vaekit.eval.classifier import probabilities, sample_quality  # noqa: E402
from vaekit.generate.images import posterior_means  # noqa: E402
from vaekit.plots import image_grid  # noqa: E402

CONFIDENT = 0.9


@torch.no_grad()
def decode(model, z: torch.Tensor) -> torch.Tensor:
    return model.decode(z.float()).mean  # (N, 1, 28, 28)


def code_sources(model, train_x: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    """n codes from N(0, I) and n from a Gaussian fitted to the model's training codes."""
    d = model.latent_dim
    codes = posterior_means(model, train_x[:10_000])  # (N, D)
    return {"N(0, I)": torch.randn(n, d), "Gaussian fitted to the codes": fitted_gaussian(codes).sample((n,)).float()}


def interpolation_pairs(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n pairs of test images showing different digits: (n, C, H, W) twice."""
    first, second = [], []
    i = 0
    while len(first) < n and i + 1 < x.shape[0]:
        if y[i] != y[i + 1]:
            first.append(i)
            second.append(i + 1)
        i += 2
    return x[first], x[second]


@torch.no_grad()
def walks(model, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded straight lines between the codes of a and b -> (pairs, steps, C, H, W)."""
    za, zb = model.encode(a).mean, model.encode(b).mean  # (P, D)
    t = torch.linspace(0, 1, steps)
    path = za[:, None] + t[None, :, None] * (zb - za)[:, None]  # (P, T, D)
    return decode(model, path.flatten(0, 1)).reshape(a.shape[0], steps, *a.shape[1:])


def run(runs: Path, out: Path, sizes: Sizes, classifier, judge: FidJudge, studied: int = 16) -> dict:
    torch.manual_seed(0)
    models = {kind: open_run(runs, f"{kind}-z{studied}") for kind in ("ae", "vae")}
    data = models["vae"][2]
    a, b = interpolation_pairs(data.test_x, data.test_y, sizes.pairs)
    real = sample_quality(data.test_x[: sizes.samples], classifier)  # the yardstick: real test digits
    result = {"real test digits": {"confident": real["confident"], "mnist_is": real["mnist_is"], "fid": judge.floor}}
    grids, paths = {}, {}
    for kind, (model, _, _) in models.items():
        for source, z in code_sources(model, data.train_x, sizes.samples).items():
            images = decode(model, z)
            q = sample_quality(images, classifier)
            result[f"{kind}, codes from {source}"] = {
                "confident": q["confident"],
                "mnist_is": q["mnist_is"],
                "fid": judge(images),
            }
            grids[f"{kind.upper()}: codes from {source}"] = images[:64]
        walk = walks(model, a, b, sizes.steps)  # (P, T, 1, 28, 28)
        p = probabilities(walk.flatten(0, 1), classifier).reshape(sizes.pairs, sizes.steps, 10)
        entropy = entropy_bits(p.double())  # (P, T)
        middle = sizes.steps // 2
        result[f"{kind}, interpolation midpoints"] = {
            "confident": float((p[:, middle].max(-1).values > CONFIDENT).double().mean()),
            "entropy_along_path": entropy.mean(0).tolist(),
        }
        paths[kind.upper()] = (walk, entropy)
    _plot_samples(out / "holes-samples.png", grids)
    _plot_walks(out / "holes-interpolations.png", paths, a.shape[0])
    rows = [
        [
            name,
            f"{r['confident']:.0%}",
            f"{r['mnist_is']:.2f}"
            if "mnist_is" in r
            else f"mean entropy {sum(r['entropy_along_path']) / len(r['entropy_along_path']):.2f} bits",
            f"{r['fid']:.1f}" if "fid" in r else "",
        ]
        for name, r in result.items()
    ]
    table = markdown_table(
        [
            f"latent-{studied} model, decoded from",
            f"read with confidence > {CONFIDENT}",
            "MNIST-IS (samples) / classifier entropy (walks)",
            f"FID ({judge.n} images; real digits: the floor)",
        ],
        rows,
    )
    write_result(out, "holes", result, table)
    return result


def _plot_samples(path: Path, grids: dict[str, torch.Tensor]) -> None:
    fig, axes = plt.subplots(1, len(grids), figsize=(3.3 * len(grids), 3.6))
    for ax, (title, images) in zip(axes, grids.items()):
        ax.imshow(image_grid(images, 8, min_size=0), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle("Decoding random codes: the AE's code space has holes, the VAE's prior is filled", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_walks(path: Path, paths: dict[str, tuple[torch.Tensor, torch.Tensor]], pairs: int, shown: int = 4) -> None:
    fig = plt.figure(figsize=(11, 6.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[2.1, 1])
    steps = next(iter(paths.values()))[0].shape[1]
    for row, (name, (walk, _)) in enumerate(paths.items()):
        ax = fig.add_subplot(grid[row, 0])
        ax.imshow(image_grid(walk[:shown].flatten(0, 1), steps, min_size=0), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}: straight lines between the codes of two test digits", fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[:, 1])
    t = torch.linspace(0, 1, steps)
    for (name, (_, entropy)), colour in zip(paths.items(), ("C1", "C0")):
        mean, spread = entropy.mean(0), entropy.std(0)
        ax.plot(t, mean, marker="o", color=colour, label=name)
        ax.fill_between(t, (mean - spread).clamp(min=0), mean + spread, color=colour, alpha=0.15)
    ax.set_xlabel("position t along the path")
    ax.set_ylabel("classifier entropy, bits (0: sure, 3.3: clueless)")
    ax.set_title(f"How unsure the classifier is, {pairs} paths", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
