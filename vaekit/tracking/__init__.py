"""Experiment tracking: `vaekit train ... --log tensorboard` (and/or `--log mlflow`).

What is sent (docs/tracking.md):

    step/<term>           loss terms (loss, elbo, recon, kl, ...) averaged over the last `--log-every`
                          steps, at the global step
    train/<term>, val/<term>   each validated epoch's training and validation means, at the epoch
    val/active_units      latents whose posterior mean varies over 1,000 validation examples
    lr, speed/examples_per_s, speed/epoch_seconds
    pictures/samples, pictures/reconstructions   every `--log-pictures-every` epochs (current weights,
                          validation examples); text runs: text/sentences (samples, reconstructions
                          or translations) instead
    final/samples, final/reconstructions, final/training-curves   the run's PNGs at the end (best checkpoint)
    eval/<split>/<measure>     the numbers of each `vaekit eval` of the run
    the settings          flattened config.json (train.lr, model.latent_dim, ...) as hyper-parameters

The trackers are hooks of the trainer (`vaekit.train.tracking`); neither package is imported unless
asked for, and a missing one is one line saying `pip install vaekit[tracking]`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from vaekit.errors import VaekitError, VaekitWarning

TRACKERS = ("tensorboard", "mlflow")
INSTALL = "pip install vaekit[tracking]"
METRICS = ["val/loss", "val/elbo", "val/kl", "val/recon"]  # the HParams tab's columns, where the run has them


def missing(names) -> list[str]:
    """The lines saying what `names` (trackers) need and is not installed."""
    needs = {"tensorboard": ("tensorboard",), "mlflow": ("mlflow",)}
    if "mlflow" in names:
        from vaekit.tracking.to_mlflow import default_store

        if default_store(Path(".")).startswith("sqlite:"):  # a SQLite store needs SQLAlchemy and Alembic
            needs["mlflow"] += ("sqlalchemy", "alembic")
    lines = []
    for name in names:
        for package in needs[name]:
            try:
                __import__(package)
            except ImportError:
                lines.append(f"--log {name} needs the {package} package, which is not installed: {INSTALL}")
                break
    return lines


def require(names) -> None:
    """Raises a one-line VaekitError when a tracker in `names` lacks its package."""
    lines = missing(names or ())
    if lines:
        raise VaekitError(lines[0])


def open_trackers(names, run_dir: Path, *, resumed: bool, purge_step: int | None = None) -> list:
    trackers = []
    for name in names:
        if name == "tensorboard":
            from vaekit.tracking.to_tensorboard import TensorBoardTracker

            trackers.append(TensorBoardTracker(run_dir, purge_step))
        else:
            from vaekit.tracking.to_mlflow import MlflowTracker

            trackers.append(MlflowTracker(run_dir, resumed))
    return trackers


def settings(cfg) -> dict[str, float | int | str | bool]:
    """config.json flattened: {'train.lr': 0.001, 'model.hidden': '512,256', 'model.options.beta': 1.0, ...}."""
    flat: dict = {}

    def put(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, (tuple, list)):
            flat[prefix] = ",".join(map(str, value))
        elif value is None:
            flat[prefix] = "none"
        else:
            flat[prefix] = value

    put("", cfg.to_dict())
    return flat


def log_evaluation(run_dir: Path, cfg, result: dict) -> None:
    """Sends an evaluation's numbers (eval/<split>/<measure>, at the run's last epoch) and the run folder
    to the run's trackers; a tracker whose package is missing here is a warning, not an error."""
    names = cfg.train.log or ()
    lines = missing(names)
    for line in lines:
        warnings.warn(f"the evaluation was not sent: {line}", VaekitWarning, stacklevel=2)
    names = [n for n in names if not any(f"--log {n} " in line for line in lines)]
    if not names:
        return
    from vaekit.train.metrics import read_metrics

    epochs = read_metrics(run_dir)["epochs"]
    step = epochs[-1]["epoch"] if epochs else 0
    split = result.get("split", "test")
    values = {f"eval/{split}/{k}": v for k, v in _numbers(result).items()}
    for tracker in open_trackers(names, run_dir, resumed=True):
        tracker.scalars(values, step)
        tracker.files(run_dir)
        tracker.close()


def _numbers(result: dict, prefix: str = "") -> dict[str, float]:
    found = {}
    for key, value in result.items():
        if key == "checkpoint":
            continue
        if isinstance(value, dict):
            found |= _numbers(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix + key] = float(value)
    return found
