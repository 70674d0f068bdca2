"""`vaekit encode RUN ...`: the codes of a trained model's inputs, checked against model.encode itself."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from vaekit.cli import main
from vaekit.commands._common import open_data, open_split, open_vocab
from vaekit.generate.text import sentences_to_tensor
from vaekit.train import load_run

SENTENCES = ["the company said it expects to report a loss .", "stocks fell sharply on wall street"]


def _tsv(out: str) -> tuple[list[str], list[str], np.ndarray]:
    head, *rows = out.strip().splitlines()
    cells = [r.split("\t") for r in rows]
    return head.split("\t"), [c[0] for c in cells], np.array([[float(v) for v in c[1:]] for c in cells])


def test_sentences_give_the_posterior_of_model_encode(tiny_text_run, capsys):
    run = tiny_text_run("vae")
    capsys.readouterr()
    assert main(["encode", str(run), *SENTENCES]) == 0
    out, err = capsys.readouterr()
    head, names, values = _tsv(out)
    assert names == SENTENCES and head[:3] == ["input", "kl", "mean_1"] and head[-1] == "std_4"
    model, _ = load_run(run)
    with torch.no_grad():
        q = model.encode(sentences_to_tensor(open_vocab(run), SENTENCES))
        kl = kl_divergence(q, Independent(Normal(torch.zeros(4), torch.ones(4)), 1))
    np.testing.assert_allclose(values[:, 1:5], q.mean.numpy(), rtol=1e-4, atol=1e-5)  # printed with 6 digits
    np.testing.assert_allclose(values[:, 5:], q.stddev.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(values[:, 0], kl.numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(values[0, 1:5], values[1, 1:5], atol=1e-4)  # two sentences, two codes
    assert "closed form" in err


def test_a_file_to_npz_without_pickle_and_unknown_words_named(tiny_text_run, tmp_path, capsys):
    run = tiny_text_run("vae")
    lines = tmp_path / "in.txt"
    lines.write_text(f"{SENTENCES[0]}\n\n{SENTENCES[1]} zyzzyva\n")  # the blank line is skipped
    out = tmp_path / "codes.npz"
    capsys.readouterr()
    assert main(["encode", str(run), "--file", str(lines), "--out", str(out)]) == 0
    stdout, err = capsys.readouterr()
    said = [line for line in err.splitlines() if line.startswith("--file: ")]  # one line for the whole file
    assert stdout == "" and len(said) == 1 and "outside the run's vocabulary, read as <unk>" in said[0]
    assert "'zyzzyva'" in said[0] and "'company'" not in said[0]
    saved = np.load(out, allow_pickle=False)
    assert sorted(saved.files) == ["input", "kl", "mean", "std"]
    assert saved["mean"].shape == (2, 4) and saved["kl"].shape == (2,) and (saved["std"] > 0).all()
    assert list(saved["input"]) == [SENTENCES[0], f"{SENTENCES[1]} zyzzyva"]
    model, _ = load_run(run)
    with torch.no_grad():
        means = model.encode(sentences_to_tensor(open_vocab(run), list(saved["input"]))).mean
    np.testing.assert_allclose(saved["mean"], means.numpy(), rtol=1e-5, atol=1e-6)


def test_a_split_as_json_matches_the_sentences_of_that_split(tiny_text_run, capsys):
    run = tiny_text_run("vae")
    capsys.readouterr()
    assert main(["encode", str(run), "--split", "val", "--limit", "3", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and all(len(r["mean"]) == 4 and r["kl"] >= 0 for r in rows)
    model, cfg = load_run(run)
    x = open_data(cfg, argparse.Namespace(data_dir=None, run_dir=run)).val_x[:3]
    with torch.no_grad():
        means = model.encode(x[:, : int((x != 0).sum(1).max())]).mean
    np.testing.assert_allclose([r["mean"] for r in rows], means.numpy(), rtol=1e-5, atol=1e-6)


def test_typed_sentences_are_read_with_the_runs_tokenizer(tmp_path, capsys):
    lines = [f"The {a} Cat sees a {b} apple." for a in ("red", "old", "big", "small") for b in ("green", "ripe")] * 5
    path, run = tmp_path / "cats.txt", tmp_path / "run"
    path.write_text("\n".join(lines) + "\n")
    flags = ["--epochs", "1", "--lower", "--split-punct", "--hidden", "16", "--embedding-dim", "16", "--quiet"]
    assert main(["train", "vae", "--data", str(path), *flags, "--latent-dim", "4", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["encode", str(run), "THE RED CAT sees a green apple.", "the red cat sees a green apple ."]) == 0
    out, err = capsys.readouterr()
    _, _, values = _tsv(out)
    np.testing.assert_array_equal(values[0], values[1])  # lower-cased and split as the training text was
    assert "outside the run's vocabulary" not in err


def test_image_runs_give_what_their_code_is(tiny_run, tmp_path, capsys):
    vae, ae, vq = (tiny_run(name) for name in ("vae", "ae", "vqvae"))
    for run, keys in ((vae, ["input", "kl", "mean", "std"]), (ae, ["code", "input"]), (vq, ["codes", "input"])):
        out = tmp_path / f"{run.name}.npz"
        assert main(["encode", str(run), "--split", "test", "--limit", "5", "--out", str(out)]) == 0
        saved = np.load(out, allow_pickle=False)
        assert sorted(saved.files) == keys and list(saved["input"]) == [f"test[{i}]" for i in range(5)]
    model, cfg = load_run(vq)
    x, _ = open_split(cfg, argparse.Namespace(data_dir=None, run_dir=vq), "test")
    with torch.no_grad():
        assert torch.equal(torch.from_numpy(np.load(tmp_path / f"{vq.name}.npz")["codes"]), model.codes(x[:5]))


def test_image_files_are_read_at_the_runs_size(tiny_run, tmp_path, capsys):
    from PIL import Image

    run = tiny_run("vae")
    model, cfg = load_run(run)
    _, h, w = cfg.image_shape
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, value in enumerate((0, 255)):  # a black and a white image, twice the run's size
        Image.new("RGB", (2 * w, 2 * h), (value, value, value)).save(folder / f"{i}.png")
    capsys.readouterr()
    assert main(["encode", str(run), str(folder), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in rows] == [str(folder / "0.png"), str(folder / "1.png")]
    with torch.no_grad():
        means = model.encode(torch.stack([torch.zeros(1, h, w), torch.ones(1, h, w)])).mean
    np.testing.assert_allclose([r["mean"] for r in rows], means.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["NO_RUN", "a b"], "is not a vaekit run"),
        (["VAE", "--file", "EMPTY"], "is empty"),
        (["VAE", "--split", "dev"], "invalid choice: 'dev'"),
        (["VAE", "a b", "--split", "test"], "not both"),
        (["VAE", "--out", "OUT.txt"], "give a .npz file"),
        (["LM", "a b"], "a language model has no latent code"),
        (["VAE", "   "], "empty sentence"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(tiny_text_run, tmp_path, capsys, args, message):
    (tmp_path / "EMPTY").write_text("")
    names = {"NO_RUN": tmp_path / "none", "VAE": tiny_text_run("vae"), "LM": tiny_text_run("lm")}
    names |= {"EMPTY": tmp_path / "EMPTY", "OUT.txt": tmp_path / "OUT.txt"}
    out = tmp_path / "codes.npz"
    argv = [str(names.get(a, a)) for a in args]
    argv += [] if "--out" in args else ["--out", str(out)]
    capsys.readouterr()
    assert main(["encode", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "OUT.txt").exists()
