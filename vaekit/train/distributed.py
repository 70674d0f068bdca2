"""Several processes, one model: PyTorch DistributedDataParallel under torchrun.

    torchrun --nproc_per_node=N -m vaekit train vae ...

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; vaekit then joins a process group (NCCL on GPUs,
Gloo on the CPU). The global batch (--batch-size) is cut into N equal shards of one permutation
that every rank draws alike, gradients are averaged by DDP, so N processes follow the same path
as one process with the same global batch. Rank 0 alone writes checkpoints, metrics, pictures
and the progress bar; resume reads the same files on every rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vaekit.errors import VaekitError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The process's place in a torchrun job (a world of one without torchrun)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def init(world: World, device_name: str) -> None:
    """Joins the process group once; NCCL when training on CUDA, Gloo otherwise."""
    if not world.active or dist.is_initialized():
        return
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")


def barrier(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.barrier()


def shard_size(world: World, global_batch: int) -> int:
    if global_batch % world.size:
        raise VaekitError(f"--batch-size {global_batch} must divide evenly over {world.size} processes")
    return global_batch // world.size


def all_mean(world: World, values: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over all ranks (itself when alone)."""
    if not world.active:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / world.size


def all_max(world: World, values: torch.Tensor) -> torch.Tensor:
    """The largest of each entry over all ranks (itself when alone)."""
    if not world.active:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return values


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
