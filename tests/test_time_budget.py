"""`vaekit train --time`: training for a wall-clock budget, the learning rate decayed over it."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.commands._common import duration
from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.train.trainer import Trainer


def test_durations_parse_and_bad_ones_are_refused(capsys):
    assert duration("90s") == 90 and duration("45m") == 2700 and duration("1.5h") == 5400 and duration("12") == 12
    for bad in ("abc", "-5m", "0", "m"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
    try:
        code = main(["train", "vae", "--time", "an hour", "--quiet"])
    except SystemExit as stop:  # argparse's own exit
        code = stop.code
    assert code == 2 and "duration" in capsys.readouterr().err


def test_time_budget_stops_within_the_budget_and_keeps_the_best(tmp_path, capsys):
    out, budget = tmp_path / "timed", 4.0
    assert main(["train", "vae", "--time", f"{budget}s", "--lr", "3e-3", "--out", str(out), *TINY]) == 0
    assert " for 4s -> " in capsys.readouterr().err  # the clock, said where training starts
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["epochs"]
    assert len(history) >= 3  # it trained for the time, not the default 50 epochs and not one
    assert history[-1]["elapsed"] <= budget  # steps, validations and checkpoints all inside it
    assert history[-1]["elapsed"] >= 0.5 * budget  # and it used the time
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["time_budget"] == budget
    lrs = [r["lr"] for r in history]  # log-linear from 3e-3 towards 3e-4 over the budget
    assert lrs[0] == pytest.approx(3e-3, rel=0.05) and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert 3e-4 <= lrs[-1] < 0.6 * lrs[0]  # decayed (the margin kept at the end stops it a little before 3e-4)
    assert (out / "model.safetensors").is_file() and metrics["best_val_loss"] == min(r["val_loss"] for r in history)


def test_lr_follows_the_clock_under_a_budget(tmp_path):
    cfg = RunConfig(
        model=ModelConfig(hidden=(16,), latent_dim=2), train=TrainConfig(epochs=1000, lr=1e-3, time_budget=100.0)
    )
    trainer = Trainer(cfg, load_dataset("digits"), tmp_path / "run", show_progress=False)
    assert trainer.lr_at(0, elapsed=0.0) == pytest.approx(1e-3)
    assert trainer.lr_at(7, elapsed=50.0) == pytest.approx(1e-3 * 0.1**0.5)  # the epoch number does not matter
    assert trainer.lr_at(9, elapsed=250.0) == pytest.approx(1e-4)  # past the budget: the end value
