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
from vaekit.models.registry import build_model, get_spec

CONFIG, BEST, LAST = "config.json", "model.safetensors", "last.safetensors"


def load_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu"):
    """(model in eval mode, RunConfig) of a trained run; `which` is 'best' or 'last'."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise VaekitError(f"{run_dir} is not a vaekit run (no config.json): "
                          f"train one with 'vaekit train vae --out {run_dir}'")
    cfg = RunConfig.load(run_dir / CONFIG)
    model = build_model(cfg.model, cfg.image_shape, cfg.num_classes).to(device)
    load_weights(run_dir / (BEST if which == "best" else LAST), model)
    load_extras = get_spec(cfg.model.name).load_extras
    if load_extras is not None:
        load_extras(model, run_dir, device)
    return model.eval(), cfg
