"""metrics.json: a run's per-epoch records and its best epoch, written atomically after each epoch."""

from __future__ import annotations

import json
from pathlib import Path

from vaekit.io import atomic_write_text


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    best = min(history, key=lambda r: r["val_loss"]) if history else None
    payload = {"best_epoch": best and best["epoch"], "best_val_loss": best and best["val_loss"], "epochs": history}
    atomic_write_text(Path(run_dir) / "metrics.json", json.dumps(payload, indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict:
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {"epochs": []}
