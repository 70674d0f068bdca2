"""ONNX export: ONNX Runtime (CPU) gives PyTorch's distribution parameters for every image model,
a fused RepVGG run exports one convolution per block, and docs/onnx.md's numpy-only snippet runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.models import image_models, load_run
from vaekit.onnx_export import parameters

ort = pytest.importorskip("onnxruntime", reason="pip install 'vaekit[onnx]'")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "onnx.md"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _agree(session, inputs: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> float:
    """Runs the graph; its output names must be the parameters' names; returns the largest difference."""
    assert [o.name for o in session.get_outputs()] == list(expected)
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    return max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected.values()))


def _check_run(run: Path, out: Path, digits) -> dict:
    """Exports `run` to `out` through the CLI and compares every graph with PyTorch at batch 1 and 7."""
    assert main(["export", str(run), "--onnx", str(out)]) == 0
    meta = json.loads((out / "onnx.json").read_text())
    model, cfg = load_run(run)
    assert meta["max_abs_difference"] < TOLERANCE
    for n in (1, 7):  # neither is the batch of 3 the graphs were traced with
        x, y = digits.test_x[:n], digits.test_y[:n]
        labels = {"y": y} if model.num_labels else {}
        with torch.no_grad():
            q = model.encode(x, y if labels else None)
            z = q.sample()
            worst = _agree(_session(out / "encoder.onnx"), {"x": x, **labels}, parameters(q))
            p_x = model.decode(z, y if labels else None)
            worst = max(worst, _agree(_session(out / "decoder.onnx"), {"z": z, **labels}, parameters(p_x)))
            if "encoder-second" in meta["graphs"]:  # two stochastic layers
                z1 = q.first.sample()
                worst = max(
                    worst, _agree(_session(out / "encoder-second.onnx"), {"z_first": z1}, parameters(q.then(z1)))
                )
                z2 = torch.randn(n, model.z2_dim)
                prior_second = model.prior().then
                worst = max(
                    worst, _agree(_session(out / "prior-second.onnx"), {"z_first": z2}, parameters(prior_second(z2)))
                )
        assert worst < TOLERANCE, (cfg.model.name, n, worst)
    return meta


@pytest.mark.slow
@pytest.mark.parametrize("name", [*image_models(), "vqvae+prior"])
def test_onnx_runtime_matches_pytorch_for_every_image_model(name, tiny_run, tmp_path, digits, capsys):
    run = tiny_run(name)
    meta = _check_run(run, tmp_path / "onnx", digits)
    assert meta["model"] == name.split("+")[0] and meta["image_shape"] == [1, 8, 8]
    model, _ = load_run(run)
    prior = meta["prior"]
    if not model.has_prior:
        assert prior["type"] == "none"
    elif prior.get("arrays"):  # a cvae's p(z|y), a VampPrior's mixture
        arrays = np.load(tmp_path / "onnx" / "prior.npz", allow_pickle=False)
        assert sorted(arrays.files) == sorted(prior["arrays"])
        assert arrays["loc"].shape[-1] == meta["latent_dim"]
    if name == "vqvae+prior":  # encoder and decoder exported; the note says the code prior is not
        assert "code prior is an autoregressive model" in capsys.readouterr().err


def test_a_fused_repvgg_run_exports_one_convolution_per_block(tmp_path, digits):
    onnx = pytest.importorskip("onnx")
    run = tmp_path / "rep"
    assert (
        main(["train", "vae", "--block", "repvgg", "--channels", "8,16", "--epochs", "2", "--out", str(run), *TINY])
        == 0
    )
    assert main(["export", str(run), "--fuse", "--out", str(tmp_path / "fused")]) == 0
    meta = _check_run(tmp_path / "fused", tmp_path / "fused-onnx", digits)
    assert meta["fused"] is True
    # --fuse --onnx fuses in memory: the same graph without the intermediate run
    assert main(["export", str(run), "--fuse", "--onnx", str(tmp_path / "direct")]) == 0
    plain = _check_run(run, tmp_path / "plain-onnx", digits)
    assert plain["fused"] is False
    fused_model, _ = load_run(tmp_path / "fused")
    convs = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in fused_model.modules())
    counts = {}
    for folder in ("fused-onnx", "direct", "plain-onnx"):
        ops = [n.op_type for g in ("encoder", "decoder") for n in onnx.load(tmp_path / folder / f"{g}.onnx").graph.node]
        counts[folder] = sum(op in ("Conv", "ConvTranspose") for op in ops)
    assert counts["fused-onnx"] == counts["direct"] == convs  # one convolution per fused block
    assert counts["plain-onnx"] > convs  # the trained branches: 3x3, 1x1 (batch norm folded into them)


def test_refusals_are_one_line_and_write_nothing(tiny_run, tiny_text_run, tmp_path, capsys):
    run = tiny_run("vae")
    out = tmp_path / "onnx"
    assert main(["export", str(tiny_text_run("vae")), "--onnx", str(out)]) == 2
    assert "image models" in capsys.readouterr().err and not out.exists()
    assert main(["export", str(run), "--onnx", str(out), "--out", str(tmp_path / "x")]) == 2
    assert main(["export", str(run), "--fuse", "--onnx", str(out)]) == 2  # no branched blocks
    err = capsys.readouterr().err
    assert "drop --fuse" in err and not out.exists() and not (tmp_path / "x").exists()
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["export", str(run), "--onnx", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "mine.txt").read_text() == "keep"
    assert main(["export", str(run), "--onnx", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "onnx.json"]
    assert not list(tmp_path.glob(".onnx.export-*"))  # no staging folder left behind


def test_the_docs_snippet_samples_digits_with_numpy_and_onnxruntime_alone(digits_run, tmp_path):
    snippet = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    assert main(["export", str(digits_run), "--onnx", str(tmp_path / "runs" / "digits-onnx")]) == 0
    blocked = "import sys\nfor m in ('torch', 'vaekit'):\n    sys.modules[m] = None  # importing either now fails\n"
    done = subprocess.run(
        [sys.executable, "-c", blocked + snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "vae on digits -> (16, 1, 8, 8)" in done.stdout
    means = np.load(tmp_path / "digits-onnx.npy")
    model, _ = load_run(digits_run)
    z = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)  # the snippet's draws
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).mean.numpy()
    assert np.abs(means - expected).max() < TOLERANCE
