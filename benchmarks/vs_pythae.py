"""vaekit against pythae 0.1.2 and a plain PyTorch loop: the same VAE trained three ways in one run.

Issue 5's reference: MNIST (59,000 training images, grey levels in [0, 1]), the 784-512-16 VAE
with ReLU and a Bernoulli likelihood, batch 100, Adam 1e-3, no schedule.

    pythae   pythae.models.VAE (reconstruction_loss="bce") with a 784-512-16 MLP encoder and a
             16-512-784 MLP decoder ending in a sigmoid, trained by pythae's TrainingPipeline
             (BaseTrainer: a DataLoader over its BaseDataset, vaekit's 1,000 validation images
             as eval_data, its progress bars sent to /dev/null unless --show-pythae)
    plain    benchmarks/speed.py's PlainVAE and plain_epoch: a hand-written loop over the
             training images kept on the device
    vaekit   vaekit.train.Trainer(...).train_epoch, ModelConfig(hidden=(512,), latent_dim=16,
             likelihood="bernoulli")

The epochs alternate: pythae runs its own loop, and a callback at the end of each of its epochs
runs one plain epoch and one vaekit epoch. pythae's seconds per epoch are timed from its
epoch's start to the start of its eval pass (training only, as for the other two); its whole
epoch, with the eval pass and its copy of the best model, is printed beside. Printed: each
way's seconds per epoch (the median over epochs 2..N when N >= 3, the first apart), the test
loss (negative ELBO, nats per image, one sample, all 10,000 test images) after the last epoch,
and the ratios pythae/vaekit and plain/vaekit (above 1: vaekit is faster).

Then the K=5000 importance-sampled NLL on the first --nll-images test images, in --nll-rounds
chunks taken in turn: pythae's `model.get_nll(x, n_samples=5000, batch_size=100)` (a Python
loop over images, batch_size samples per forward pass, as pythae ships it: autograd left on) on
pythae's model, against `vaekit.eval.likelihood.evaluate(model, x, k=5000)` (batched over images and
samples) on vaekit's.

    bash benchmarks/pythae-env.sh     # once: .bench-venv/ with torch 2.13.0, pythae 0.1.2, vaekit
    VAEKIT_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \\
        .bench-venv/bin/python benchmarks/vs_pythae.py --device cpu [--epochs 6] [--threads 1]

On the GPU machine, see benchmarks/fetch-pythae-wheels.sh.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/speed.py, also when run as -m
from speed import PlainVAE, plain_epoch  # noqa: E402  (the reference loop, not a copy)

from vaekit.config import ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vaekit.data import load_dataset  # noqa: E402
from vaekit.eval.likelihood import evaluate  # noqa: E402
from vaekit.train.trainer import Trainer  # noqa: E402

try:
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback
except ImportError as e:  # pragma: no cover - the message is the point
    sys.exit(
        f"vs_pythae.py needs pythae 0.1.2 ({e}): run `bash benchmarks/pythae-env.sh` and use "
        ".bench-venv/bin/python, or see benchmarks/fetch-pythae-wheels.sh on the GPU machine"
    )

BATCH, LR, HIDDEN, LATENT = 100, 1e-3, 512, 16


# -- pythae's side: the network as its docs ask for it --------------------------------------------
class MLPEncoder(BaseEncoder):
    def __init__(self):
        BaseEncoder.__init__(self)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, HIDDEN), nn.ReLU())
        self.mu, self.log_var = nn.Linear(HIDDEN, LATENT), nn.Linear(HIDDEN, LATENT)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        h = self.net(x)
        return ModelOutput(embedding=self.mu(h), log_covariance=self.log_var(h))


class MLPDecoder(BaseDecoder):
    def __init__(self):
        BaseDecoder.__init__(self)
        self.net = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 784), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> ModelOutput:
        # pythae's "bce" loss is F.binary_cross_entropy on these probabilities; the shape is (B, 1, 28, 28)
        return ModelOutput(reconstruction=self.net(z).reshape(z.shape[0], 1, 28, 28))


class Alternate(TrainingCallback):
    """Times pythae's epochs and, after each, runs one plain and one vaekit epoch."""

    def __init__(self, device: torch.device, between):
        self.device, self.between = device, between
        self.train_times: list[float] = []
        self.epoch_times: list[float] = []
        self._began = self._train_end = None

    def _now(self) -> float:
        _sync(self.device)
        return time.perf_counter()

    def on_epoch_begin(self, training_config, **kwargs):
        self._began, self._train_end = self._now(), None

    def on_eval_step_begin(self, training_config, **kwargs):
        if self._train_end is None:
            self._train_end = self._now()

    def on_epoch_end(self, training_config, **kwargs):
        end = self._now()
        self.train_times.append((self._train_end or end) - self._began)
        self.epoch_times.append(end - self._began)
        self.between(len(self.train_times) - 1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _steady(times: list[float]) -> float:
    """Median seconds per epoch after the first (the first holds warm-up, graph capture), when there are 3+."""
    return statistics.median(times[1:] if len(times) >= 3 else times)


@torch.no_grad()
def _test_loss(per_batch, x: torch.Tensor, seed: int = 0) -> float:
    """Mean over x of a per-batch mean loss, in batches of 1000, with a fixed noise seed."""
    torch.manual_seed(seed)
    total = 0.0
    for i in range(0, x.shape[0], 1000):
        xb = x[i : i + 1000]
        total += float(per_batch(xb)) * xb.shape[0]
    return total / x.shape[0]


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {os.cpu_count()} cores"


def _vaekit_state() -> str:
    """Where the vaekit under test comes from: its commit, and whether vaekit/ has uncommitted edits."""
    import vaekit

    root = Path(vaekit.__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "vaekit"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"
    return f"{rev}{'+uncommitted' if dirty else ''}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    ap.add_argument(
        "--nll-images", type=int, default=None, help="test images for the NLL (default 1000 on a GPU, 100 on a CPU)"
    )
    ap.add_argument("--nll-batch-size", type=int, default=100, help="get_nll's batch_size (its default, 100)")
    ap.add_argument("--nll-rounds", type=int, default=5, help="chunks of the NLL images, pythae and vaekit in turn")
    ap.add_argument("-k", type=int, default=5000, help="importance samples per image")
    ap.add_argument("--show-pythae", action="store_true", help="keep pythae's log lines and progress bars")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda asked for, but PyTorch sees no CUDA device")
    gpu = device.type == "cuda"
    data = load_dataset("mnist")
    versions = {p: importlib.metadata.version(p) for p in ("pythae", "pydantic")}
    header = (
        f"device={_machine(device)} torch={torch.__version__} python={platform.python_version()} "
        f"vaekit={_vaekit_state()} pythae={versions['pythae']} pydantic={versions['pydantic']} "
        f"threads={torch.get_num_threads()} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} "
        f"train_images={data.train_x.shape[0]} epochs={args.epochs}"
    )
    print(header, flush=True)
    if not args.show_pythae:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("pythae"):
                logging.getLogger(name).setLevel(logging.WARNING)

    # vaekit and the plain loop, built first (each seeds its own initial weights)
    work = Path(tempfile.mkdtemp(prefix="vs-pythae-"))
    cfg = RunConfig(
        model=ModelConfig(hidden=(HIDDEN,), latent_dim=LATENT, likelihood="bernoulli"),
        train=TrainConfig(epochs=args.epochs, batch_size=BATCH, lr=LR, device=args.device, log_every=10**9),
    )
    trainer = Trainer(cfg, data, work / "vaekit", show_progress=False)
    torch.manual_seed(0)
    plain = PlainVAE(HIDDEN, LATENT).to(device)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=LR)
    x_flat = data.train_x.to(device).flatten(1)
    times: dict[str, list[float]] = {"plain": [], "vaekit": []}

    def between(epoch: int) -> None:
        times["plain"].append(plain_epoch(plain, plain_opt, x_flat, BATCH))
        start = time.perf_counter()
        trainer.train_epoch(epoch, None)
        _sync(device)
        times["vaekit"].append(time.perf_counter() - start)
        print(
            f"epoch {epoch + 1}/{args.epochs}: pythae {timer.train_times[-1]:.3f} s "
            f"(whole epoch {timer.epoch_times[-1]:.3f})  plain {times['plain'][-1]:.3f} s  "
            f"vaekit {times['vaekit'][-1]:.3f} s",
            flush=True,
        )

    # pythae, trained by its pipeline; the callback runs the other two between its epochs
    torch.manual_seed(8)
    model = VAE(
        VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce"),
        encoder=MLPEncoder(),
        decoder=MLPDecoder(),
    )
    tcfg = BaseTrainerConfig(
        output_dir=str(work / "pythae"),
        num_epochs=args.epochs,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        optimizer_cls="Adam",
        scheduler_cls=None,
        steps_saving=None,
        no_cuda=not gpu,
    )
    timer = Alternate(device, between)
    pipeline = TrainingPipeline(model=model, training_config=tcfg)
    quiet = contextlib.nullcontext() if args.show_pythae else contextlib.redirect_stderr(open(os.devnull, "w"))
    with quiet:  # pythae's tqdm bars still update, into /dev/null
        pipeline(train_data=data.train_x, eval_data=data.val_x, callbacks=[timer])
    times["pythae"] = timer.train_times

    # test losses: negative ELBO, nats per image, one sample, the 10,000 test images
    test = data.test_x.to(device)
    model.eval()
    trainer.model.eval()
    losses = {
        "pythae": _test_loss(lambda xb: model({"data": xb}).loss, test),
        "plain": _test_loss(plain.loss, test.flatten(1)),
        "vaekit": -evaluate(trainer.model, test, k=1)["elbo"],
    }
    steady = {name: _steady(t) for name, t in times.items()}
    print()
    for name in ("pythae", "plain", "vaekit"):
        whole = f"  (whole pythae epoch, eval pass included: {_steady(timer.epoch_times):.3f} s)"
        extra = whole if name == "pythae" else ""
        print(
            f"{name:<7} first epoch {times[name][0]:7.3f} s  then {steady[name]:7.3f} s/epoch  "
            f"test loss {losses[name]:7.2f} nats{extra}"
        )
    print(
        f"ratios: pythae/vaekit {steady['pythae'] / steady['vaekit']:.2f}   "
        f"plain/vaekit {steady['plain'] / steady['vaekit']:.2f}",
        flush=True,
    )

    # K-sample importance-sampled NLL: pythae's get_nll (its model) against vaekit's evaluate (vaekit's),
    # in --nll-rounds chunks of images taken in turn, so a burst of load on a shared machine hits both
    n = args.nll_images or (1000 if gpu else 100)
    x = test[:n]
    model.get_nll(x[:2], n_samples=min(args.k, 200), batch_size=args.nll_batch_size)  # warm-up
    evaluate(trainer.model, x[:100], k=100)
    _sync(device)
    secs, nlls = {"pythae": 0.0, "vaekit": 0.0}, {"pythae": 0.0, "vaekit": 0.0}
    step = max(1, -(-n // args.nll_rounds))
    for i in range(0, n, step):
        xb = x[i : i + step]
        torch.manual_seed(i)
        start = time.perf_counter()
        nll = -model.get_nll(xb, n_samples=args.k, batch_size=args.nll_batch_size)  # it returns mean log p(x)
        _sync(device)
        secs["pythae"] += time.perf_counter() - start
        nlls["pythae"] += nll * xb.shape[0] / n
        start = time.perf_counter()
        nll = evaluate(trainer.model, xb, k=args.k, seed=i)["nll"]
        _sync(device)
        secs["vaekit"] += time.perf_counter() - start
        nlls["vaekit"] += nll * xb.shape[0] / n
    pythae_s, vaekit_s = secs["pythae"] / n * 1000, secs["vaekit"] / n * 1000
    print(
        f"K={args.k} NLL on {n} test images ({-(-n // step)} chunks of {step}, in turn): pythae get_nll "
        f"{pythae_s:.3f} s per 1000 images (its model's nll {nlls['pythae']:.2f}, batch_size={args.nll_batch_size})  "
        f"vaekit evaluate {vaekit_s:.3f} s per 1000 (its model's nll {nlls['vaekit']:.2f})  "
        f"ratio {pythae_s / vaekit_s:.1f}",
        flush=True,
    )

    # a block for BENCHMARKS.md
    date = datetime.date.today().isoformat()
    machine = (
        f"{_machine(device)}, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''}"
        if not gpu
        else _machine(device)
    )
    print("\n--- for BENCHMARKS.md ---")
    print(f"<!-- {header} -->")
    print(
        "| date | machine | pythae s/epoch | plain s/epoch | vaekit s/epoch | pythae/vaekit | plain/vaekit "
        f"| test loss pythae / plain / vaekit | K={args.k} NLL s per 1000 images: pythae get_nll / vaekit | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {date} | {machine}, torch {torch.__version__} | {steady['pythae']:.2f} | {steady['plain']:.2f} | "
        f"{steady['vaekit']:.2f} | {steady['pythae'] / steady['vaekit']:.2f} | "
        f"{steady['plain'] / steady['vaekit']:.2f} | "
        f"{losses['pythae']:.1f} / {losses['plain']:.1f} / {losses['vaekit']:.1f} | "
        f"{pythae_s:.3g} / {vaekit_s:.3g} ({n} images) | {pythae_s / vaekit_s:.1f} |"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
