"""Summaries of a trained model's latent space: how much each latent is used, and 2-D views of the codes.

active_units(means)         latents whose posterior mean varies across the data (Burda et al. 2015)
latent_activity(model, x)   per-latent KL(q(z_d|x) || p(z_d)) averaged over images, in nats, or
                            the variance of E[z_d|x] for models without a Gaussian posterior
project_2d(codes, method)   codes (N, D) -> (N, 2) with axis names: the plane itself when D = 2,
                            else PCA (vaekit.classical.PCA) or t-SNE (scikit-learn)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Normal, kl_divergence

from vaekit.errors import VaekitError
from vaekit.nn.distributions import peel


@dataclass
class Activity:
    """How much each latent dimension is used: `values` (D,), named `measure` in `unit`."""

    values: torch.Tensor  # (D,)
    measure: str  # "KL" or "var"
    unit: str  # " nats" or ""

    def order(self) -> list[int]:
        """Latent indices, most active first."""
        return self.values.argsort(descending=True).tolist()


@torch.no_grad()
def latent_activity(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> Activity:
    """Per-latent use over images x (N, C, H, W): mean KL per dimension, or Var(E[z|x]) without one.

    For a Gaussian q(z|x) and a Gaussian prior the KL splits over dimensions and
    KL_d = E_x KL(q(z_d|x) || p(z_d)) sums to the model's KL term; a latent with KL_d ~ 0 is
    ignored by the decoder (posterior collapse). Deterministic codes (AE, WAE) have no KL: there
    the variance of the code across images says whether a latent carries anything.
    """
    model.eval()
    labels = y if model.num_labels else None
    kls, means = [], []
    for i in range(0, x.shape[0], batch_size):
        yb = None if labels is None else labels[i : i + batch_size]
        q = model.encode(x[i : i + batch_size], yb)
        prior = _gaussian_prior(model, yb)  # a cvae's learned p(z|y): batch (B,)
        base = peel(q)
        means.append(q.mean)  # (B, D)
        if prior is not None and isinstance(base, Normal):
            kls.append(kl_divergence(base, prior).double().sum(0))  # (D,)
    if kls:
        return Activity(torch.stack(kls).sum(0).float().cpu() / x.shape[0], "KL", " nats")
    return Activity(torch.cat(means).double().var(dim=0).float().cpu(), "var", "")


def active_units(posterior_means: torch.Tensor, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across the data: Cov_x(E_q[z_u]) > threshold."""
    return int((posterior_means.double().var(dim=0) > threshold).sum())


def _gaussian_prior(model, y: torch.Tensor | None = None) -> Normal | None:
    if not model.has_prior:
        return None
    prior = model.prior(y)
    base = peel(prior)
    return base if isinstance(base, Normal) else None


def project_2d(codes: torch.Tensor, method: str = "pca", seed: int = 0) -> tuple[torch.Tensor, tuple[str, str], str]:
    """Codes (N, D) -> (points (N, 2), axis names, a phrase for the title).

    D = 2 is shown as it is (axes z1, z2). Otherwise 'pca' projects on the first two principal
    components (axes name the share of variance each explains) and 'tsne' embeds with t-SNE
    (perplexity 30; its axes have no units, only neighbourhoods mean something).
    """
    codes = codes.detach().double().cpu()
    n, d = codes.shape
    if d == 1:
        raise VaekitError("a 1-D code has no 2-D scatter plot: train with --latent-dim 2 or more")
    if d == 2:
        return codes.float(), ("z1", "z2"), "the 2-D code itself"
    if method == "pca":
        from vaekit.classical import PCA

        pca = PCA(n_components=2).fit(codes)
        share = torch.as_tensor(pca.explained_variance_ratio_).tolist()
        names = tuple(f"PC {i + 1} ({s:.0%} of the variance)" for i, s in enumerate(share))
        return torch.as_tensor(pca.transform(codes)).float(), names, f"first 2 principal components of {d}-D codes"
    if method == "tsne":
        from sklearn.manifold import TSNE

        if n < 5:
            raise VaekitError(f"t-SNE needs at least 5 codes, got {n}")
        embedded = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed)
        return (
            torch.as_tensor(embedded.fit_transform(codes.numpy())).float(),
            ("t-SNE 1", "t-SNE 2"),
            f"t-SNE of {d}-D codes",
        )
    raise VaekitError(f"unknown projection {method!r}: choose pca or tsne")
