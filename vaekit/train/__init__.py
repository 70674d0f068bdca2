"""Training: the device-resident loop, checkpoints and resume."""

from vaekit.train.checkpoint import load_run
from vaekit.train.setup import resolve_device
from vaekit.train.trainer import Trainer

__all__ = ["Trainer", "load_run", "resolve_device"]
