"""What the trainer settles before it trains: the device, the checked config, the network.

Nothing here writes a file: a refusal (a fused run, an unknown precision, a network the config would
not rebuild) comes before the run folder is touched.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch import nn

from vaekit.config import RunConfig
from vaekit.errors import VaekitError, VaekitWarning
from vaekit.models import build_model
from vaekit.options import batch_steps, schedule_text
from vaekit.precision import TRAINING_PRECISIONS


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VaekitError(f"--device {name} asked for, but PyTorch sees no CUDA device: use --device cpu or auto")
    if name == "cuda" and local_rank:
        name = f"cuda:{local_rank}"
    try:
        return torch.device(name)
    except RuntimeError:
        raise VaekitError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None


def training_config(cfg: RunConfig, data) -> RunConfig:
    """`cfg` checked and completed for `data`: the likelihood and shapes filled in, the batch clamped to
    the training split, the data recorded by its registry name or absolute path."""
    from vaekit.data import dataset_key

    cfg = _fit_batch(cfg.check().for_data(data), data.train_x.shape[0])
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name=dataset_key(cfg.data.name)))
    if cfg.model.fused:
        raise VaekitError(
            "this run's blocks are fused (written by 'vaekit export --fuse') and are for inference: "
            "train or resume the source run it names in export.json instead"
        )
    if cfg.train.precision not in TRAINING_PRECISIONS:
        raise VaekitError(f"training precision {cfg.train.precision!r} is not one of {', '.join(TRAINING_PRECISIONS)}")
    return cfg


def network(cfg: RunConfig, model: nn.Module | None) -> nn.Module:
    """The network to train: the one `cfg.model` builds, or `model` when it is that network too."""
    built = build_model(cfg.model, cfg.image_shape, cfg.num_classes, cfg.vocab_size, cfg.source_vocab_size)
    if model is None:
        return built
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in (built, model)]
    if shapes[0] != shapes[1]:
        raise VaekitError(
            f"the model given to Trainer is not the network that model.name {cfg.model.name!r} builds, so its "
            "run could not be opened again (a run holds weights, never pickled code): set ModelConfig(name="
            "'package.module:build_fn') to the build function that makes it"
        )
    return model


def _fit_batch(cfg: RunConfig, n_train: int) -> RunConfig:
    """A batch larger than the training split is clamped to it, with a warning, and recorded so
    (the --batch-schedule's sizes too)."""
    t = cfg.train
    if t.batch_size > n_train:
        warnings.warn(
            f"--batch-size {t.batch_size} is more than the {n_train} training images: "
            f"using {n_train} (config.json records it)",
            VaekitWarning,
            stacklevel=4,
        )
        t = dataclasses.replace(t, batch_size=n_train)
    later = batch_steps(t.batch_schedule) if t.batch_schedule else ()
    if any(size > n_train for _, size in later):
        warnings.warn(
            f"--batch-schedule {t.batch_schedule} asks for batches of more than the {n_train} training "
            f"examples: using {n_train} there (config.json records it)",
            VaekitWarning,
            stacklevel=4,
        )
        t = dataclasses.replace(t, batch_schedule=schedule_text((f, min(size, n_train)) for f, size in later))
    return cfg if t is cfg.train else dataclasses.replace(cfg, train=t)
