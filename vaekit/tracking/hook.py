"""The trainer hook (`vaekit.train.tracking.TrainHook`) that feeds the trackers while a run trains."""

from __future__ import annotations

from pathlib import Path

from vaekit.tracking import METRICS, open_trackers, settings
from vaekit.tracking.pictures import figure_array, image_figures, png_array, sentences_text

ACTIVE_EXAMPLES = 1000  # validation examples behind val/active_units
FINAL = ("samples", "reconstructions", "training-curves")  # the run's PNGs sent at the end


class TrackingHook:
    """Opens the trackers at the first event (the run folder exists then), sends each log point and
    epoch, and `finish` sends the final pictures and the run folder and closes them."""

    def __init__(self, names, run_dir: Path):
        self.names, self.run_dir = tuple(names), Path(run_dir)
        self.trackers: list | None = None
        self.window = (-1, 0, {})  # (epoch, step, sums) at the last log point: per-window means

    def _open(self, trainer) -> list:
        if self.trackers is None:
            purge = trainer.steps_before + 1 if trainer.resumed else None
            self.trackers = open_trackers(self.names, self.run_dir, resumed=trainer.resumed, purge_step=purge)
            params = settings(trainer.cfg)
            for tracker in self.trackers:
                tracker.settings(params, METRICS)
        return self.trackers

    def _send(self, trainer, method: str, *args) -> None:
        for tracker in self._open(trainer):
            getattr(tracker, method)(*args)

    def on_log(self, trainer, epoch: int, step: int, values: dict[str, float]) -> None:
        last_epoch, last_step, last_sums = self.window
        if last_epoch != epoch:
            last_step, last_sums = 0, {}
        sums = {k: v * step for k, v in values.items()}  # values: the epoch's running means after `step` steps
        means = {f"step/{k}": (s - last_sums.get(k, 0.0)) / (step - last_step) for k, s in sums.items()}
        self.window = (epoch, step, sums)
        self._send(trainer, "scalars", means, trainer.steps_before + step)

    def on_epoch(self, trainer, record: dict) -> None:
        from vaekit.eval import code_use

        epoch = record["epoch"]
        values = {
            f"{split}/{k.removeprefix(split + '_')}": v
            for k, v in record.items()
            for split in ("train", "val")
            if k.startswith(split + "_")
        }
        steps = record.get("steps", trainer.program.steps_per_epoch)
        values |= {
            "lr": record["lr"],
            "speed/epoch_seconds": record["seconds"],
            "speed/examples_per_s": steps * trainer.program.global_batch / max(record["seconds"], 1e-9),
        }
        x, y = trainer.val_x[:ACTIVE_EXAMPLES], trainer.val_y[:ACTIVE_EXAMPLES]
        use = code_use.measure(trainer.model, x, y)
        if use is not None:
            values["val/active_units"] = use.active
        self._send(trainer, "scalars", values, epoch)
        if epoch % trainer.cfg.train.log_pictures_every == 0:
            self._pictures(trainer, epoch)

    def _pictures(self, trainer, epoch: int) -> None:
        from vaekit.plots import run_title

        cfg, model = trainer.cfg, trainer.model
        if trainer.vocab is not None:
            source = trainer.pairs.source_vocab if trainer.pairs is not None else None
            text = sentences_text(model, trainer.vocab, trainer.val_x, trainer.val_y, source)
            self._send(trainer, "text", "text/sentences", text, epoch)
            return
        run = f"{run_title(cfg.model.name, Path(cfg.data.name).name)}, epoch {epoch}"
        x, y = trainer.val_x[:32], trainer.val_y[:32]
        for name, fig in image_figures(model, x, y, cfg.num_classes, run, cfg.train.seed, "validation").items():
            self._send(trainer, "image", f"pictures/{name}", figure_array(fig), epoch)

    def finish(self, trainer, text: str | None = None) -> None:
        """The run's final pictures (or `text`, a text run's sentences), the run folder, and closing."""
        step = trainer.history[-1]["epoch"] if trainer.history else 0
        for name in FINAL:
            path = self.run_dir / f"{name}.png"
            if path.is_file():
                self._send(trainer, "image", f"final/{name}", png_array(path.read_bytes()), step)
        if text is not None:
            self._send(trainer, "text", "final/sentences", text, step)
        self._send(trainer, "files", self.run_dir)
        self.close()

    def close(self, status: str = "FINISHED") -> None:
        for tracker in self.trackers or ():
            tracker.close(status)
        self.trackers = None
