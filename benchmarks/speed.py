"""Training and evaluation speed of vaekit against a plain PyTorch loop, side by side in one run.

The model is issue 5's reference: the 784-512-16 VAE with ReLU and a Bernoulli likelihood on
MNIST, batch 100, Adam 1e-3. Every way of training runs `--epochs` whole epochs from the same
seed, one way after the other; printed are the median seconds per epoch after the first (the
first holds CUDA-graph capture and compilation, printed apart), the test loss (negative ELBO,
nats, 10,000 test images) after the last epoch, and each way's speed-up over the plain loop.

    ways     plain      a hand-written loop over the same device-resident tensors
             eager      vaekit's Trainer, each step run op by op (--no-cuda-graph)
             graph      vaekit's default on a GPU: the whole step replayed from one CUDA graph
             compiled   graph + torch.compile of the objective (max-autotune)
    (on a CPU: plain, vaekit, and vaekit with torch.compile)

Evaluation: the K=5000 importance-sampled NLL over `--eval-images` test images, batched, in
float32, tf32, bf16 and the float64 reference (the figure's change against float64 is printed),
and a loop over images as pythae's `get_nll` does it (extrapolated from `--loop-images`).
`--family` adds one row of seconds per epoch for every model of the registry.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/speed.py [--device cpu|cuda] [--epochs 6] [--family]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time

import torch
from torch import nn
from torch.nn import functional as F

from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.eval.likelihood import evaluate
from vaekit.models import MODELS
from vaekit.train.trainer import Trainer


class PlainVAE(nn.Module):
    """The same network written the way a tutorial would: no distributions, hand-written losses."""

    def __init__(self, hidden: int = 512, latent: int = 16):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        return self.per_example(x).mean()

    def per_example(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return recon + kl


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


def _summary(name: str, times: list[float], test_loss: float, base: float | None = None) -> str:
    steady = statistics.median(times[1:]) if len(times) > 1 else times[0]
    ratio = f"  x{base / steady:5.2f} vs plain" if base else ""
    return f"{name:<9} first epoch {times[0]:7.3f} s  then {steady:7.3f} s/epoch  test loss {test_loss:7.2f}{ratio}"


def train_plain(data, device, epochs: int, seed: int = 0) -> tuple[list[float], float]:
    torch.manual_seed(seed)
    model = PlainVAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = data.train_x.to(device).flatten(1)
    times = [plain_epoch(model, opt, x, 100) for _ in range(epochs)]
    with torch.no_grad():
        test = data.test_x.to(device).flatten(1)
        loss = float(torch.cat([model.per_example(test[i : i + 1000]) for i in range(0, test.shape[0], 1000)]).mean())
    return times, loss


def train_vaekit(data, device, epochs: int, model: str = "vae", **train) -> tuple[list[float], float, Trainer]:
    cfg = RunConfig(
        model=ModelConfig(name=model, hidden=(512,), latent_dim=16, likelihood="bernoulli"),
        train=TrainConfig(epochs=epochs, batch_size=100, lr=1e-3, device=str(device), log_every=10**9, **train),
    )
    if model == "vqvae":  # a code grid needs the convolutional network
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, arch="conv", latent_dim=16))
    trainer = Trainer(cfg, data, tempfile.mkdtemp(prefix="vaekit-speed-"), show_progress=False)
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        trainer.train_epoch(epoch, None)
        _sync(device)
        times.append(time.perf_counter() - start)
    test = data.test_x.to(device)
    with torch.no_grad():
        trainer.model.eval()
        losses = [
            trainer.objective(
                trainer.model,
                test[i : i + 1000],
                data.test_y[i : i + 1000].to(device),
                torch.tensor(float(epochs), device=device),
            ).loss
            for i in range(0, test.shape[0], 1000)
        ]
    return times, float(torch.stack(losses).mean()), trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--ways", default=None, help="comma-separated subset of the ways to train (default: all)")
    ap.add_argument(
        "--eval-images", type=int, default=None, help="test images for the NLL (default: all on a GPU, 1000 on a CPU)"
    )
    ap.add_argument(
        "--loop-images",
        type=int,
        default=None,
        help="images for the per-image loop (default: 100 on a GPU, 20 on a CPU)",
    )
    ap.add_argument("-k", type=int, default=5000)
    ap.add_argument("--family", action="store_true", help="also time every model of the registry (graph on a GPU)")
    args = ap.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    data = load_dataset("mnist")
    print(
        f"device={torch.cuda.get_device_name(device) if gpu else 'cpu'} torch={torch.__version__} "
        f"threads={torch.get_num_threads()} train_images={data.train_x.shape[0]} epochs={args.epochs}"
    )

    ways = (
        {"plain": None, "eager": {"cuda_graph": False}, "graph": {}, "compiled": {"compile": True}}
        if gpu
        else {"plain": None, "vaekit": {}, "compiled": {"compile": True}}
    )
    chosen = args.ways.split(",") if args.ways else list(ways)
    base, trainer = None, None
    for name in chosen:
        if ways[name] is None:
            times, loss = train_plain(data, device, args.epochs)
            base = statistics.median(times[1:]) if len(times) > 1 else times[0]
        else:
            times, loss, t = train_vaekit(data, device, args.epochs, **ways[name])
            trainer = trainer if name == "compiled" else t  # evaluate a model without compiled wrappers
        print(_summary(name, times, loss, base if name != "plain" else None), flush=True)

    if args.family:
        for name in sorted(MODELS):
            times, loss, _ = train_vaekit(data, device, min(args.epochs, 3), model=name)
            print(_summary(f"[{name}]", times, loss, base), flush=True)

    if trainer is None:
        return
    model = trainer.model.eval()
    n = args.eval_images or (data.test_x.shape[0] if gpu else 1000)
    x = data.test_x[:n].to(device)
    ref = None
    for prec in ("float64", "float32", "tf32", "bf16"):
        evaluate(model, x[:100], k=100, precision=prec)  # warm-up: kernels, cuBLAS handles
        _sync(device)
        start = time.perf_counter()
        result = evaluate(model, x, k=args.k, precision=prec)
        _sync(device)
        seconds = time.perf_counter() - start
        ref = ref if ref is not None else result["nll"]
        print(
            f"K={args.k} NLL over {n} test images, batched, {prec:<8} {seconds:8.3f} s  "
            f"({seconds / n * 1000:.3f} s per 1000)  "
            f"nll {result['nll']:.4f}  vs float64 {result['nll'] - ref:+.4f}",
            flush=True,
        )
    loop_n = args.loop_images or (100 if gpu else 20)
    start = time.perf_counter()
    per_image_nll(model, x[:loop_n], args.k)
    _sync(device)
    looped = (time.perf_counter() - start) / loop_n * 1000
    print(f"K={args.k} NLL, per-image loop: {looped:.3f} s per 1000 images (extrapolated from {loop_n})")


if __name__ == "__main__":
    main()
