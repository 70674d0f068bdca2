"""How much each latent is used, and codes drawn in two dimensions, for the report."""

from __future__ import annotations

import torch

ACTIVE = 0.01  # a latent whose average KL (nats) or code variance is below this carries (almost) nothing


def latent_use(model, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, str, str]:
    """(values (D,), measure, unit): the average KL per latent for a Gaussian q(z|x), else the
    variance of each latent's code E[z_d|x] over the images."""
    from vaekit.evaluate import kl_per_dimension
    from vaekit.generate import posterior_means

    kl = kl_per_dimension(model, x, y)
    if kl is not None:
        return kl.float().cpu(), "KL", " nats"
    return posterior_means(model, x, y).double().var(dim=0).float().cpu(), "var", ""


def project_2d(codes: torch.Tensor, method: str, seed: int = 0) -> tuple[torch.Tensor, str]:
    """Codes (N, D), D > 2 -> (points (N, 2), a phrase saying how): 'pca' (vaekit.classical.PCA,
    the axes' shares of the variance) or 'tsne' (scikit-learn; its axes have no units)."""
    codes = codes.detach().double().cpu()
    n, d = codes.shape
    if method == "pca":
        from vaekit.classical import PCA

        pca = PCA(n_components=2).fit(codes)
        share = [f"{s:.0%}" for s in torch.as_tensor(pca.explained_variance_ratio_).tolist()]
        how = f"first 2 principal components of {d}-D codes (x: {share[0]}, y: {share[1]} of the variance)"
        return torch.as_tensor(pca.transform(codes)).float(), how
    from sklearn.manifold import TSNE

    embedded = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed)
    return torch.as_tensor(embedded.fit_transform(codes.numpy())).float(), f"t-SNE of {d}-D codes"
