"""Model cards: `train` and `eval` write RUN/README.md, `vaekit card` rewrites it, and huggingface_hub's
own card classes read its metadata back (offline: parsing only, nothing is uploaded)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import TINY
from vaekit.cli import main

hub = pytest.importorskip("huggingface_hub", reason="pip install 'vaekit[cards]'")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae-card"
    assert main(["train", "vae", "--data", "digits", "--epochs", "3", "--out", str(out), *TINY]) == 0
    return out


def test_train_writes_a_card_hugging_face_reads(run):
    card = hub.ModelCard.load(run / "README.md")
    assert card.data.library_name == "vaekit"
    assert {"vaekit", "variational-autoencoder", "vae", "image", "digits"} <= set(card.data.tags)
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert card.data.eval_results is None  # not evaluated yet, and the card says so
    assert "Not evaluated yet" in card.text
    assert f"vaekit train vae --data digits --epochs 3 --out {run}" in card.text  # the exact command
    assert "![Samples from the prior](samples.png)" in card.text and (run / "samples.png").is_file()
    assert "CC BY 4.0" in card.text  # the data's licence
    assert 'load_run("RUN_DIR")' in card.text


def test_eval_puts_its_numbers_in_the_metadata_and_the_text(run, capsys):
    assert main(["eval", str(run), "-k", "20", "--fid-samples", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    card = hub.ModelCard.load(run / "README.md")
    found = {r.metric_type: r for r in card.data.eval_results}
    assert set(found) == {"nll", "elbo", "bits_per_dim", "active_units"}
    assert found["nll"].metric_value == pytest.approx(result["nll"])
    assert found["elbo"].metric_value == pytest.approx(result["elbo"])
    assert found["nll"].dataset_split == "test" and "K=20" in found["nll"].metric_name
    assert found["nll"].task_type == "unconditional-image-generation"
    assert card.data.metrics == ["nll", "elbo", "bits_per_dim", "active_units"]
    assert "the test split, 200 examples, K=20 importance samples" in card.text
    assert f"vaekit eval {run} -k 20 --fid-samples 0 --json" in card.text.split("The evaluation commands:")[1]
    assert "| -log p(x), importance-sampled (nats; lower is better) |" in card.text
    # the metadata survives huggingface_hub's own round trip
    again = hub.ModelCard(card.content)
    assert again.data.to_dict() == card.data.to_dict()


def test_card_command_rewrites_the_card_of_a_copied_run(run, tmp_path, capsys):
    copy = tmp_path / "downloaded"
    shutil.copytree(run, copy)
    (copy / "README.md").unlink()
    assert main(["card", str(copy)]) == 0
    text = (copy / "README.md").read_text()
    assert text.split("## Evaluation")[1] == (run / "README.md").read_text().split("## Evaluation")[1]
    assert main(["sample", str(copy), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0  # usable from anywhere
    assert main(["card", str(tmp_path / "nothing")]) == 2
    assert "not a vaekit run" in capsys.readouterr().err and not (tmp_path / "nothing").exists()
