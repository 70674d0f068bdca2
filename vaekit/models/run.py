"""A trained run on disk, read back: its file names and `load_run`.

    config.json          the RunConfig (data, model, train) the model was built from
    model.safetensors    the weights with the best validation loss
    last.safetensors     the weights after the last finished epoch

Everything else in a run directory belongs to whoever wrote it (the trainer's optimizer state and
metrics, pictures, a VQ-VAE's code prior). A model whose run carries extras reads them through
its registry entry's `load_extras` hook, so this module knows no model by name.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaekit.config import RunConfig
from vaekit.errors import VaekitError
from vaekit.io import load_weights
from vaekit.models.registry import build_model, spec_of

CONFIG, BEST, LAST = "config.json", "model.safetensors", "last.safetensors"


def load_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu", model=None):
    """(model in eval mode, RunConfig) of a trained run; `which` is 'best' or 'last'.

    The network is rebuilt from config.json (for a model from outside vaekit, by importing the
    package.module:build_fn it records) and the weights are read into it; give `model` to read them
    into a network of your own instead.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise VaekitError(_not_a_run(run_dir))
    cfg = RunConfig.load(run_dir / CONFIG)
    try:
        spec = spec_of(cfg.model)
        if model is None:
            model = build_model(cfg.model, cfg.image_shape, cfg.num_classes, cfg.vocab_size, cfg.source_vocab_size)
    except VaekitError as err:
        if cfg.model.plugin is None:
            raise
        raise VaekitError(f"{err} (model.plugin in {run_dir / CONFIG})") from None
    model = model.to(device)
    chosen, other, flag = (BEST, LAST, "last") if which == "best" else (LAST, BEST, "best")
    try:
        load_weights(run_dir / chosen, model)
    except VaekitError as err:
        if not (run_dir / other).is_file() or "unreadable" not in str(err):
            raise
        raise VaekitError(f"{err}; its {other} may still be whole: try --which {flag}") from None
    if spec.load_extras is not None:
        spec.load_extras(model, run_dir, device)
    return model.eval(), cfg


def _not_a_run(path: Path) -> str:
    """Why `path` is not a run folder, and what to do instead."""
    run = "give the folder that 'vaekit train ... --out RUN_DIR' wrote (it holds config.json and model.safetensors)"
    if not path.exists():
        return f"{path} is not a vaekit run: it does not exist; {run}"
    if path.is_file():
        return f"{path} is not a vaekit run: it is a file (vaekit reads only its own safetensors and JSON); {run}"
    inside = [*path.iterdir(), *(q for d in path.iterdir() if d.is_dir() for q in d.iterdir())]
    if any(p.suffix.lower() in _DATA_SUFFIXES for p in inside):
        return (
            f"{path} is not a vaekit run: it holds data; train on it with 'vaekit train vae --data {path} "
            f"--out RUN_DIR', then use RUN_DIR"
        )
    return f"{path} is not a vaekit run (no config.json): {run}"


_DATA_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
    ".npy",
    ".npz",
}
