"""Sample quality as a number: the Fréchet distance between real and generated images.

The Fréchet Inception Distance (Heusel et al. 2017) fits a Gaussian to the features of real
images and one to the features of generated images, and measures the Fréchet (2-Wasserstein)
distance between the two Gaussians:

    FD = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

Here the features are the 128 penultimate activations of vaekit's own MNIST or Fashion-MNIST
classifier (vaekit.eval.classifier), not Inception's, so the numbers compare vaekit runs with each
other on these datasets, not with FIDs published for other networks. Lower is better; 0 means
the two feature clouds have the same mean and covariance. The estimate depends on the number of
images (it is biased upwards for small n), so it is always reported with n, and with the distance
between two sets of real images of the same size (training vs test), the floor a perfect model
would reach.
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.errors import VaekitError

CLASSIFIER_FOR = {"mnist": "mnist", "binarized-mnist": "mnist", "fashion-mnist": "fashion-mnist"}


def gaussian_stats(feats: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) features -> (mean (F,), covariance (F, F)), float64, covariance with N - 1."""
    f = feats.detach().double().cpu().numpy() if torch.is_tensor(feats) else np.asarray(feats, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise VaekitError(f"the Fréchet distance needs at least 2 feature vectors (N, F), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)) for two Gaussians N(mu1, C1), N(mu2, C2).

    The trace of the matrix square root comes from a symmetric eigen-decomposition:
    (C1 C2)^(1/2) is similar to (C1^(1/2) C2 C1^(1/2))^(1/2), a symmetric positive semi-definite
    matrix, so Tr (C1 C2)^(1/2) = sum of the square roots of the eigenvalues of
    C1^(1/2) C2 C1^(1/2). Unlike a general `sqrtm` this never returns complex parts for
    covariances that are singular or nearly so (more features than images).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_root))


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative rounding clipped)."""
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def feature_distance(real_feats, fake_feats) -> float:
    """The Fréchet distance between two sets of feature vectors (N, F) and (M, F)."""
    return frechet_distance(*gaussian_stats(real_feats), *gaussian_stats(fake_feats))


def classifier_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) for class probabilities (N, K): the Inception Score with our classifier."""
    p = probs.double()
    p_y = p.mean(0)
    return float(torch.exp(torch.special.xlogy(p, p).sum(1).mean() - torch.special.xlogy(p_y, p_y).sum()))


@torch.no_grad()
def sample_quality(generated: torch.Tensor, real_test: torch.Tensor, real_train: torch.Tensor, classifier) -> dict:
    """The Fréchet distance and classifier score of generated images against real ones (all (N, 1, 28, 28)).

    Returns a JSON-able dict:
      fid                   Fréchet distance, generated vs real test images, in the classifier's features
      fid_real              the same distance between real training and real test images: the floor
      inception_score       exp(E KL(p(y|x) || p(y))) of the generated images with the classifier (at most 10)
      inception_score_real  the same for the real test images
      samples, real_images  how many generated and real test images were compared
      classifier, classifier_test_accuracy   which classifier's features, and its accuracy
    """
    from vaekit.eval.classifier import features

    net = classifier
    f_test = features(real_test, net)
    f_gen = features(generated, net)
    f_train = features(real_train, net)
    info = getattr(net, "info", {})
    return {
        "fid": feature_distance(f_test, f_gen),
        "fid_real": feature_distance(f_test, f_train),
        "inception_score": classifier_score(net.head[-1](f_gen).softmax(1)),
        "inception_score_real": classifier_score(net.head[-1](f_test).softmax(1)),
        "samples": int(generated.shape[0]),
        "real_images": int(real_test.shape[0]),
        "classifier": info.get("dataset", "?") + "-cnn",
        "classifier_test_accuracy": info.get("test_accuracy"),
    }


def measure(
    model,
    data_name: str,
    n: int = 10_000,
    seed: int = 0,
    data_dir=None,
    cache_dir=None,
    device: str | torch.device = "cpu",
    prior=None,
    temperature: float = 1.0,
) -> dict:
    """Draws n samples from a trained model's prior and measures them with `sample_quality`.

    `prior` (a torch Distribution over codes, e.g. a mixture fitted to the training codes) and
    `temperature` are passed on to vaekit.generate.sample, so priors can be compared.

    The real images are the test (and, for the floor, training) images of the classifier's
    dataset in grey levels, also for a binarized-MNIST run (its decoded means are grey).
    A conditional model draws the labels 0, 1, ..., 9 in turn.
    """
    from vaekit.data import load_dataset
    from vaekit.eval.classifier import load_classifier
    from vaekit.generate.images import sample

    if data_name not in CLASSIFIER_FOR:
        raise VaekitError(
            f"sample quality needs a classifier of the data: there are ones for "
            f"{', '.join(sorted(CLASSIFIER_FOR))}, not {data_name!r}"
        )
    if prior is None and not model.has_prior:
        raise VaekitError(
            "this model has no prior to draw samples from (an autoencoder, or a VQ-VAE without "
            "'vaekit train-prior'): its sample quality cannot be measured"
        )
    if n < 2:
        raise VaekitError(f"the Fréchet distance needs at least 2 samples, got {n}")
    dataset = CLASSIFIER_FOR[data_name]
    net = load_classifier(data_dir, device, cache_dir=cache_dir, dataset=dataset)
    data = load_dataset(dataset, data_dir)
    real_test = data.test_x[:n].to(device)
    real_train = data.train_x[: real_test.shape[0]].to(device)
    num_labels = model.num_labels
    labels = torch.arange(n, device=device) % num_labels if num_labels else None
    torch.manual_seed(seed)
    generated = torch.cat(
        [
            sample(model, min(1000, n - i), prior, None if labels is None else labels[i : i + 1000], temperature)
            for i in range(0, n, 1000)
        ]
    )
    return sample_quality(generated, real_test, real_train, net)
