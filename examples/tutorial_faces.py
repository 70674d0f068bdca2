"""Tutorial step 6: faces. A VAE with a Gaussian decoder on Brendan Frey's 1965 face frames.

With two latents the decoded grid is the whole model (Kingma & Welling 2013, figure 4); with four,
sweeping one latent at a time from -2.5 to 2.5 shows what each one learned to control.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from tutorial_common import Sizes, open_run, write_result  # noqa: E402

from vaekit.eval.likelihood import evaluate  # noqa: E402
from vaekit.generate.images import posterior_means, traversal_codes  # noqa: E402
from vaekit.plots import image_grid  # noqa: E402


@torch.no_grad()
def run(
    runs: Path,
    out: Path,
    sizes: Sizes,
    names: tuple[str, ...] = ("frey-z2", "frey-z4"),
    n: int = 12,
    steps: int = 9,
    span: float = 2.5,
) -> dict:
    torch.manual_seed(0)
    result = {}
    fig, axes = plt.subplots(1, len(names), figsize=(6.2 * len(names), 6.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        model, cfg, data = open_run(runs, name)
        r = evaluate(model, data.test_x, k=sizes.nll_k, seed=0)
        means = posterior_means(model, data.test_x)  # (N, D)
        order = means.var(0).argsort(descending=True).tolist()  # most used latent first
        result[name] = {
            "elbo": r["elbo"],
            "nll": r["nll"],
            "kl": r["kl"],
            "active_units": r["active_units"],
            "latent_variance": means.var(0)[order].tolist(),
            "order": order,
        }
        if cfg.model.latent_dim == 2:
            q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
            zz = torch.stack(torch.meshgrid(q, q.flip(0), indexing="xy"), -1).reshape(-1, 2)
            images, per_row = model.decode(zz).mean, n
            title = f"{name}: decoded grid, z1 grows to the right, z2 upward,\nat N(0, 1) quantiles 5%..95%"
        else:
            images = model.decode(traversal_codes(torch.zeros(1, cfg.model.latent_dim), order, steps, span)).mean
            per_row = steps
            title = (
                f"{name}: one latent at a time from −{span} to {span}\n(rows: latents, most used first; the rest at 0)"
            )
        ax.imshow(image_grid(images, per_row, min_size=0), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "faces.png", dpi=110)
    plt.close(fig)
    lines = [
        f"- {name}: test ELBO {r['elbo']:.1f}, NLL {r['nll']:.1f} nats (K={sizes.nll_k}), KL {r['kl']:.1f}, "
        f"active units {r['active_units']}"
        for name, r in result.items()
    ]
    write_result(out, "faces", result, "\n".join(lines))
    return result
