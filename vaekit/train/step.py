"""One training step as a program over device state, run eagerly or replayed from a CUDA graph.

A small model on a GPU is limited by kernel launches and host round trips, not arithmetic. So a
step reads everything it needs from tensors that live on the device and writes its results
back into them:

    perm (N,)      this epoch's order of the training examples
    pos ()         where the next global batch starts in perm
    progress ()    training progress in epochs (for KL warm-up and capacity schedules)
    sums (T,)      running sums of the loss and each logged term over this epoch's steps

and the host only says "step". Run eagerly (CPU, or when capture is off) this is an ordinary
PyTorch step. On CUDA the same function is captured once into a CUDA graph — index, gather,
binarize, forward, backward, clip, Adam — and each later step is one `graph.replay()`: a single
launch for some hundred kernels. Capture needs static shapes (the last partial batch is dropped)
and no host syncs (objectives keep their schedules as tensors); Adam must be capturable with its
learning rate a tensor, which `set_lr` fills in place. Random draws come from the default
generator, which graphs replay with fresh offsets, so each step draws new noise and an epoch
stays reproducible from its seed.

Where capture cannot work (a model with a data-dependent shape or a host sync, DDP), the step
runs eagerly with a one-line warning: slower, same results.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from vaekit.data.text import trim_padding
from vaekit.precision import precision


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch on one rank: every epoch reproducible from (seed, epoch) alone."""
    return (seed * 1_000_003 + epoch + rank * 7_919_000_003) % (2**63)


class ObjectiveLoss(nn.Module):
    """The objective as a module, so DistributedDataParallel sees the whole step as one forward."""

    def __init__(self, model: nn.Module, objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, x, y, progress):
        out = self.objective(self.model, x, y, progress)
        return out.loss, out.terms


def compiled(loss_fn: nn.Module, graphed: bool):
    """`loss_fn` under torch.compile (--compile).

    Our own graph capture replaces Inductor's CUDA graphs; elsewhere the default mode. On a CPU,
    random draws go through ATen as in eager mode (Inductor's own generator would draw other
    numbers): a compiled step computes the eager step's losses, only faster (ELU 300-300 VAE: 1.13x
    per step on one thread, BENCHMARKS.md).
    """
    if graphed:
        return torch.compile(loss_fn, mode="max-autotune-no-cudagraphs", dynamic=False)
    return torch.compile(loss_fn, dynamic=False, options={"fallback_random": True})


def make_optimizer(params, lr: float, device: torch.device, capturable: bool) -> torch.optim.Adam:
    """Adam, fused into one kernel per step (on the CPU too, where it is ~30% of a small model's step).

    For CUDA-graph capture it is also capturable, with the learning rate as a device tensor so
    the schedule can change it without recapturing.
    """
    if capturable:
        return torch.optim.Adam(params, lr=torch.tensor(lr, device=device), fused=True, capturable=True)
    return torch.optim.Adam(params, lr=lr, fused=True)


def log_linear_lr(lr: float, lr_end: float | None, epoch: int, epochs: int) -> float:
    """The learning rate of epoch `epoch` (from 0): constant without lr_end, else decaying
    log-linearly from lr at the first epoch to lr_end at the last (Burda et al.'s schedule shape)."""
    if lr_end is None or epochs <= 1:
        return lr
    return lr * (lr_end / lr) ** (epoch / (epochs - 1))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Sets the learning rate, in place where it is a tensor a captured graph reads."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(lr)
        elif group.get("capturable"):  # e.g. restored from a checkpoint as a float: before any capture
            group["lr"] = torch.tensor(lr, device=group["params"][0].device)
        else:
            group["lr"] = lr


def binarize(x: torch.Tensor) -> torch.Tensor:
    """Bernoulli(x) pixels by one uniform draw per pixel, compared in place: the law of torch.bernoulli,
    which on a CPU was 13% of a small MLP's step, about 2.5x this (benchmarks/matmul_rate.py); the
    in-place compare writes 0/1 in x's dtype without a bool tensor and its conversion (a fifth less)."""
    return torch.rand_like(x).lt_(x)


