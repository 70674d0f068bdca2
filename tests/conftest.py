"""Shared fixtures: the real data folder and one small trained run on the embedded digits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vaekit.cli import main

# Two cores in CI: one intra-op thread avoids oversubscription when pytest runs other work.
torch.set_num_threads(1)

TINY = ["--hidden", "64", "--latent-dim", "8", "--quiet"]


def shared_data_dir() -> Path | None:
    if os.environ.get("VAEKIT_DATA_DIR"):
        return Path(os.environ["VAEKIT_DATA_DIR"])
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return beside if beside.is_dir() else None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    found = shared_data_dir()
    if found is None or not (found / "mnist").is_dir():
        pytest.skip("real data not found: set VAEKIT_DATA_DIR to the shared/data folder")
    return found


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A small VAE trained for 40 epochs on digits through the CLI, as a user would."""
    out = tmp_path_factory.mktemp("runs") / "vae-digits"
    assert main(["train", "vae", "--data", "digits", "--epochs", "40", "--lr", "3e-3", "--out", str(out), *TINY]) == 0
    return out


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu are skipped where PyTorch sees no CUDA device (CI, the dev machine)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
