"""What every section of the report reads: the loaded run, its test images and their codes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from vaekit.report.counts import ReportCounts


@dataclass
class ReportContext:
    run_dir: Path
    model: torch.nn.Module  # eval mode, on `device`
    cfg: object  # the RunConfig
    device: torch.device
    x: torch.Tensor  # (N, C, H, W) test images on `device`; a text run: (N, T) padded token ids
    y: torch.Tensor  # (N,) their labels on the CPU (-1 = none)
    history: list[dict]  # metrics.json's per-epoch records
    best: tuple[int, float] | None  # (epoch, validation loss) of the best checkpoint
    which: str  # "best" or "last"
    counts: ReportCounts  # test images used, importance samples K, prior samples for the Fréchet distance
    seed: int
    data_dir: object = None  # where dataset files live (None: the run's setting or the default)
    vocab: object = None  # a text run's Vocabulary (None for images)

    @property
    def run(self) -> str:
        """The run in words for titles, e.g. 'vae on digits'."""
        from vaekit.plots import run_title

        return run_title(self.cfg.model.name, Path(self.cfg.data.name).name, self.which)

    @property
    def is_text(self) -> bool:
        """A run on sentences (vocab.json): its x are token ids, shown as words."""
        return self.model.data_kind == "sentences"

    @property
    def item(self) -> str:
        """What one data point is called in words: 'image' or 'sentence'."""
        return "sentence" if self.is_text else "image"

    @property
    def has_code(self) -> bool:
        """Whether the model has a latent code z: all do but the language model (lm)."""
        return self.model.code_kind != "none"

    @property
    def num_labels(self) -> int:
        """Classes the model is conditioned on (0: not conditional)."""
        return self.model.num_labels

    @property
    def y_model(self) -> torch.Tensor | None:
        """Labels on the device for a conditional model, else None."""
        return self.y.to(self.device) if self.num_labels else None

    @property
    def discrete(self) -> bool:
        """A code that is a grid of discrete codes, decoded through a codebook (the VQ-VAE's)."""
        return self.model.code_kind == "grid"


def open_context(
    run_dir: Path,
    counts: ReportCounts | None = None,
    which: str = "best",
    device: str = "auto",
    data_dir=None,
    seed: int = 0,
) -> ReportContext:
    """Loads the run (its model, config and curves) and up to `counts.limit` of its test images."""
    from vaekit.data import TextOptions, load_dataset
    from vaekit.data.vocab import Vocabulary
    from vaekit.train import load_run, resolve_device

    counts = counts or ReportCounts()
    limit = counts.limit
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model, cfg = load_run(run_dir, which, dev)
    text, vocab = None, None
    if cfg.vocab_size:  # a sentence model: its test sentences are read with its own vocabulary
        vocab = Vocabulary.load(run_dir / "vocab.json")
        text = TextOptions.of_run(cfg.data, run_dir)
    data_dir = data_dir or cfg.data.data_dir
    data = load_dataset(cfg.data.name, data_dir, image_size=cfg.data.image_size, download=True, text=text)
    x, y = data.split("test")
    metrics = _read_json(run_dir / "metrics.json")
    has_best = "best_epoch" in metrics and "best_val_loss" in metrics
    best = (metrics["best_epoch"], metrics["best_val_loss"]) if has_best else None
    return ReportContext(
        run_dir,
        model,
        cfg,
        dev,
        x[:limit].to(dev),
        y[:limit].cpu(),
        list(metrics.get("epochs", [])),
        best,
        which,
        counts,
        seed,
        data_dir,
        vocab,
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