class StepProgram:
    """The training step over device-resident state (see the module docstring).

    loss_fn(x, y, progress) -> (loss, terms) is the objective as a module (possibly DDP-wrapped
    or compiled); `local_batch` examples per rank, `rank` of `world_size`.
    """

    def __init__(
        self,
        loss_fn,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        train_x: torch.Tensor,
        train_y: torch.Tensor,
        *,
        local_batch: int,
        rank: int = 0,
        world_size: int = 1,
        binarize: bool = False,
        grad_clip: float | None = None,
        precision_name: str = "float32",
        trim_padding: bool = False,
    ):
        self.loss_fn, self.model, self.optimizer = loss_fn, model, optimizer
        self.train_x, self.train_y = train_x, train_y
        self.binarize, self.grad_clip, self.precision_name = binarize, grad_clip, precision_name
        self.trim = trim_padding  # sentences: drop the batch's all-padding columns (a host sync)
        device = train_x.device
        self.global_batch = local_batch * world_size
        self.steps_per_epoch = train_x.shape[0] // self.global_batch  # the last partial batch is dropped
        self.offsets = torch.arange(rank * local_batch, (rank + 1) * local_batch, device=device)  # (b,)
        self.perm = torch.arange(train_x.shape[0], device=device)
        self.pos = torch.zeros((), dtype=torch.long, device=device)
        self.progress = torch.zeros((), device=device)
        self.sums: torch.Tensor | None = None  # (T,), made by the first step, when T is known
        self.names: list[str] | None = None

    def start_epoch(self, perm: torch.Tensor, epoch: int) -> None:
        self.perm.copy_(perm)
        self.pos.zero_()
        self.progress.fill_(float(epoch))
        if self.sums is not None:
            self.sums.zero_()

    def __call__(self) -> None:
        idx = self.perm.index_select(0, self.pos + self.offsets)  # (b,) this rank's share of the batch
        x, y = self.train_x.index_select(0, idx), self.train_y.index_select(0, idx)
        if self.binarize:
            x = binarize(x)
        if self.trim:
            x = trim_padding(x)
        with precision(self.precision_name, x.device):
            loss, terms = self.loss_fn(x, y, self.progress)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        values = torch.stack([loss.detach().float(), *(v.detach().float().mean() for v in terms.values())])
        if self.sums is None:
            self.sums, self.names = torch.zeros_like(values), ["loss", *terms]
        self.sums.add_(values)
        self.pos.add_(self.global_batch)
        self.progress.add_(1.0 / self.steps_per_epoch)


class GraphedStep:
    """Runs a StepProgram eagerly for `warmup` steps on a side stream, then captures it in a CUDA
    graph and replays that; falls back to eager steps if capture fails."""

    def __init__(self, program: StepProgram, warmup: int = 3):
        self.program, self.warmup = program, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager, self.done = False, 0

    def __call__(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        elif self.eager:
            self.program()
        elif self.done < self.warmup:
            self._warm_step()
        else:
            self._capture()
            if self.graph is not None:
                self.graph.replay()  # capture records the step without running it
            else:
                self.program()
        self.done += 1

    def _warm_step(self) -> None:
        # Warm-up on a side stream, as capture requires: it builds cuBLAS handles, autograd
        # state, Adam's state and any compiled kernels before they are recorded.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*capturable=True.*")  # Adam: "running uncaptured"
            self.program()
        torch.cuda.current_stream().wait_stream(side)

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.program()
        except Exception as err:  # noqa: BLE001 - any failure means: train without the graph
            torch.cuda.synchronize()
            warnings.warn(
                f"CUDA-graph capture of the training step failed ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:160]}); training eagerly instead (slower, same results)",
                stacklevel=2,
            )
            self.eager = True
            return
        self.graph = graph
