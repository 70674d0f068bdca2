"""A person's own networks as a vaekit model: examples/my_vae_plugin, found through its entry point
(an installed package's metadata) or its import path, trained from the CLI and opened by every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from vaekit.cli import main
from vaekit.errors import VaekitError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_vae_plugin"
FLAGS = ["--data", "digits", "--epochs", "2", "--latent-dim", "4", "--set", "width=8", "--quiet"]

with warnings.catch_warnings():  # Starlette's TestClient announces a move to httpx2; it is still the real app
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The example package importable, and its entry point seen as an installed distribution's is:
    a .dist-info folder with the entry_points.txt that `pip install` would write from its pyproject."""
    site = tmp_path / "site"
    info = site / "my_vae_plugin-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-vae-plugin\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[vaekit.models]\nmy-conv-vae = my_vae_plugin:build\n")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))
    return [str(EXAMPLE), str(site)]


def test_the_entry_point_model_trains_and_every_command_opens_its_run(installed, tmp_path, capsys):
    from vaekit.models import check_model, load_run
    from vaekit.models.plugins import EncoderDecoderVAE
    from vaekit.web import Explorer, create_app

    run = tmp_path / "run"
    assert main(["train", "my-conv-vae", "--out", str(run), *FLAGS]) == 0
    model = json.loads((run / "config.json").read_text())["model"]
    assert model["name"] == "my-conv-vae" and model["plugin"] == "my_vae_plugin:build"
    assert model["options"]["width"] == 8 and model["options"]["beta"] == 1.0  # its own option, and the ELBO's
    loaded, cfg = load_run(run)
    check_model(loaded)  # the wrapped pair keeps the whole contract
    assert isinstance(loaded, EncoderDecoderVAE) and type(loaded.encoder).__module__ == "my_vae_plugin"
    assert loaded.encoder.net[0].out_channels == 8  # the option reached the person's own network

    capsys.readouterr()
    assert main(["eval", str(run), "--iw-samples", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["nll"] <= -result["elbo"] + 1.0 and result["n"] == 200
    assert (
        main(["sample", str(run), "-n", "8", "--out", str(tmp_path / "s.png"), "--save-array", str(tmp_path / "s.npy")])
        == 0
    )
    assert (tmp_path / "s.png").is_file() and (tmp_path / "s.npy").is_file()
    assert main(["report", str(run), "--limit", "40", "--iw-samples", "2", "--fid-samples", "0"]) == 0
    page = (run / "report.html").read_text()
    assert "my-conv-vae on digits" in page and "data:image/png;base64," in page

    from vaekit.data import load_dataset

    data = load_dataset(cfg.data.name)
    client = TestClient(create_app(Explorer(loaded, cfg, data.test_x, data.test_y, title="plugin")))
    info = client.get("/api/info").json()
    assert info["latent_dim"] == 4 and info["has_prior"]
    shown = client.post("/api/decode", json={"z": [0.0] * 4})
    sampled = client.post("/api/sample", json={"seed": 1})
    assert shown.status_code == 200 and sampled.status_code == 200 and len(sampled.json()["z"]) == 4


def test_an_import_path_trains_without_installing_and_a_missing_package_is_one_line(installed, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "my_vae_plugin:build", "--out", str(run), *FLAGS]) == 0
    assert json.loads((run / "config.json").read_text())["model"]["plugin"] == "my_vae_plugin:build"
    # A fresh process where the package is not importable: one line that names the import path, exit 2.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if "my_vae_plugin" not in p and p)}
    done = subprocess.run(
        [sys.executable, "-m", "vaekit", "eval", str(run)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "my_vae_plugin:build" in done.stderr and "cannot be imported" in done.stderr and "config.json" in done.stderr


def test_a_bad_model_name_or_import_path_is_one_line(installed, capsys):
    for argv, words in (
        (["train", "vea"], ["invalid choice: 'vea'", "my-conv-vae"]),
        (["train", "no_such_package_xyz:build"], ["no_such_package_xyz", "cannot be imported"]),
        (["train", "my_vae_plugin:nothing"], ["my_vae_plugin has no nothing"]),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and all(w in err for w in words), err


def test_a_trainer_takes_a_model_object(installed, tmp_path):
    """Python: Trainer(..., model=obj) trains that very object; a run whose config names the build
    function that makes the same network opens with load_run."""
    import my_vae_plugin

    from vaekit.config import ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.models import load_run
    from vaekit.models.plugins import EncoderDecoderVAE
    from vaekit.train import Trainer

    data = load_dataset("digits")
    model_cfg = ModelConfig(
        name="my_vae_plugin:build", plugin="my_vae_plugin:build", latent_dim=3, options={"width": 4}
    )
    cfg = RunConfig(model=model_cfg, train=TrainConfig(epochs=2, batch_size=64))
    mine = EncoderDecoderVAE(*my_vae_plugin.build(model_cfg, (1, 8, 8), 10, width=4), latent_dim=3)
    trainer = Trainer(cfg, data, tmp_path / "run", show_progress=False, model=mine)
    assert trainer.model is mine
    before = [p.detach().clone() for p in mine.parameters()]
    trainer.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, mine.parameters()))
    loaded, _ = load_run(tmp_path / "run", "last")
    assert all(torch.equal(a, b.cpu()) for a, b in zip(loaded.state_dict().values(), mine.state_dict().values()))


def test_a_model_object_the_config_cannot_rebuild_is_refused_before_anything_is_written(tmp_path):
    """The run must open again from config.json (weights only, never pickled code): a model object that
    the config's model would not rebuild is one clear error, and no folder is made."""
    from vaekit.config import ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.train import Trainer

    data = load_dataset("digits")
    cfg = RunConfig(model=ModelConfig(latent_dim=3, hidden=(16,)), train=TrainConfig(epochs=1))
    other = torch.nn.Linear(3, 3)
    with pytest.raises(VaekitError, match="model.name"):
        Trainer(cfg, data, tmp_path / "run", show_progress=False, model=other)
    assert not (tmp_path / "run").exists()
