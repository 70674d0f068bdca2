"""Run directories and checkpoints: safetensors for tensors, JSON for everything else, no pickle.

Every file is written atomically (a temporary file in the same folder, flushed, then renamed over
the target), so a run killed at any moment leaves either the old file or the new one, never half
of one.

A run directory holds:
    config.json                   the RunConfig (data, model, train) the model was built from
    model.safetensors             the weights with the best validation loss
    last.safetensors              the weights after the last finished epoch
    last-optimizer.safetensors    optimizer state and trainer position, for --resume
    metrics.json                  per-epoch curves
    *.png                         pictures
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from vaekit.config import RunConfig
from vaekit.errors import VaekitError

BEST, LAST, OPTIMIZER = "model.safetensors", "last.safetensors", "last-optimizer.safetensors"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Tensors to a safetensors file; `metadata` (any JSON-able dict) rides in its header."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {"json": json.dumps(metadata)} if metadata is not None else None
    atomic_write_bytes(path, st_save(flat, metadata=header))


def load_tensors(path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict | None]:
    """The tensors and the JSON metadata of a safetensors file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__") or {}
    except FileNotFoundError:
        raise VaekitError(f"checkpoint {path} is missing: the run did not finish an epoch, or the folder is not a vaekit run") from None
    except (SafetensorError, ValueError, OSError) as err:
        raise VaekitError(f"checkpoint {path} is unreadable ({err}): it is not a safetensors file written by vaekit") from None
    metadata = json.loads(meta["json"]) if "json" in meta else None
    return {k: v.to(device) for k, v in tensors.items()}, metadata


def save_weights(path: Path, model: torch.nn.Module) -> None:
    save_tensors(path, model.state_dict())


def load_weights(path: Path, model: torch.nn.Module) -> None:
    tensors, _ = load_tensors(path, next(model.parameters()).device)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise VaekitError(f"checkpoint {path} does not fit its config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")


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
    groups = [{k: v.item() if torch.is_tensor(v) else v for k, v in g.items()} for g in sd["param_groups"]]  # a tensor lr
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
        raise VaekitError(f"run directory {run_dir} already exists: pass --overwrite to replace it, --resume to continue it, or choose another --out")
    if exists and not (run_dir / "config.json").is_file():
        raise VaekitError(f"{run_dir} is not empty and is not a vaekit run: refusing to overwrite it; choose another --out")
    if check_only:
        return
    if exists:
        for child in run_dir.iterdir():
            if child.is_file():
                child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def load_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu"):
    """(model in eval mode, RunConfig) of a trained run; `which` is 'best' or 'last'."""
    from vaekit.models import build_model

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise VaekitError(f"{run_dir} is not a vaekit run (no config.json): train one with 'vaekit train vae --out {run_dir}'")
    cfg = RunConfig.load(run_dir / "config.json")
    model = build_model(cfg.model, cfg.image_shape, cfg.num_classes).to(device)
    load_weights(run_dir / (BEST if which == "best" else LAST), model)
    if hasattr(model, "attach_prior"):  # a VQ-VAE: attach its code prior (prior.safetensors) when fitted
        from vaekit.models.code_prior import load_code_prior

        model.attach_prior(load_code_prior(run_dir, device))
    return model.eval(), cfg
