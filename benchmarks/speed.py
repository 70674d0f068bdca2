"""Training and evaluation speed of vaekit against a plain PyTorch loop, side by side in one run.

The model is issue 5's reference: the 784-512-16 VAE with ReLU and a Bernoulli likelihood on
MNIST, batch 100, Adam 1e-3. Each way of training runs whole epochs, alternating, and the median
seconds per epoch are printed with their ratio. Evaluation compares vaekit's batched K-sample
importance-sampled NLL with a loop over images (the way pythae's get_nll works).

    VAEKIT_DATA_DIR=../shared/data python benchmarks/speed.py [--device cpu|cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.evaluate import evaluate
from vaekit.train.trainer import Trainer


class PlainVAE(nn.Module):
    """The same network written the way a tutorial would: no distributions, hand-written losses."""

    def __init__(self, hidden: int = 512, latent: int = 16):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (recon + kl).mean()


def plain_epoch(model, opt, x: torch.Tensor, batch: int) -> float:
    start = time.perf_counter()
    perm = torch.randperm(x.shape[0], device=x.device)
    for i in range(x.shape[0] // batch):
        loss = model.loss(x[perm[i * batch : (i + 1) * batch]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(x.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def per_image_nll(model, x: torch.Tensor, k: int) -> float:
    """pythae-style: one image at a time, its K samples in one batch."""
    total = 0.0
    for image in x:
        q = model.encode(image[None])
        z = q.sample((k,))  # (K, 1, D)
        log_w = model.decode(z).log_prob(image[None]) + model.prior().log_prob(z) - q.log_prob(z)
        total += -(torch.logsumexp(log_w, 0) - math.log(k)).item()
    return total / x.shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eval-images", type=int, default=1000)
    ap.add_argument("--loop-images", type=int, default=20, help="images for the per-image loop (it is slow)")
    ap.add_argument("-k", type=int, default=5000)
    args = ap.parse_args()
    device = torch.device(args.device)
    data = load_dataset("mnist")
    cfg = RunConfig(model=ModelConfig(hidden=(512,), latent_dim=16, likelihood="bernoulli"),
                    train=TrainConfig(epochs=args.repeats, batch_size=100, lr=1e-3, device=args.device, log_every=10**9))
    import tempfile

    trainer = Trainer(cfg, data, tempfile.mkdtemp(), show_progress=False)
    plain = PlainVAE().to(device)
    opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    x_flat = data.train_x.to(device).flatten(1)
    ours, theirs = [], []
    for epoch in range(args.repeats):
        start = time.perf_counter()
        trainer.train_epoch(epoch, None)
        _sync(device)
        ours.append(time.perf_counter() - start)
        theirs.append(plain_epoch(plain, opt, x_flat, 100))
    v, p = statistics.median(ours), statistics.median(theirs)
    print(f"device={device} threads={torch.get_num_threads()} train_images={x_flat.shape[0]}")
    print(f"train s/epoch: vaekit {v:.3f}  plain loop {p:.3f}  ratio plain/vaekit {p / v:.2f}")

    model = trainer.model.eval()
    x = data.test_x[: args.eval_images].to(device)
    start = time.perf_counter()
    result = evaluate(model, x, k=args.k)
    _sync(device)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    looped_nll = per_image_nll(model, x[: args.loop_images], args.k)
    looped = (time.perf_counter() - start) / args.loop_images * args.eval_images
    print(f"K={args.k} NLL over {args.eval_images} test images: batched {batched:.2f} s (nll {result['nll']:.2f}), "
          f"per-image loop {looped:.2f} s (extrapolated from {args.loop_images}; nll of those {looped_nll:.2f}); "
          f"ratio {looped / batched:.1f}")


if __name__ == "__main__":
    main()
