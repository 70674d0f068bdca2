"""Shared fixtures: the real data folder and one small trained run on the embedded digits."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def digits_2d_run(tmp_path_factory) -> Path:
    """A VAE with a 2-D code on digits: its latent plane can be drawn and dragged over."""
    out = tmp_path_factory.mktemp("runs") / "vae-2d"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--epochs",
                "30",
                "--lr",
                "3e-3",
                "--hidden",
                "64",
                "--latent-dim",
                "2",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


# A code prior small enough to fit in a second (the VQ-VAE runs of the tests).
TINY_PRIOR_FLAGS = ["--epochs", "1", "--dim", "16", "--layers", "1", "--heads", "2", "--quiet"]
TINY_MODEL_FLAGS = {"vqvae": ["--channels", "8,16", "--latent-dim", "4"]}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tiny_run(name) -> a run of that registry model, 2 epochs on digits, trained once per session.
    'vqvae+prior' is the VQ-VAE with a code prior fitted (so it samples)."""
    runs: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in runs:
            model = name.split("+")[0]
            if model != name:
                run = tmp_path_factory.mktemp("runs") / name.replace("+", "-")
                shutil.copytree(get(model), run)
                assert main(["train-prior", str(run), *TINY_PRIOR_FLAGS]) == 0
            else:
                run = tmp_path_factory.mktemp("runs") / name
                flags = TINY_MODEL_FLAGS.get(name, ["--hidden", "32", "--latent-dim", "4"])
                args = ["train", name, "--data", "digits", "--epochs", "2", "--quiet", "--out", str(run), *flags]
                assert main(args) == 0
            runs[name] = run
        return runs[name]

    return get


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's package, installed here when missing) driven by Selenium."""
    from tests.browser import ensure_chromium, start_browser

    reason = ensure_chromium()
    if reason:
        pytest.skip(f"no headless browser for the web tests: {reason}")
    driver = start_browser()
    yield driver
    driver.quit()


TINY_TEXT = ["--hidden", "16", "--embedding-dim", "16", "--latent-dim", "4", "--batch-size", "32", "--quiet"]


@pytest.fixture(scope="session")
def ptb_slice_file(real_data_dir, tmp_path_factory) -> Path:
    """The first 300 PTB training sentences as a user's one-sentence-per-line file."""
    source = real_data_dir / "ptb" / "ptb.train.txt"
    if not source.is_file():
        pytest.skip("the PTB files are not in the data folder")
    path = tmp_path_factory.mktemp("text") / "ptb_slice.txt"
    path.write_text("\n".join(source.read_text().splitlines()[:300]) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_text_run(ptb_slice_file, tmp_path_factory):
    """tiny_text_run(name) -> a sentence model ('vae', 'lm', ...) trained for seconds on the PTB slice."""
    runs: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in runs:
            run = tmp_path_factory.mktemp("runs") / f"{name}-text"
            flags = ["--epochs", "3", "--lr", "1e-2", "--data", str(ptb_slice_file), "--out", str(run), *TINY_TEXT]
            assert main(["train", name, *flags]) == 0
            runs[name] = run
        return runs[name]

    return get
