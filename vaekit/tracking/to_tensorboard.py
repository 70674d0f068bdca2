"""A run's curves, pictures and settings as TensorBoard events in RUN/tensorboard/ (torch.utils.tensorboard).

Every invocation (train, a resumed train, eval) adds an event file to the same folder, which
TensorBoard shows as one run. A resumed run purges the steps after its checkpoint
(`purge_step`), so the epoch a kill cut short is not drawn twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOLDER = "tensorboard"


class TensorBoardTracker:
    name = "tensorboard"

    def __init__(self, run_dir: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(run_dir) / FOLDER
        self.writer = SummaryWriter(log_dir=str(self.folder), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, picture, step, dataformats="HWC")  # (H, W, 3) uint8

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def settings(self, params: dict[str, float | int | str | bool], metrics: list[str]) -> None:
        """The settings in the HParams tab (against the tags `metrics`) and as a table in the Text tab."""
        from torch.utils.tensorboard.summary import hparams

        writer = self.writer._get_file_writer()
        for summary in hparams(params, dict.fromkeys(metrics, 0.0)):
            writer.add_summary(summary)
        rows = [f"| {k} | {v} |" for k, v in params.items()]
        self.writer.add_text("settings", "\n".join(["| setting | value |", "|---|---|", *rows]), 0)

    def files(self, run_dir: Path) -> None:
        self.writer.flush()  # the run folder already holds everything TensorBoard shows

    def close(self, status: str = "FINISHED") -> None:
        self.writer.close()
