"""Nothing on screen that is untrue: each row of issue 22's list "things on screen that are not
true" (from a fresh trial), held by a test where a test can hold it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch

from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.io import load_tensors, save_tensors

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose(path: Path) -> str:
    """A Markdown page without its code blocks and code spans."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def test_no_page_shows_an_unfilled_placeholder():
    """A name such as DEFAULTS_MIN in the prose is a number someone forgot to fill in."""
    found = {p.name: re.findall(r"\b[A-Z]{2,}_[A-Z0-9_]+\b", _prose(p)) for p in PAGES}
    assert not {k: v for k, v in found.items() if v}


def test_the_pages_agree_with_the_code_on_where_the_classifier_is_cached(monkeypatch, tmp_path):
    from vaekit.eval.classifier import cache_path

    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path))
    assert cache_path() == tmp_path / "classifiers" / "mnist-cnn.safetensors"
    said = {p.name: re.findall(r"`<([^>]+)>/classifiers/", p.read_text()) for p in PAGES}
    assert {where for places in said.values() for where in places} == {"cache dir"}, said


def test_the_readme_says_how_to_reach_vaekit_after_make_demo():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]  # before the first command that needs it
    assert "source .venv/bin/activate" in head and ".venv/bin/vaekit" in head


def test_a_one_epoch_run_draws_its_point_on_every_chart():
    from vaekit.plots import curves_figure

    record = {"epoch": 1, "train_loss": 90.0, "train_kl": 5.0, "val_loss": 91.0, "val_kl": 5.1}
    fig = curves_figure([record], "one epoch")
    try:
        for ax in fig.axes:
            assert ax.lines and all(line.get_marker() not in (None, "None", "") for line in ax.lines)
    finally:
        plt.close(fig)


def test_the_sliders_most_active_first_follow_the_kl_they_show(tiny_run):
    from vaekit.data import load_dataset
    from vaekit.models.run import load_run
    from vaekit.web import Explorer

    model, cfg = load_run(tiny_run("vae"))
    data = load_dataset(cfg.data.name)
    axes = Explorer(model, cfg, data.test_x, data.test_y).axes
    kls = [a.kl for a in axes]
    assert None not in kls and kls == sorted(kls, reverse=True), kls


def test_eval_says_how_many_real_images_the_fid_compares_against():
    from vaekit.commands.evaluate import _quality_lines

    q = {
        "samples": 1000,
        "real_images": 1000,
        "classifier": "mnist",
        "classifier_test_accuracy": 0.9887,
        "fid": 40.0,
        "fid_real": 2.0,
        "inception_score": 7.0,
        "inception_score_real": 9.5,
    }
    line = _quality_lines(q, evaluated=500)[0]
    assert "1000 prior samples against the first 1000 real test images" in line and "not the 500" in line
    assert "not the" not in _quality_lines(q, evaluated=1000)[0]


def test_report_names_the_test_behind_each_count_of_active_latents():
    from vaekit.report.figures import latent_use_figure
    from vaekit.report.summary import MEASURES

    assert "Var" in MEASURES["active_units"] and "KL" in MEASURES["active_units"]
    fig = latent_use_figure([0.5, 0.001, 0.2], "KL", " nats", "run", 0.01)
    try:
        assert "2 of 3 latents with KL ≥ 0.01 nats" in fig.axes[0].get_title()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("keep", [300, 20, 4])
def test_a_truncated_checkpoint_is_called_cut_short(keep, tmp_path):
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.zeros(64, 16)}, {"epoch": 1})
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(VaekitError, match="cut short") as caught:
        load_tensors(path)
    assert "not a safetensors file" not in str(caught.value)


def test_a_pickle_is_still_not_a_safetensors_file(tmp_path):
    import pickle

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0] * 100}))
    with pytest.raises(VaekitError, match="not a safetensors file written by vaekit"):
        load_tensors(path)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
def test_out_in_proc_gives_the_true_reason(capsys):
    assert main(["train", "vae", "--out", "/proc/x", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "proc filesystem" in err and "No such file" not in err, err


def test_report_on_a_broken_run_prints_its_error_alone(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run("vae"), run)
    for name in ("model.safetensors", "last.safetensors"):
        (run / name).write_bytes(b"\0" * 10)
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and err.count("\n") == 1, repr(err)
