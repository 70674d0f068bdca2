"""Tutorial step 5: the size of the bottleneck trades reconstruction for regularity.

PCA, the AE and the VAE at latent sizes 2, 8, 16, 32 on the same data: squared reconstruction
error, the VAE's reconstruction term, KL, active units and NLL, and how often decoded random codes
are digits the classifier reads with confidence. For 2-D codes, the decoded manifold and the
test codes coloured by digit.
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
    finished,
    fitted_gaussian,
    markdown_table,
    open_run,
    write_result,
)

from vaekit.classical import PCA  # noqa: E402
from vaekit.eval.classifier import sample_quality  # noqa: E402
from vaekit.eval.likelihood import evaluate  # noqa: E402
from vaekit.generate.images import posterior_means  # noqa: E402
from vaekit.plots import image_grid  # noqa: E402


def squared_error(recon: torch.Tensor, x: torch.Tensor) -> float:
    """Mean over images of the summed squared pixel error."""
    return float((recon - x).pow(2).flatten(1).sum(1).mean())


@torch.no_grad()
def measure_size(
    runs: Path, d: int, sizes: Sizes, classifier, judge: FidJudge, pca_train: torch.Tensor, data
) -> tuple[dict, torch.Tensor | None]:
    """One row of the table; the VAE or AE columns are left out when that run was not trained."""
    x = data.test_x[: sizes.nll_images]
    row, vae_samples = {"d": d}, None
    if finished(runs, f"vae-z{d}"):
        vae, _, _ = open_run(runs, f"vae-z{d}")
        r = evaluate(vae, x, k=sizes.nll_k, seed=0)
        row.update({f"vae_{k}": r[k] for k in ("recon", "kl", "nll", "active_units")})
        row["vae_sse"] = squared_error(vae(x), x)
        vae_samples = vae.decode(torch.randn(sizes.samples, d)).mean
        row["vae_confident"] = sample_quality(vae_samples, classifier)["confident"]
        row["vae_fid"] = judge(vae_samples)
        vae_samples = vae_samples[:10]
    if finished(runs, f"ae-z{d}"):
        ae, _, _ = open_run(runs, f"ae-z{d}")
        a = ae.evaluate_split(x)
        row.update({"ae_recon": a["recon"], "ae_sse": a["sse"]})
        codes = posterior_means(ae, data.train_x[:10_000])
        ae_samples = ae.decode(fitted_gaussian(codes).sample((sizes.samples,)).float()).mean
        row["ae_confident"] = sample_quality(ae_samples, classifier)["confident"]
        row["ae_fid"] = judge(ae_samples)
    pca = PCA(d).fit(pca_train)
    flat = x.flatten(1).double()
    row["pca_sse"] = squared_error(pca.inverse_transform(pca.transform(flat)), flat)
    scores = torch.randn(sizes.samples, d, dtype=torch.float64) * pca.explained_variance_.sqrt()  # PPCA-like draws
    pca_samples = pca.inverse_transform(scores).clamp(0, 1).float().reshape(-1, *x.shape[1:])
    row["pca_confident"] = sample_quality(pca_samples, classifier)["confident"]
    row["pca_fid"] = judge(pca_samples)
    return row, vae_samples


def run(runs: Path, out: Path, sizes: Sizes, classifier, judge: FidJudge) -> dict:
    torch.manual_seed(0)
    _, _, data = open_run(runs, f"vae-z{sizes.latents[0]}")
    pca_train = data.train_x[: sizes.pca_images].flatten(1).double()
    rows, samples = [], {}
    for d in sizes.latents:
        row, shown = measure_size(runs, d, sizes, classifier, judge, pca_train, data)
        rows.append(row)
        if shown is not None:
            samples[d] = shown
    header = [
        "latent",
        "PCA: squared error",
        "AE: squared error",
        "VAE: squared error",
        "AE: −log p(x|z)",
        "VAE: −E log p(x|z)",
        "VAE: KL",
        "VAE: active units",
        "VAE: NLL",
        "random codes read as digits: PCA / AE (fitted Gaussian) / VAE (prior)",
        f"FID of those codes, {judge.n} images (real digits: {judge.floor:.1f}): PCA / AE / VAE",
    ]

    def cell(r: dict, key: str, form: str) -> str:
        return format(r[key], form) if key in r else "—"

    table = markdown_table(
        header,
        [
            [
                r["d"],
                cell(r, "pca_sse", ".1f"),
                cell(r, "ae_sse", ".1f"),
                cell(r, "vae_sse", ".1f"),
                cell(r, "ae_recon", ".1f"),
                cell(r, "vae_recon", ".1f"),
                cell(r, "vae_kl", ".1f"),
                cell(r, "vae_active_units", "d"),
                cell(r, "vae_nll", ".1f"),
                " / ".join(cell(r, f"{m}_confident", ".0%") for m in ("pca", "ae", "vae")),
                " / ".join(cell(r, f"{m}_fid", ".1f") for m in ("pca", "ae", "vae")),
            ]
            for r in rows
        ],
    )
    numbers = {"rows": rows, "images": sizes.nll_images, "k": sizes.nll_k, "fid_floor": judge.floor}
    write_result(out, "bottleneck", numbers, table)
    _plot_sweep(out / "bottleneck.png", rows, samples)
    if finished(runs, "vae-z2"):
        _plot_two_d(out / "latent-2d.png", runs, pca_train)
    return {"rows": rows}


def _plot_sweep(path: Path, rows: list[dict], samples: dict[int, torch.Tensor]) -> None:
    d = [r["d"] for r in rows]

    def curve(ax, key: str, label: str) -> None:
        have = [r for r in rows if key in r]
        ax.plot([r["d"] for r in have], [r[key] for r in have], marker="o", label=label)

    panels = (  # (curves, y label, title, y limits)
        (
            (("pca_sse", "PCA"), ("ae_sse", "AE"), ("vae_sse", "VAE (posterior mean)")),
            "squared error per image",
            "Reconstruction: more codes, smaller error",
            None,
        ),
        (
            (("vae_nll", "NLL = −log p(x)"), ("vae_recon", "−E log p(x|z)"), ("vae_kl", "KL(q ‖ p(z))")),
            "nats per image",
            "VAE: the rate (KL) buys reconstruction",
            None,
        ),
        (
            (
                ("pca_confident", "PCA, Gaussian scores"),
                ("ae_confident", "AE, Gaussian fitted to codes"),
                ("vae_confident", "VAE, z ~ N(0, I)"),
            ),
            "share read with confidence > 0.9",
            "Generation: decoded random codes",
            (0, 1),
        ),
    )
    fig = plt.figure(figsize=(13, 6.4))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.5, 1])
    for col, (curves, ylabel, title, ylim) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        for key, label in curves:
            curve(ax, key, label)
        ax.set(xscale="log", xticks=d, xticklabels=d, xlabel="latent size", ylabel=ylabel, title=title, ylim=ylim)
        ax.minorticks_off()  # the log axis's minor labels (3x10^0, ...) would crowd the four sizes
        ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(image_grid(torch.cat(list(samples.values())), 10, min_size=0), cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([(i + 0.5) * 29 for i in range(len(samples))], [f"VAE z={k}" for k in samples])
    ax.set_xticks([])
    ax.set_title("VAE samples, z ~ N(0, I), one row per latent size", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@torch.no_grad()
def _plot_two_d(path: Path, runs: Path, pca_train: torch.Tensor, n: int = 15) -> None:
    vae, _, data = open_run(runs, "vae-z2")
    ae = open_run(runs, "ae-z2")[0] if finished(runs, "ae-z2") else None
    pca = PCA(2).fit(pca_train)
    x, y = data.test_x[:5000], data.test_y[:5000]
    codes = {
        "VAE": posterior_means(vae, x),
        **({"AE": posterior_means(ae, x)} if ae is not None else {}),
        "PCA": pca.transform(x.flatten(1).double()).float(),
    }
    shape = x.shape[1:]
    normal = torch.distributions.Normal(0.0, 1.0)
    q = normal.icdf(torch.linspace(0.03, 0.97, n))  # the prior's quantiles: equal prior mass per cell
    fig, axes = plt.subplots(2, len(codes), figsize=(4.4 * len(codes), 8.6))
    for col, (name, c) in enumerate(codes.items()):
        if name == "VAE":
            g1, g2, what = q, q, "z at N(0, 1) quantiles 3%..97%"
        else:
            lo, hi = torch.quantile(c, 0.01, dim=0), torch.quantile(c, 0.99, dim=0)
            g1, g2, what = torch.linspace(lo[0], hi[0], n), torch.linspace(lo[1], hi[1], n), "codes' 1%..99% box"
        zz = torch.stack(torch.meshgrid(g1, g2.flip(0), indexing="xy"), -1).reshape(-1, 2)  # (n*n, 2), row = z2
        if name == "PCA":
            images = pca.inverse_transform(zz.double()).clamp(0, 1).float().reshape(-1, *shape)
        else:
            images = (vae if name == "VAE" else ae).decode(zz).mean
        axes[0, col].imshow(image_grid(images, n, min_size=0), cmap="gray", vmin=0, vmax=1)
        axes[0, col].set_title(f"{name}: decoded grid over the {what}", fontsize=9)
        axes[0, col].axis("off")
        ax = axes[1, col]
        points = ax.scatter(c[:, 0], c[:, 1], c=y, cmap="tab10", s=2, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{name}: codes of {x.shape[0]} test digits", fontsize=9)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    fig.colorbar(points, ax=axes[1, :], ticks=range(10), label="digit", shrink=0.8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
