"""The VAE family's pieces for the registry (`vaekit.models.registry.MODELS`): shared networks, other objectives.

    beta-vae   the VAE with weight beta on the KL (Higgins et al. 2017), or with a KL capacity
               raised over training (Burgess et al. 2018) when capacity_max > 0
    cvae       the conditional VAE (Sohn et al. 2015): encoder and decoder see the one-hot label
    iwae       the VAE's networks trained on the k-sample importance-weighted bound (Burda et al. 2015)
    wae        a deterministic autoencoder whose codes are pulled onto N(0, I) by an MMD penalty
               (Tolstikhin et al. 2017)

VAE, beta-VAE, CVAE and IWAE share `vaekit.models.vae.VAE`; the AE and WAE share
`vaekit.models.ae.Autoencoder`. The math lives with each objective in `vaekit.objectives`.
"""

from __future__ import annotations

from vaekit.errors import VaekitError
from vaekit.models.vae import build_vae
from vaekit.objectives import ELBO, IWAE, CapacityELBO


def beta_vae_objective(
    beta: float = 4.0,
    warmup_epochs: float = 0.0,
    capacity_max: float = 0.0,
    capacity_epochs: float = 20.0,
    gamma: float = 1000.0,
    cycle_epochs: float = 0.0,
    free_bits: float = 0.0,
):
    """ELBO with weight beta on the KL; with capacity_max > 0 the capacity objective instead
    (loss = recon + gamma * |KL - C(t)|, C rising to capacity_max nats over capacity_epochs; beta unused)."""
    if capacity_max < 0 or gamma < 0:
        raise VaekitError(f"--set capacity_max and gamma must be >= 0, got {capacity_max} and {gamma}")
    if capacity_max > 0:
        return CapacityELBO(capacity_max, capacity_epochs, gamma)
    return ELBO(beta, warmup_epochs, cycle_epochs, free_bits)


def build_cvae(cfg, image_shape, num_classes: int, *, label_layers: str = "all", prior: str = "learned"):
    """The VAE with the one-hot label fed to encoder and decoder; needs a labelled dataset.

    prior: 'learned' p(z|y) = N(mu_y, sigma_y^2) per class, or 'standard' N(0, I) for every label.
    """
    if num_classes < 1:
        raise VaekitError(
            "cvae needs a dataset with class labels (digits, mnist, fashion-mnist); "
            "this one has none: train vae instead"
        )
    if label_layers not in ("input", "all"):
        raise VaekitError(f"--set label_layers must be 'input' or 'all', got {label_layers!r}")
    if prior not in ("learned", "standard"):
        raise VaekitError(f"--set prior must be 'learned' or 'standard', got {prior!r}")
    every_layer, learned = label_layers == "all", prior == "learned"
    return build_vae(
        cfg, image_shape, num_classes, conditional=True, label_every_layer=every_layer, label_prior=learned
    )


def iwae_objective(k: int = 5, late_k: int = 0, late_from: float = 0.75):
    """The k-sample bound; late_k > 0 trains on late_k samples from `late_from` of the run on."""
    if k < 1:
        raise VaekitError(f"--set k must be at least 1 (importance samples), got {k}")
    if late_k < 0 or not 0.0 <= late_from <= 1.0:
        raise VaekitError(
            f"--set late_k must be >= 0 (0: k throughout) and late_from in [0, 1] (the share of the run "
            f"trained at k), got late_k={late_k}, late_from={late_from}"
        )
    return IWAE(k, late_k, late_from)
