"""Bad input of every class, as a table: each row is what a user typed, and what must come back.

A row names the defect of issue 13 it pins, or the class of input it feeds: image folders,
arrays, run folders, checkpoints, the numeric options of every command. For a refused input
the row asserts the exit status 2, one line on stderr naming the input and the fix, no
traceback, and that not one file changed anywhere in the working folder. Rows that used to be
refused wrongly (defects 1, 2, 5 and the misplaced --threads) assert that they now work.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli import main

TINY = ["--hidden", "16", "--latent-dim", "4", "--quiet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A 1-epoch VAE on the embedded digits (by the library: the CLI's pictures are not needed here)."""
    from vaekit.config import ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.train import Trainer

    out = tmp_path_factory.mktemp("tiny") / "run"
    cfg = RunConfig(model=ModelConfig(hidden=(16,), latent_dim=4), train=TrainConfig(epochs=1))
    Trainer(cfg, load_dataset("digits"), out, show_progress=False).fit()
    return out


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root`, with a hash of each file's bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


# -- inputs a row can ask for (each writes into the working folder `w`) ----------------------
def _images(w: Path, sizes=((8, 8),) * 30, folder="imgs") -> None:
    (w / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, size in enumerate(sizes):
        Image.fromarray((rng.random(size) * 255).astype(np.uint8)).save(w / folder / f"{i:03d}.png")


def _array(name: str, array) -> callable:
    return lambda w, run: np.save(w / name, array, allow_pickle=array.dtype == object)


def _run(w: Path, src: Path, name: str = "run") -> Path:
    shutil.copytree(src, w / name)
    return w / name


class _Exploit:
    """Unpickling this creates a file named PWNED: proof that something unpickled it."""

    def __reduce__(self):
        return (Path.touch, (Path("PWNED").absolute(),))


PICKLE = pickle.dumps({"weights": _Exploit()})


def _read_only(w: Path, name: str) -> None:
    """A folder no one can write to: a read-only tmpfs where we are root, else mode 0555."""
    folder = w / name
    folder.mkdir()
    if os.geteuid() == 0:
        mount = ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)]
        done = subprocess.run(mount, capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip("root, but cannot mount a read-only tmpfs here")
        MOUNTS.append(folder)
    else:
        folder.chmod(0o555)


MOUNTS: list[Path] = []


@pytest.fixture(autouse=True)
def _unmount():
    yield
    while MOUNTS:
        subprocess.run(["umount", str(MOUNTS.pop())], check=False)


def _train_tiny(data: str, out: str) -> None:
    from vaekit.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.train import Trainer

    cfg = RunConfig(
        data=DataConfig(name=data),
        model=ModelConfig(hidden=(16,), latent_dim=4),
        train=TrainConfig(epochs=1, batch_size=8),
    )
    Trainer(cfg, load_dataset(data), out, show_progress=False).fit()


def _setup_run(w, run, *edits):
    r = _run(w, run)
    for edit in edits:
        edit(r)


def _truncate(name: str):
    return lambda r: (r / name).write_bytes((r / name).read_bytes()[:300])


def _edit_config(change):
    def edit(r):
        cfg = json.loads((r / "config.json").read_text())
        change(cfg)
        (r / "config.json").write_text(json.dumps(cfg))

    return edit


def on(data: str, *flags: str) -> list[str]:
    """`vaekit train vae` on `data`, into ./run."""
    return ["train", "vae", "--data", data, "--out", "run", *flags]


TRAIN = ["train", "vae", "--out", "run", *TINY]
RESUME = ["train", "vae", "--out", "run", "--resume", "--epochs", "2", "--quiet"]


def copy(w, r):
    return _run(w, r)


def edited(*edits):
    return lambda w, r: _setup_run(w, r, *edits)


def _write(name: str, data: bytes):
    return lambda w, r: (w / name).write_bytes(data)


def _truncated_npy(w, r):
    np.save(w / "a.npy", np.zeros((50, 8, 8)))
    (w / "a.npy").write_bytes((w / "a.npy").read_bytes()[:200])


def _ragged() -> np.ndarray:
    out = np.empty(2, dtype=object)  # two images of different sizes: only a pickle can hold them
    out[:] = [np.zeros((8, 8)), np.zeros((5, 5))]
    return out


def _npz(compressed: bool = False, **arrays):
    save = np.savez_compressed if compressed else np.savez
    return lambda w, r: save(w / "a.npz", **arrays)


def _npz_pickle(w, r):
    """An .npz whose member is a pickle that would create PWNED."""
    import zipfile

    with zipfile.ZipFile(w / "a.npz", "w") as z:
        z.writestr("x.npy", _npy_bytes(np.array([_Exploit()], dtype=object)))


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _huge_header(w, r):
    """A .npy header promising 4 PB, followed by 64 bytes."""
    with open(w / "a.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1000, 1000)})
        f.write(b"\0" * 64)


def _huge_member(w, r):
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 1000, 1000)})
    with zipfile.ZipFile(w / "a.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", header.getvalue() + b"\0" * 64)


def _not_a_run_folder(w, r):
    (w / "notes").mkdir()
    (w / "notes" / "a.txt").write_text("mine")


def _nan_lr(d):
    (d / "config.json").write_text((d / "config.json").read_text().replace('"lr": 0.001', '"lr": NaN'))


# id, setup(w, tiny_run), argv, words the error must contain (all of them)
REFUSED = [
    # -- defects of issue 13 ------------------------------------------------------------
    (
        "3-out-read-only",
        lambda w, r: _read_only(w, "ro"),
        ["train", "vae", "--out", "ro/run", *TINY],
        ["--out", "ro/run", "write"],
    ),
    (
        "3-picture-out-read-only",
        lambda w, r: (_run(w, r), _read_only(w, "ro")),
        ["sample", "run", "--out", "ro/s.png"],
        ["--out", "ro/s.png", "write"],
    ),
    (
        "3-run-folder-read-only",
        lambda w, r: _read_only(w, "ro"),
        ["train", "vae", "--out", "ro", *TINY],
        ["--out", "ro", "write"],
    ),
    ("4-lr-nan", None, [*TRAIN, "--lr", "nan"], ["--lr", "nan", "finite"]),
    ("4-lr-inf", None, [*TRAIN, "--lr", "inf"], ["--lr", "inf", "finite"]),
    ("4-set-nan", None, ["train", "beta-vae", "--set", "beta=nan", "--out", "run", *TINY], ["beta", "finite"]),
    (
        "6-npy-nan",
        _array("nan.npy", np.full((20, 8, 8), np.nan)),
        on("nan.npy"),
        ["nan.npy", "1280 NaN or infinite", "nan_to_num"],
    ),
    ("6-eval-image-folder", lambda w, r: _images(w), ["eval", "imgs"], ["imgs", "not a vaekit run", "--data imgs"]),
    ("6-eval-pickle", _write("model.pkl", PICKLE), ["eval", "model.pkl"], ["model.pkl", "is a file", "config.json"]),
    (
        "6-truncated-best",
        edited(_truncate("model.safetensors")),
        ["eval", "run", "-k", "2"],
        ["model.safetensors", "--which last"],
    ),
    ("6-label-unconditional", copy, ["sample", "run", "--label", "3"], ["--label", "cvae", "drop --label"]),
    (
        "6-out-not-a-run",
        _not_a_run_folder,
        ["train", "vae", "--out", "notes", "--overwrite", *TINY],
        ["notes", "not a vaekit run", "another --out"],
    ),
    ("6-unknown-model", None, ["train", "vea"], ["invalid choice: 'vea'", "vae", "vaekit train --help"]),
    # -- image folders ---------------------------------------------------------------------
    ("images-empty-folder", lambda w, r: (w / "empty").mkdir(), on("empty"), ["no images", "empty"]),
    (
        "images-corrupt-file",
        lambda w, r: (_images(w), (w / "imgs" / "bad.png").write_bytes(b"not a png")),
        on("imgs"),
        ["bad.png", "remove or fix"],
    ),
    (
        "images-mixed-sizes",
        lambda w, r: _images(w, [(8, 8)] * 5 + [(9, 7)]),
        on("imgs"),
        ["differ in size", "--image-size"],
    ),
    (
        "images-loose-and-classes",
        lambda w, r: (_images(w), _images(w, folder="imgs/cls")),
        on("imgs"),
        ["both images and class sub-folders"],
    ),
    ("images-size-zero", lambda w, r: _images(w), on("imgs", "--image-size", "0"), ["--image-size", "at least 1"]),
    # -- arrays ----------------------------------------------------------------------------
    ("array-1d", _array("a.npy", np.zeros(10)), on("a.npy"), ["shape (10,)", "(N, H, W)"]),
    (
        "array-channels-last",
        _array("a.npy", np.zeros((10, 8, 8, 3), np.uint8)),
        on("a.npy"),
        ["channels-last", "transpose"],
    ),
    ("array-int64", _array("a.npy", np.zeros((10, 8, 8), np.int64)), on("a.npy"), ["int64", "uint8"]),
    ("array-out-of-range", _array("a.npy", np.full((10, 8, 8), 255.0)), on("a.npy"), ["[255.0, 255.0]", "divide"]),
    (
        "array-object-pickle",
        _array("a.npy", np.array([_Exploit()] * 3, dtype=object)),
        on("a.npy"),
        ["a.npy", "object", "never unpickles"],
    ),
    ("array-pickle-renamed", _write("a.npy", PICKLE), on("a.npy"), ["a.npy", "numpy array", "neither"]),
    ("array-truncated", _truncated_npy, on("a.npy"), ["a.npy", "(50, 8, 8) float64", "cut short"]),
    # -- every other kind of array numpy can write (issue 22) ---------------------------------
    ("array-ragged", _array("a.npy", _ragged()), on("a.npy"), ["a.npy", "ragged", "never unpickles"]),
    ("npz-ragged", _npz(x=_ragged()), on("a.npz"), ["a.npz", "array 'x'", "ragged"]),
    ("npz-object-compressed", _npz(True, x=_ragged()), on("a.npz"), ["a.npz", "array 'x'", "object"]),
    ("npz-object-labels", _npz(x=np.zeros((20, 8, 8)), y=_ragged()), on("a.npz"), ["array 'y'", "object"]),
    ("npz-pickle-inside", _npz_pickle, on("a.npz"), ["a.npz", "object"]),
    (
        "array-structured",
        _array("a.npy", np.zeros((20, 8, 8), [("r", "f4"), ("g", "f4")])),
        on("a.npy"),
        ["structured (r, g)", "uint8"],
    ),
    ("array-complex", _array("a.npy", np.zeros((20, 8, 8), np.complex64)), on("a.npy"), ["complex", "uint8"]),
    ("array-strings", _array("a.npy", np.full((20, 8, 8), "a")), on("a.npy"), ["<U1", "uint8"]),
    ("array-zero-images", _array("a.npy", np.zeros((0, 8, 8))), on("a.npy"), ["shape (0, 1, 8, 8)", "no side of 0"]),
    ("array-zero-width", _array("a.npy", np.zeros((20, 8, 0))), on("a.npy"), ["shape (20, 1, 8, 0)", "no side of 0"]),
    ("array-scalar", _array("a.npy", np.float32(0.5)), on("a.npy"), ["shape ()", "(N, H, W)"]),
    ("array-huge-header", _huge_header, on("a.npy"), ["(1000000000, 1000, 1000) float32", "4.0 PB", "cut short"]),
    ("npz-huge-member", _huge_member, on("a.npz"), ["array 'x'", "(1000000, 1000, 1000)", "cut short"]),
    ("array-empty-file", _write("a.npy", b""), on("a.npy"), ["a.npy", "empty"]),
    ("npz-empty", _npz(), on("a.npz"), ["a.npz", "no arrays", "'x'"]),
    (
        "npz-several-arrays",
        _npz(train=np.zeros((20, 8, 8)), test=np.zeros((5, 8, 8)), meta=np.zeros(3)),
        on("a.npz"),
        ["train (20, 8, 8) float64, test (5, 8, 8) float64, meta (3,) float64", "cannot tell", "'x'"],
    ),
    (
        "npz-label-too-large",
        _npz(x=np.zeros((20, 8, 8)), y=np.full(20, 2**63 + 5, np.uint64)),
        on("a.npz"),
        ["label 9223372036854775813", "0..K-1"],
    ),
    (
        "npz-no-images-key",
        lambda w, r: np.savez(w / "a.npz", foo=np.zeros((4, 8, 8)), bar=np.zeros(4)),
        on("a.npz"),
        ["'x'", "a.npz"],
    ),
    (
        "npz-bad-labels",
        lambda w, r: np.savez(w / "a.npz", x=np.zeros((4, 8, 8)), y=np.zeros(3)),
        on("a.npz"),
        ["labels", "4 integers"],
    ),
    ("data-missing", None, on("gone/x.npy"), ["no such file", "gone/x.npy"]),
    ("data-unknown-name", None, on("mnits"), ["unknown dataset", "mnist"]),
    # -- run folders -----------------------------------------------------------------------
    ("run-missing", None, ["eval", "nothing-here"], ["nothing-here", "does not exist"]),
    (
        "run-config-not-json",
        edited(lambda d: (d / "config.json").write_text("{oops")),
        ["eval", "run"],
        ["config.json", "cannot read"],
    ),
    (
        "run-config-unknown-key",
        edited(_edit_config(lambda c: c["model"].update(depth=3))),
        ["eval", "run"],
        ["config.json", "unknown key", "depth"],
    ),
    (
        "run-config-wrong-type",
        edited(_edit_config(lambda c: c["model"].update(latent_dim="big"))),
        ["eval", "run"],
        ["config.json", "latent_dim", "whole number"],
    ),
    ("run-config-nan-lr", edited(_nan_lr), RESUME, ["config.json", "train.lr", "finite"]),
    (
        "resume-nothing",
        lambda w, r: (w / "run").mkdir(),
        ["train", "vae", "--out", "run", "--resume"],
        ["nothing to resume"],
    ),
    (
        "resume-changed-flag",
        copy,
        ["train", "vae", "--out", "run", "--resume", "--lr", "0.1"],
        ["--resume", "drop --lr"],
    ),
    ("resume-other-model", copy, ["train", "ae", "--out", "run", "--resume"], ["'vae' run", "not 'ae'"]),
    ("run-exists", copy, TRAIN, ["already exists", "--overwrite"]),
    ("out-is-a-file", lambda w, r: (w / "f").write_text("x"), ["train", "vae", "--out", "f", *TINY], ["is a file"]),
    (
        "data-of-run-gone",
        lambda w, r: (_images(w), _train_tiny("imgs", "run"), shutil.rmtree(w / "imgs")),
        ["eval", "run", "-k", "2"],
        ["imgs", "config.json", "is gone"],
    ),
    # -- checkpoints: vaekit reads safetensors and JSON only ---------------------------------
    (
        "checkpoint-is-a-pickle",
        edited(lambda d: (d / "model.safetensors").write_bytes(PICKLE)),
        ["eval", "run"],
        ["model.safetensors", "not a safetensors file", "--which last"],
    ),
    (
        "checkpoint-both-truncated",
        edited(_truncate("model.safetensors"), _truncate("last.safetensors")),
        ["eval", "run", "--which", "last"],
        ["last.safetensors", "unreadable"],
    ),
    (
        "checkpoint-wrong-shape",
        edited(_edit_config(lambda c: c["model"].update(latent_dim=5))),
        ["eval", "run"],
        ["does not fit its config.json"],
    ),
    (
        "optimizer-is-a-pickle",
        edited(lambda d: (d / "last-optimizer.safetensors").write_bytes(PICKLE)),
        RESUME,
        ["last-optimizer.safetensors", "unreadable"],
    ),
    # -- numeric options of every command -------------------------------------------------
    ("num-train-epochs", None, ["train", "vae", "--epochs", "0"], ["--epochs", "at least 1"]),
    ("num-train-batch", None, ["train", "vae", "--batch-size", "-5"], ["--batch-size", "at least 1"]),
    ("num-train-latent", None, ["train", "vae", "--latent-dim", "2.5"], ["--latent-dim", "whole number"]),
    ("num-train-beta", None, ["train", "vae", "--beta", "-1"], ["--beta", "at least 0"]),
    ("num-train-warmup", None, ["train", "vae", "--kl-warmup", "inf"], ["--kl-warmup", "finite"]),
    ("num-train-grad-clip", None, ["train", "vae", "--grad-clip", "0"], ["--grad-clip", "positive"]),
    ("num-train-lr-end", None, ["train", "vae", "--lr-end=-1e-4"], ["--lr-end", "positive"]),
    ("num-train-seed", None, ["train", "vae", "--seed", "99999999999"], ["--seed", "at most"]),
    ("num-train-hidden", None, ["train", "vae", "--hidden", "64,0"], ["--hidden", "positive sizes"]),
    ("num-threads", None, ["--threads", "0", "train", "vae"], ["--threads", "at least 1"]),
    ("num-eval-k", copy, ["eval", "run", "-k", "0"], ["-k", "at least 1"]),
    ("num-eval-limit", copy, ["eval", "run", "--limit", "nan"], ["--limit", "whole number"]),
    ("num-sample-n", copy, ["sample", "run", "-n", "-3"], ["-n", "at least 1"]),
    ("num-sample-temperature", copy, ["sample", "run", "--temperature", "nan"], ["--temperature", "finite"]),
    ("num-sample-gmm", copy, ["sample", "run", "--prior", "gmm:0"], ["gmm:K", "at least 1"]),
    ("num-reconstruct-n", copy, ["reconstruct", "run", "-n", "0"], ["-n", "at least 1"]),
    ("num-interpolate-steps", copy, ["interpolate", "run", "--steps", "1"], ["--steps", "at least 2"]),
    ("num-latents-rows", copy, ["latents", "run", "--rows", "0"], ["--rows", "at least 1"]),
    ("num-train-prior-dropout", copy, ["train-prior", "run", "--dropout", "1"], ["--dropout", "[0, 1)"]),
    ("num-train-prior-heads", copy, ["train-prior", "run", "--dim", "10", "--heads", "3"], ["--heads", "divide"]),
    ("num-kl-nan", None, ["kl", "--p", "0.5,nan", "--q", "uniform"], ["NaN"]),
    ("num-kl-negative", None, ["kl", "--p", "1.5,-0.5"], ["negative"]),
    ("num-kl-not-numbers", None, ["kl", "--p", "a,b"], ["--p", "comma-separated"]),
]


@pytest.mark.parametrize("setup, argv, words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(setup, argv, words, tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        setup(tmp_path, tiny_run)
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert snapshot(tmp_path) == before, "a refused command changed files"
    assert not (tmp_path / "PWNED").exists(), "something unpickled a user file"


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--debug", "eval", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith(
        "give the folder that 'vaekit train ... --out RUN_DIR' wrote (it holds config.json and model.safetensors)"
    )


def test_a_bug_still_prints_its_traceback(tiny_run, tmp_path, monkeypatch):
    """Only user errors are caught: a real bug (here planted in the sampler) keeps its traceback."""
    import vaekit.generate.images

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(vaekit.generate.images, "sample", broken)
    with pytest.raises(ZeroDivisionError):
        main(["sample", str(_run(tmp_path, tiny_run)), "-n", "4"])


def test_an_array_larger_than_the_memory_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    """A real 4 TB .npy, sparse on disk: every byte is there, the memory for it is not."""
    monkeypatch.chdir(tmp_path)
    with open("a.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 1000, 1000)})
        try:
            f.truncate(f.tell() + 4 * 10**12)
        except OSError:
            pytest.skip("this filesystem cannot hold a sparse 4 TB file")
    assert main(on("a.npy")) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and err.count("\n") == 1
    assert "a.npy holds a (1000000, 1000, 1000) float32 array" in err
    assert "memory" in err and "is free" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


def _memmapped(path: Path, array: np.ndarray) -> None:
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
    mapped[...] = array
    mapped.flush()


PIXELS = np.random.default_rng(0).random((30, 8, 8))
WORKING = [
    ("float16", lambda p: np.save(p / "a.npy", PIXELS.astype(np.float16))),
    ("bool", lambda p: np.save(p / "a.npy", PIXELS > 0.5)),
    ("big-endian-float", lambda p: np.save(p / "a.npy", PIXELS.astype(">f4"))),
    ("longdouble", lambda p: np.save(p / "a.npy", PIXELS.astype(np.longdouble))),
    ("fortran-order", lambda p: np.save(p / "a.npy", np.asfortranarray(PIXELS.astype(np.float32)))),
    ("memory-mapped-uint8", lambda p: _memmapped(p / "a.npy", (PIXELS * 255).astype(np.uint8))),
    ("npz-compressed-float16", lambda p: np.savez_compressed(p / "a.npz", images=PIXELS.astype(np.float16))),
    ("npz-labels-uint8", lambda p: np.savez(p / "a.npz", x=PIXELS, y=np.arange(30, dtype=np.uint8) % 3)),
]


@pytest.mark.parametrize("write", [w for _, w in WORKING], ids=[name for name, _ in WORKING])
def test_sensible_image_arrays_of_every_kind_load(write, tmp_path):
    from vaekit.data import load_dataset

    write(tmp_path)
    data = load_dataset(str(next(tmp_path.iterdir())))
    x = torch.cat([data.train_x, data.val_x, data.test_x])
    assert x.shape == (30, 1, 8, 8) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.isfinite(x).all() and len(torch.unique(x)) > 1


# -- rows that used to be refused wrongly, and now work ------------------------------------
def test_1_threads_before_the_command_does_not_block_resume(tiny_run, tmp_path, capsys):
    run = _run(tmp_path, tiny_run)
    assert main(["--threads", "1", "train", "vae", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())["epochs"]] == [1, 2]


def test_2_a_relative_data_path_is_stored_resolved(tmp_path, monkeypatch, capsys):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    np.save("digits.npy", (np.random.default_rng(0).random((60, 8, 8)) > 0.5).astype(np.uint8) * 255)
    assert main(["train", "vae", "--data", "digits.npy", "--epochs", "1", "--out", "../run", *TINY]) == 0
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["name"]
    assert stored == str(tmp_path / "a" / "digits.npy")
    monkeypatch.chdir(tmp_path)  # elsewhere: the run still finds its data
    capsys.readouterr()
    assert main(["eval", "run", "-k", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 6


def test_5_a_batch_larger_than_the_data_is_clamped_with_a_warning_and_recorded(tmp_path, capsys):
    """Also defect 6's last case: --threads after the command is understood, not 'unrecognized'."""
    argv = ["train", "vae", "--batch-size", "100000", "--threads", "1", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert main([*argv, *TINY]) == 0
    warning = "vaekit: warning: --batch-size 100000 is more than the 1397 training images: using 1397"
    assert warning in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["batch_size"] == 1397


def test_7_the_library_never_replaces_a_run_unasked(tmp_path):
    from vaekit.config import ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.errors import VaekitError
    from vaekit.train import Trainer

    data = load_dataset("digits")
    cfg = RunConfig(model=ModelConfig(hidden=(16,), latent_dim=4), train=TrainConfig(epochs=1))
    Trainer(cfg, data, tmp_path / "x", show_progress=False).fit()
    before = snapshot(tmp_path)
    with pytest.raises(VaekitError, match="already exists"):
        Trainer(cfg, data, tmp_path / "x", show_progress=False).fit()
    assert snapshot(tmp_path) == before
    Trainer(cfg, data, tmp_path / "x", show_progress=False, overwrite=True).fit()  # asked: replaced
    with pytest.raises(VaekitError, match="lr"):
        Trainer(RunConfig(train=TrainConfig(lr=float("nan"))), data, tmp_path / "y", show_progress=False)
    assert not (tmp_path / "y").exists()


# -- text files (one sentence per line) and text runs ------------------------------------------
TINY_TEXT = ["--hidden", "16", "--embedding-dim", "8", "--latent-dim", "4", "--batch-size", "8", "--quiet"]
SENTENCES = "".join(f"the cat number {i} sat on the mat\n" for i in range(40))


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    """A 1-epoch sentence VAE on forty short sentences."""
    folder = tmp_path_factory.mktemp("text")
    (folder / "s.txt").write_text(SENTENCES)
    assert (
        main(
            ["train", "vae", "--data", str(folder / "s.txt"), "--epochs", "1", "--out", str(folder / "run"), *TINY_TEXT]
        )
        == 0
    )
    return folder / "run"


def _text(content: bytes):
    return lambda w, r: (w / "s.txt").write_bytes(content)


def _copy_text_run(request, w: Path, edit=None) -> None:
    run = request.getfixturevalue("text_run")
    shutil.copytree(run, w / "run")
    if edit:
        edit(w / "run")


TEXT_REFUSED = [
    ("text-empty", _text(b""), on("s.txt"), ["s.txt", "is empty"]),
    ("text-blank-lines", _text(b"\n \n\t\n"), on("s.txt"), ["s.txt", "only blank lines"]),
    ("text-not-utf8", _text(b"fine\nbad \xff\xfe\n"), on("s.txt"), ["s.txt", "not UTF-8", "line 2"]),
    ("text-pickle-renamed", _text(PICKLE), on("s.txt"), ["s.txt", "not UTF-8"]),
    ("text-one-huge-line", _text(b"word " * 10_001), on("s.txt"), ["10,001 tokens", "one sentence per line"]),
    ("text-too-few-sentences", _text(b"one line\nand two\n"), on("s.txt"), ["s.txt", "at least 3"]),
    ("text-max-length", _text(SENTENCES.encode()), on("s.txt", "--max-length", "2"), ["--max-length", "raise it"]),
    ("text-vocab-size", _text(SENTENCES.encode()), on("s.txt", "--vocab-size", "0"), ["--vocab-size", "at least 1"]),
    ("text-word-dropout", _text(SENTENCES.encode()), on("s.txt", "--word-dropout", "1"), ["--word-dropout", "[0, 1)"]),
    ("text-compile", _text(SENTENCES.encode()), on("s.txt", "--compile"), ["sentence models", "drop --compile"]),
    ("text-run-vocab-garbage", "edit", ["eval", "run", "-k", "2"], ["vocab.json", "cannot read the vocabulary"]),
    ("text-run-vocab-pickle", "pickle", ["sample", "run", "-n", "2"], ["vocab.json", "cannot read the vocabulary"]),
]


@pytest.mark.parametrize("setup, argv, words", [r[1:] for r in TEXT_REFUSED], ids=[r[0] for r in TEXT_REFUSED])
def test_bad_text_is_one_line_exit_2_and_writes_nothing(setup, argv, words, request, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if setup == "edit":
        _copy_text_run(request, tmp_path, lambda d: (d / "vocab.json").write_text('{"tokens": 3}'))
    elif setup == "pickle":
        _copy_text_run(request, tmp_path, lambda d: (d / "vocab.json").write_bytes(PICKLE))
    else:
        setup(tmp_path, None)
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert snapshot(tmp_path) == before and not (tmp_path / "PWNED").exists()
