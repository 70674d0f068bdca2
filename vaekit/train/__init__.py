"""Training: the device-resident loop, checkpoints and resume."""

from vaekit.train.checkpoint import load_run
from vaekit.train.trainer import Trainer, resolve_device

__all__ = ["Trainer", "load_run", "resolve_device"]
