"""Picture commands on a trained run: earlier pictures kept, --out everywhere, what the latents say."""

from __future__ import annotations

import shutil

import pytest
import torch

from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.eval.latent import latent_activity, project_2d
from vaekit.eval.likelihood import evaluate
from vaekit.train import load_run


@pytest.fixture
def run(digits_run, tmp_path):
    """A private copy of the shared digits run, so pictures written here touch no other test."""
    return shutil.copytree(digits_run, tmp_path / "run")


def test_sampling_with_other_settings_keeps_the_training_pictures(run, capsys):
    trained = (run / "samples.png").read_bytes()
    assert main(["sample", str(run), "--prior", "gmm:3", "-n", "8"]) == 0
    assert main(["sample", str(run), "--temperature", "0.5", "-n", "8"]) == 0
    assert (run / "samples.png").read_bytes() == trained
    assert (run / "samples-gmm3.png").is_file() and (run / "samples-t0.5.png").is_file()
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "8"]) == 0  # the same settings: replaced, and said so
    assert f"replaced {run / 'samples.png'}" in capsys.readouterr().err


def test_reconstruct_says_when_the_split_has_fewer_images(run, capsys):
    assert main(["reconstruct", str(run), "-n", "500", "--split", "val"]) == 0
    err = capsys.readouterr().err
    assert "the val split has only 200 images: showing 200, not 500" in err
    assert (run / "reconstructions-val.png").is_file()


def test_latents_takes_out_and_writes_both_pictures_there(run, tmp_path, capsys):
    before = {p.name for p in run.iterdir()}
    out = tmp_path / "pictures"
    assert main(["latents", str(run), "--out", str(out), "--rows", "3", "--limit", "200"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["latent-scatter.png", "traversals.png"]
    assert {p.name for p in run.iterdir()} == before
    assert main(["latents", str(run), "--out", str(out / "traversals.png")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_latent_kl_per_dimension_adds_up_to_the_models_kl(digits_run):
    model, _ = load_run(digits_run)
    x = load_dataset("digits").test_x
    activity = latent_activity(model, x, batch_size=64)
    assert activity.measure == "KL" and activity.values.shape == (8,)
    assert (activity.values >= 0).all()
    kl = evaluate(model, x, k=1)["kl"]
    assert float(activity.values.sum()) == pytest.approx(kl, rel=1e-4)
    assert activity.values[activity.order()[0]] == activity.values.max()


def test_projections_name_their_axes():
    codes = torch.randn(60, 5) * torch.tensor([3.0, 1, 1, 0.1, 0.1])
    points, names, how = project_2d(codes, "pca")
    assert points.shape == (60, 2) and names[0].startswith("PC 1 (") and "variance" in names[0]
    assert "principal components" in how
    share = [int(n.split("(")[1].split("%")[0]) for n in names]
    assert share[0] > share[1] > 0
    points, names, _ = project_2d(codes[:, :2], "tsne")
    assert names == ("z1", "z2") and torch.equal(points, codes[:, :2])
    points, names, _ = project_2d(codes, "tsne")
    assert points.shape == (60, 2) and names == ("t-SNE 1", "t-SNE 2")
