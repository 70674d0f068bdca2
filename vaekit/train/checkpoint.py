"""Run directories and checkpoints: safetensors for tensors, JSON for everything else, no pickle.

Every file is written atomically through `vaekit.io`, so a run killed at any moment leaves either
the old file or the new one, never half of one.

A run directory holds:
    config.json                   the RunConfig (data, model, train) the model was built from
    model.safetensors             the weights with the best validation loss
    last.safetensors              the weights after the last finished epoch
    last-optimizer.safetensors    optimizer state and trainer position, for --resume
    metrics.json                  per-epoch curves
    *.png                         pictures
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_bytes, atomic_write_text, load_tensors, load_weights, save_tensors, save_weights
from vaekit.models.run import BEST, LAST, load_run

# The file helpers live in the leaf module vaekit.io, `load_run` and the weight file names beside the
# model registry (vaekit.models.run); they are re-exported so `vaekit.train.checkpoint.X` keeps working.
__all__ = ["BEST", "LAST", "OPTIMIZER", "atomic_write_bytes", "atomic_write_text", "load_optimizer", "load_run",
           "load_tensors", "load_weights", "prepare_run_dir", "save_optimizer", "save_tensors", "save_weights"]

OPTIMIZER = "last-optimizer.safetensors"


def save_optimizer(path: Path, optimizer: torch.optim.Optimizer, trainer_state: dict) -> None:
    """Optimizer state as tensors named state.<param index>.<key>, the rest as JSON metadata."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    groups = [{k: v.item() if torch.is_tensor(v) else v for k, v in g.items()}
              for g in sd["param_groups"]]  # a tensor lr
    save_tensors(path, tensors, {"param_groups": groups, "scalars": scalars, "trainer": trainer_state})


def load_optimizer(path: Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restores the optimizer from `path`; returns the trainer state saved with it."""
    tensors, meta = load_tensors(path)
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
    groups = [{**saved, **{k: now[k] for k in how if k in now}}
              for saved, now in zip(meta["param_groups"], optimizer.param_groups)]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return meta["trainer"]


def prepare_run_dir(run_dir: Path, overwrite: bool, resume: bool, check_only: bool = False) -> None:
    """Creates `run_dir`, refusing to touch an existing run unless asked to.

    With check_only, raises what it would raise but changes nothing: callers check before slow
    work (loading data) and clear the old run only once the new one is ready to start.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise VaekitError(f"{run_dir} is a file, not a run directory: choose another --out")
    exists = run_dir.is_dir() and any(run_dir.iterdir())
    if resume:
        if not (run_dir / "config.json").is_file():
            raise VaekitError(f"nothing to resume in {run_dir}: it has no config.json (train without --resume first)")
        return
    if exists and not overwrite:
        raise VaekitError(f"run directory {run_dir} already exists: pass --overwrite to replace it, "
                          "--resume to continue it, or choose another --out")
    if exists and not (run_dir / "config.json").is_file():
        raise VaekitError(f"{run_dir} is not empty and is not a vaekit run: refusing to overwrite it; "
                          "choose another --out")
    if check_only:
        return
    if exists:
        for child in run_dir.iterdir():
            if child.is_file():
                child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
