"""The trainer's one seam to the outside while it trains: a list of hooks, called at two points.

`Trainer(..., hooks=[...])` calls, on the main process only,

    hook.on_log(trainer, epoch, step, values)   every `log_every` steps: `values` are the epoch's running
                                                means of the loss terms after `step` steps (1-based)
    hook.on_epoch(trainer, record)              after each validated epoch, once its checkpoint is written:
                                                `record` is the epoch's row of metrics.json

The trackers (`vaekit.tracking`: TensorBoard, MLflow) are such hooks; the trainer knows nothing of them.
A hook must not change the model's weights; it may draw random numbers (every epoch reseeds).
"""

from __future__ import annotations

from typing import Any, Protocol


class TrainHook(Protocol):
    def on_log(self, trainer: Any, epoch: int, step: int, values: dict[str, float]) -> None: ...

    def on_epoch(self, trainer: Any, record: dict) -> None: ...


def notify(hooks, event: str, *args) -> None:
    """Calls `event` ('on_log' or 'on_epoch') on every hook, in order."""
    for hook in hooks:
        getattr(hook, event)(*args)
