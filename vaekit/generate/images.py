"""Using a trained model: draw samples, reconstruct, walk the latent space.

Pictures show the decoder's mean E[x|z] (Bernoulli probabilities or Gaussian means), the usual
convention: a single Bernoulli draw of every pixel looks like noise and says less.
"""

from __future__ import annotations

import torch
from torch.distributions import Distribution

from vaekit.errors import VaekitError
from vaekit.nn.distributions import tempered


@torch.no_grad()
def sample(
    model, n: int, prior: Distribution | None = None, labels: torch.Tensor | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """n images (n, C, H, W) decoded from z ~ prior (the model's own p(z) unless given).

    temperature T < 1 trades variety for typicality: a Gaussian prior N(mu, sigma^2) becomes
    N(mu, (T sigma)^2); a VQ-VAE's code prior draws each code from softmax(logits / T).
    """
    if n < 1:
        raise VaekitError(f"-n must be at least 1, got {n}")
    if not temperature > 0:
        raise VaekitError(f"--temperature must be positive, got {temperature}")
    if temperature != 1.0 and prior is not None:
        raise VaekitError("--temperature applies to the model's own prior, not to --prior gmm:K")
    if model.num_labels and labels is None:
        raise VaekitError("this model is conditional: pass --label L to say which class to draw")
    if labels is not None and not model.num_labels:
        raise VaekitError("--label works only for a conditional model (vaekit train cvae)")
    if labels is not None and labels.shape != (n,):
        raise VaekitError(f"pass one label per sample: {n} samples, labels of shape {tuple(labels.shape)}")
    prior = prior if prior is not None else model.prior(labels)  # a learned label prior: p(z|y), batch (n,)
    if temperature != 1.0:
        prior = tempered(prior, temperature)
    z = prior.sample((n,)) if prior.batch_shape == () else prior.sample()  # (n, D): one draw per label of p(z|y)
    z = z.to(next(model.parameters()).device)
    return model.decode(z, labels).mean


@torch.no_grad()
def posterior_means(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """E_q[z|x] of images x (N, C, H, W), in blocks -> (N, D); labels y only for a conditional model."""
    model.eval()
    labels = y if model.num_labels else None
    return torch.cat(
        [
            model.encode(x[i : i + batch_size], None if labels is None else labels[i : i + batch_size]).mean
            for i in range(0, x.shape[0], batch_size)
        ]
    )


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Mean reconstructions of x through the posterior mean: decode(E[z|x])."""
    return model(x, y)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (B, D) at fractions t (T,) -> (B, T, D).

    Under a N(0, I) prior, typical codes lie near a sphere of radius sqrt(D); the straight line
    between two of them passes through the low-norm interior the decoder rarely saw (White 2016).
    """
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((a_n * b_n).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None]  # (B, 1)
    t = t[None, :]  # (1, T)
    wa = torch.sin((1 - t) * omega) / torch.sin(omega)
    wb = torch.sin(t * omega) / torch.sin(omega)
    return wa[..., None] * a[:, None] + wb[..., None] * b[:, None]


@torch.no_grad()
def interpolate(
    model,
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    steps: int,
    mode: str = "linear",
    y_a: torch.Tensor | None = None,
    y_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Decoded walks between the codes of x_a and x_b (B images each) -> (B * steps, C, H, W).

    A conditional model needs the labels y_a, y_b (B,): each end is encoded with its own label and
    the whole path is decoded with A's label, held fixed, so the walk changes the style z and not
    the class. With pairs of one label (`pairs_of_one_label`) both ends are then reconstructions.
    """
    if steps < 2:
        raise VaekitError(f"--steps must be at least 2, got {steps}")
    if model.num_labels and (y_a is None or y_b is None):
        raise VaekitError("interpolation of a conditional model needs the labels of both images (y_a, y_b)")
    if not model.num_labels:
        y_a = y_b = None
    za, zb = model.encode(x_a, y_a).mean, model.encode(x_b, y_b).mean  # (B, D)
    t = torch.linspace(0, 1, steps, device=za.device)
    if mode == "linear":
        path = za[:, None] + t[None, :, None] * (zb - za)[:, None]  # (B, T, D)
    elif mode == "slerp":
        path = slerp(za, zb, t)
    else:
        raise VaekitError(f"unknown interpolation {mode!r}: choose linear or slerp")
    labels = None if y_a is None else y_a.repeat_interleave(steps)  # (B * T,): A's label along its path
    return model.decode(path.flatten(0, 1), labels).mean


def pairs_of_one_label(labels: torch.Tensor, n: int, label: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (a, b) of up to n pairs of test images that share a label, in test order: the first
    image of each label with the next of the same label, taking labels in turn (only `label` when given)."""
    labels = labels.cpu()
    by_label = {int(k): (labels == k).nonzero().flatten().tolist() for k in labels.unique() if int(k) >= 0}
    if label is not None:
        by_label = {label: by_label.get(label, [])}
    pools = {k: [idx[i : i + 2] for i in range(0, len(idx) - 1, 2)] for k, idx in by_label.items()}
    chosen: list[list[int]] = []
    while len(chosen) < n and any(pools.values()):
        for k in sorted(pools):
            if pools[k] and len(chosen) < n:
                chosen.append(pools[k].pop(0))
    if not chosen:
        which = f"label {label}" if label is not None else "any label"
        raise VaekitError(f"the test split has no two images of {which} to walk between")
    pairs = torch.tensor(chosen)
    return pairs[:, 0], pairs[:, 1]


@torch.no_grad()
def traverse(
    model, x: torch.Tensor, dims: list[int], steps: int = 9, span: float = 3.0, y: torch.Tensor | None = None
) -> torch.Tensor:
    """Decoded codes of one image with one latent at a time swept over [-span, span] -> (len(dims) * steps, C, H, W).

    Under a N(0, I) prior, ±3 covers nearly all the prior's mass in each coordinate; a latent the
    model uses changes the image along the row, an unused one leaves the row constant. A
    conditional model needs the image's label y (its first entry is used): the image is encoded
    with it and every cell decoded with it, so the rows show what z does within one class.
    """
    if model.num_labels and y is None:
        raise VaekitError("traversals of a conditional model need the image's label (y)")
    label = y[:1] if model.num_labels else None
    codes = traversal_codes(model.encode(x[:1], label).mean, dims, steps, span)
    return model.decode(codes, None if label is None else label.expand(codes.shape[0])).mean


def traversal_codes(base: torch.Tensor, dims: list[int], steps: int, span: float) -> torch.Tensor:
    """(1, D) code -> (len(dims) * steps, D): row r sweeps latent dims[r] over [-span, span], the rest stay."""
    values = torch.linspace(-span, span, steps, device=base.device)
    codes = base.repeat(len(dims) * steps, 1)
    for row, dim in enumerate(dims):
        codes[row * steps : (row + 1) * steps, dim] = values
    return codes
