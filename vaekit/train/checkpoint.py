"""Run directories and checkpoints: safetensors for tensors, JSON for everything else, no pickle.

Every file is written atomically through `vaekit.io`, so a run killed at any moment leaves either
the old file or the new one, never half of one.

A run directory holds:
    config.json                   the RunConfig (data, model, train) the model was built from
    model.safetensors             the weights with the best validation loss
    last.safetensors              the weights after the last finished epoch
    last-optimizer.safetensors    for --resume: the training weights, the optimizer state, the
                                  trainer position (and with --ema the weight average), in one file
                                  so that they change together

With --ema (`vaekit.train.average`) model.safetensors and last.safetensors hold the average: the
weights that were validated and that one uses; the training weights live only in the optimizer file.
    metrics.json                  per-epoch curves
    *.png                         pictures
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from safetensors import SafetensorError

from vaekit.errors import VaekitError
from vaekit.io import (
    atomic_write_bytes,
    atomic_write_text,
    check_writable,
    load_tensors,
    load_weights,
    save_tensors,
    save_weights,
)
from vaekit.models.run import BEST, LAST, load_run
from vaekit.train import distributed, lock
from vaekit.train.average import PREFIX as AVERAGE
from vaekit.train.average import WeightAverage
from vaekit.train.metrics import write_metrics

# The file helpers live in the leaf module vaekit.io, `load_run` and the weight file names beside the
# model registry (vaekit.models.run); they are re-exported so `vaekit.train.checkpoint.X` keeps working.
__all__ = [
    "BEST",
    "LAST",
    "OPTIMIZER",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "holds_weights",
    "load_optimizer",
    "load_run",
    "load_tensors",
    "load_weights",
    "prepare_run_dir",
    "save_epoch",
    "save_optimizer",
    "save_tensors",
    "save_weights",
]

OPTIMIZER = "last-optimizer.safetensors"


def save_optimizer(
    path: Path,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict,
    model: torch.nn.Module | None = None,
    average: WeightAverage | None = None,
) -> None:
    """Optimizer state as tensors named state.<param index>.<key>, the rest as JSON metadata.

    With `model`, its weights ride along as model.<name> (and an `average` as average.<name>): one
    atomic file then holds everything --resume needs, so a kill between two writes can never pair
    weights with the wrong state.
    """
    sd = optimizer.state_dict()
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()} if model is not None else {}
    if average is not None:
        tensors |= average.tensors()
        trainer_state = {**trainer_state, "average_updates": average.updates}
    scalars = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    groups = [
        {k: v.item() if torch.is_tensor(v) else v for k, v in g.items()} for g in sd["param_groups"]
    ]  # a tensor lr
    save_tensors(path, tensors, {"param_groups": groups, "scalars": scalars, "trainer": trainer_state})


def holds_weights(path: Path) -> bool:
    """Whether an optimizer checkpoint carries the model's weights (older runs keep them only in
    last.safetensors)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            names = f.keys()  # safe_open is not iterable itself
        return any(k.startswith("model.") for k in names)
    except (SafetensorError, OSError, ValueError) as err:
        raise VaekitError(
            f"checkpoint {path} is unreadable ({err}): it is not a safetensors file written by vaekit"
        ) from None


def load_optimizer(
    path: Path,
    optimizer: torch.optim.Optimizer,
    model: torch.nn.Module | None = None,
    average: WeightAverage | None = None,
) -> dict:
    """Restores the optimizer (and `model`, where the file holds its weights, and `average`) from
    `path`; returns the trainer state saved with it."""
    tensors, meta = load_tensors(path)
    if not isinstance(meta, dict) or not {"param_groups", "scalars", "trainer"} <= set(meta):
        raise VaekitError(f"{path} is not a vaekit optimizer checkpoint (its metadata lacks the trainer state)")
    weights = {k.removeprefix("model."): tensors.pop(k) for k in [k for k in tensors if k.startswith("model.")]}
    averaged = {k: tensors.pop(k) for k in [k for k in tensors if k.startswith(AVERAGE)]}
    if average is not None:
        average.load(averaged, int(meta["trainer"].get("average_updates", 0)))
    if model is not None and weights:
        device = next(model.parameters()).device
        missing, unexpected = model.load_state_dict({k: v.to(device) for k, v in weights.items()}, strict=False)
        if missing or unexpected:
            raise VaekitError(
                f"checkpoint {path} does not fit its config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    # How this optimizer runs (fused, capturable for a CUDA graph) is this process's choice,
    # not the saved run's: a run trained eagerly on the CPU resumes in a graph on a GPU.
    how = ("fused", "capturable", "foreach", "differentiable")
    groups = [
        {**saved, **{k: now[k] for k in how if k in now}}
        for saved, now in zip(meta["param_groups"], optimizer.param_groups)
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return meta["trainer"]


def prepare_run_dir(run_dir: Path, overwrite: bool, resume: bool, check_only: bool = False) -> None:
    """Creates `run_dir`, refusing to touch an existing run unless asked to.

    With check_only, raises what it would raise but changes nothing: callers check before slow
    work (loading data) and clear the old run only once the new one is ready to start. A run
    another process is training is refused whatever is asked (`vaekit.train.lock`).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise VaekitError(f"{run_dir} is a file, not a run directory: choose another --out")
    check_writable(run_dir, "--out")
    if distributed.current_world().is_main:  # under torchrun, rank 0 holds the lock for all
        lock.refuse_if_held(run_dir)
    exists = run_dir.is_dir() and any(p.name != lock.LOCK for p in run_dir.iterdir())
    if resume:
        if not (run_dir / "config.json").is_file():
            raise VaekitError(f"nothing to resume in {run_dir}: it has no config.json (train without --resume first)")
        return
    if exists and not (run_dir / "config.json").is_file():
        raise VaekitError(
            f"{run_dir} is not empty and is not a vaekit run: vaekit never overwrites it; choose another --out"
        )
    if exists and not overwrite:
        raise VaekitError(
            f"run directory {run_dir} already exists: pass --overwrite to replace it, "
            "--resume to continue it, or choose another --out"
        )
    if check_only:
        return
    if exists:
        for child in run_dir.iterdir():
            if child.is_file() and child.name != lock.LOCK:
                child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def save_epoch(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[dict],
    best_val: float,
    improved: bool,
    average: WeightAverage | None = None,
) -> None:
    """The checkpoint of the epoch `history[-1]` records: model.safetensors when `improved`, last.safetensors,
    metrics.json, then the optimizer file. A disk error is one line saying which checkpoint is kept.
    With an `average` (--ema), the two weight files hold it.

    The optimizer file (weights, optimizer, position) is written last: it is what --resume reads, so
    until it is replaced every other file may be rewritten by the resumed epoch.
    """
    epoch = history[-1]["epoch"]
    try:
        with average.applied() if average is not None else contextlib.nullcontext():
            if improved:
                save_weights(run_dir / BEST, model)
            save_weights(run_dir / LAST, model)
        write_metrics(run_dir, history)
        save_optimizer(run_dir / OPTIMIZER, optimizer, {"epoch": epoch, "best_val": best_val}, model, average)
    except OSError as err:
        kept = (
            f"the checkpoint of epoch {history[-2]['epoch']} is kept" if len(history) > 1 else "no earlier checkpoint"
        )
        raise VaekitError(
            f"could not save the checkpoint of epoch {epoch}: {err.strerror} writing "
            f"{err.filename}; {kept}; free some space, then continue with --resume"
        ) from None
