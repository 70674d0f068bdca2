"""Tutorial steps 2 and 3: why the encoder (naive Monte Carlo against importance sampling) and
what the encoder costs (the ELBO gap, KL(q(z|x) || p(z|x)), for a VAE and an IWAE)."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402
from tutorial_common import Sizes, markdown_table, open_run, write_result  # noqa: E402

from vaekit.eval.naive_mc import prior_sampling_evidence  # noqa: E402
from vaekit.eval.posterior_gap import posterior_sampling_evidence  # noqa: E402


def measure(model, x: torch.Tensor, sizes: Sizes, prior_ks: tuple[int, ...] = ()) -> dict:
    """Per-image estimates from q(z|x) (and from p(z)) for images x, with their wall-clock."""
    start = time.time()
    with tqdm(total=sizes.q_repeats, desc=f"q, K={sizes.q_ks[-1]}", unit="repeat", leave=False) as bar:
        q = posterior_sampling_evidence(model, x, sizes.q_ks, sizes.q_repeats, progress=bar)
    q["seconds"] = time.time() - start
    if not prior_ks:
        return {"q": q}
    start = time.time()
    with tqdm(
        total=sizes.prior_repeats * prior_ks[-1], desc="p(z) codes", unit="code", unit_scale=True, leave=False
    ) as bar:
        prior = prior_sampling_evidence(model, x, prior_ks, sizes.prior_repeats, progress=bar)
    return {"q": q, "prior": prior, "prior_ks": prior_ks, "prior_seconds": time.time() - start}


def convergence_rows(m: dict, sizes: Sizes) -> tuple[list[list], dict]:
    """Rows K | prior: mean ± spread, error | q: mean ± spread, error; plus the within-a-nat summary."""
    ref = m["q"]["log_px"]  # (B,)
    table: dict[str, dict[int, dict]] = {}
    for kind, ks, est in (("prior", m["prior_ks"], m["prior"]), ("q", sizes.q_ks, m["q"]["estimates"])):
        per_repeat = est.mean(-1)  # (R, len(ks)): the average over images, per repeat
        error = (est - ref).mean(0)  # (len(ks), B): per image, averaged over repeats
        table[kind] = {
            k: {
                "mean": float(per_repeat[:, j].mean()),
                "spread": float(per_repeat[:, j].std()),
                "error": float(error[j].mean()),
                "within_1_nat": float((error[j].abs() < 1).double().mean()),
            }
            for j, k in enumerate(ks)
        }
    rows = []
    for k in sorted(set(m["prior_ks"]) | set(sizes.q_ks)):
        cells = [f"{k:,}"]
        for kind in ("prior", "q"):
            c = table[kind].get(k)
            cells += [
                "" if c is None else f"{c['mean']:.2f} ± {c['spread']:.2f}",
                "" if c is None else f"{c['error']:+.2f}",
                "" if c is None else f"{c['within_1_nat']:.0%}",
            ]
        rows.append(cells)
    kl_pp = m["q"]["kl_posterior_prior"]
    reached = [k for k, c in table["prior"].items() if abs(c["error"]) < 1]
    summary = {
        "reference": float(ref.mean()),
        "elbo": float(m["q"]["elbo"].mean()),
        "prior_k_within_1_nat": min(reached) if reached else None,
        "kl_posterior_prior_median": float(kl_pp.median()),
        "kl_q_prior_mean": float(m["q"]["kl_prior"].mean()),
        "prior_draws_needed_median": float(torch.exp(kl_pp.median())),
        "table": table,
    }
    return rows, summary


def plot_convergence(path: Path, measured: dict[str, dict], sizes: Sizes) -> None:
    fig, axes = plt.subplots(1, len(measured), figsize=(5.2 * len(measured), 4.0), squeeze=False)
    for ax, (name, m) in zip(axes[0], measured.items()):
        ref = float(m["q"]["log_px"].mean())
        for kind, ks, est, colour in (
            ("codes from the prior p(z) (naive Monte Carlo)", m["prior_ks"], m["prior"], "C3"),
            ("codes from the encoder q(z|x) (importance sampling)", sizes.q_ks, m["q"]["estimates"], "C0"),
        ):
            per_repeat = est.mean(-1)  # (R, len(ks))
            ax.errorbar(ks, per_repeat.mean(0), yerr=per_repeat.std(0), marker="o", capsize=3, color=colour, label=kind)
        ax.axhline(
            ref, color="k", ls="--", lw=1, label=f"log p(x), {sizes.q_repeats}x{sizes.q_ks[-1]} q samples: {ref:.1f}"
        )
        ax.axhline(float(m["q"]["elbo"].mean()), color="C2", ls=":", lw=1.5, label="ELBO")
        ax.set_xscale("log")
        ax.set_xlabel("K, samples per image")
        ax.set_ylabel("estimate of log p(x), nats (mean over images)")
        ax.set_title(f"{name}: {m['q']['log_px'].shape[0]} test images")
        ax.set_ylim(ref - 3 * max(5.0, ref - float(m["q"]["elbo"].mean())), ref + 3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gaps(path: Path, gaps: dict[str, torch.Tensor]) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    top = max(float(g.quantile(0.99)) for g in gaps.values())
    bins = torch.linspace(min(0.0, min(float(g.min()) for g in gaps.values())), top, 40).tolist()
    for (name, gap), colour in zip(gaps.items(), ("C0", "C1")):
        ax.hist(gap.numpy(), bins=bins, alpha=0.55, color=colour, label=f"{name}: mean {float(gap.mean()):.2f} nats")
        ax.axvline(float(gap.mean()), color=colour, lw=2)
    ax.set_xlabel("log p(x) − ELBO  =  KL(q(z|x) ‖ p(z|x)), nats per image")
    ax.set_ylabel("test images")
    ax.set_title("How far the encoder is from the true posterior")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(runs: Path, out: Path, sizes: Sizes, studied: int = 16) -> dict:
    torch.manual_seed(0)
    measured, results, tables = {}, {}, []
    for name in (f"vae-z{studied}", "vae-z2"):
        model, _, data = open_run(runs, name)
        prior_ks = tuple(k for k in sizes.prior_ks if name != "vae-z2" or k <= sizes.prior_k_max_2d)
        m = measured[name] = measure(model, data.test_x[: sizes.images], sizes, prior_ks)
        rows, summary = convergence_rows(m, sizes)
        summary["seconds"] = {"q": m["q"]["seconds"], "prior": m["prior_seconds"]}
        results[name] = summary
        header = [
            "K",
            "prior: mean ± spread",
            "error",
            "images within 1 nat",
            "q: mean ± spread",
            "error",
            "images within 1 nat",
        ]
        found = summary["prior_k_within_1_nat"]
        tables.append(
            f"**{name}**, {sizes.images} test images: log p(x) ≈ {summary['reference']:.2f}, "
            f"ELBO {summary['elbo']:.2f}; prior samples to come within a nat on average: "
            f"{'more than ' + format(prior_ks[-1], ',') if found is None else format(found, ',')}; "
            f"median KL(p(z|x) ‖ p(z)) = {summary['kl_posterior_prior_median']:.1f} nats, "
            f"e^KL = {summary['prior_draws_needed_median']:.3g}\n\n" + markdown_table(header, rows)
        )
    plot_convergence(out / "evidence-convergence.png", measured, sizes)
    gaps, gap_rows = {}, []
    for name in (f"vae-z{studied}", f"iwae-z{studied}"):
        if name in measured:
            q = measured[name]["q"]
        else:
            model, _, data = open_run(runs, name)
            q = measure(model, data.test_x[: sizes.images], sizes)["q"]
        gaps[name] = q["gap"]
        five = sizes.q_ks.index(5) if 5 in sizes.q_ks else None
        bound5 = q["estimates"][:, five].mean(0) if five is not None else None
        results.setdefault(name, {})["gap"] = {
            "mean": float(q["gap"].mean()),
            "median": float(q["gap"].median()),
            "log_px": float(q["log_px"].mean()),
            "elbo": float(q["elbo"].mean()),
        }
        gap_rows.append(
            [
                name,
                f"{float(q['log_px'].mean()):.2f}",
                f"{float(q['elbo'].mean()):.2f}",
                f"{float(q['gap'].mean()):.2f}",
                f"{float(q['gap'].median()):.2f}",
                "" if bound5 is None else f"{float((q['log_px'] - bound5).mean()):.2f}",
                f"{float(q['kl_prior'].mean()):.2f}",
            ]
        )
    plot_gaps(out / "elbo-gap.png", gaps)
    tables.append(
        markdown_table(
            ["model", "log p(x)", "ELBO", "gap: mean", "gap: median", "log p(x) − 5-sample bound", "KL(q ‖ p(z))"],
            gap_rows,
        )
    )
    write_result(out, "evidence", results, "\n\n".join(tables))
    return {"measured": measured, "results": results}
