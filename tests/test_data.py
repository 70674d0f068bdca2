"""Tests of vaekit.data on the real dataset files; no test touches the network.

The files come from $VAEKIT_DATA_DIR, else from ../shared/data beside the checkout; without
either the tests that need them are skipped. Downloads (pooch) are exercised against an HTTP server
on 127.0.0.1 that this file starts and that stops itself.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.data import DATASETS, DataSplits, default_data_dir, load_dataset
from vaekit.data.builtin import FASHION_MNIST_FILES, FREY_FILE, MNIST_FILES
from vaekit.data.download import RemoteFile, ensure_file, file_digests
from vaekit.data.idx import read_idx_images, read_idx_labels
from vaekit.errors import VaekitError

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # all 60000


@pytest.fixture(scope="module")
def data_dir(real_data_dir) -> Path:
    return real_data_dir  # see conftest.py: $VAEKIT_DATA_DIR, else ../shared/data


@pytest.fixture(scope="module")
def mnist(data_dir) -> DataSplits:
    return load_dataset("mnist", data_dir, download=False)


def _assert_well_formed(splits: DataSplits, image_shape: tuple[int, int, int]) -> None:
    for split in ("train", "val", "test"):
        x, y = splits.split(split)
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == image_shape and y.shape == (len(x),)
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def _label_counts(labels: torch.Tensor) -> list[int]:
    return torch.bincount(labels, minlength=10).tolist()


# ---- files and checksums ------------------------------------------------------------------------


def test_default_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAEKIT_DATA_DIR", str(tmp_path / "here"))
    assert default_data_dir() == tmp_path / "here"
    monkeypatch.delenv("VAEKIT_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "vaekit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "vaekit"


def test_shared_files_have_the_registered_checksums(data_dir):
    remotes = [*MNIST_FILES.values(), *FASHION_MNIST_FILES.values(), FREY_FILE]
    for remote in remotes:
        sha256, _ = file_digests(data_dir / remote.folder / remote.filename)
        assert sha256 == remote.sha256, remote.relative_path
    assert MNIST_FILES["t10k-labels-idx1-ubyte.gz"].sha256.startswith("f7ae60f9")


def test_a_second_byte_form_is_accepted_by_its_md5(data_dir, tmp_path):
    """Frey Face exists in two good byte forms (Roweis's original .mat, and the re-saved offline copy):
    a copy is good when its sha256 or its alternative md5 matches. Exercised on the real file and a
    re-saved copy of its pixels, whose digests are computed here, not copied from the code."""
    import scipy.io

    original = ensure_file(FREY_FILE, data_dir, download=False)  # the registered sha256
    frames = scipy.io.loadmat(original)["ff"]
    (tmp_path / "frey").mkdir()
    resaved = tmp_path / "frey" / FREY_FILE.filename
    scipy.io.savemat(resaved, {"ff": frames, "note": "the same pixels, other header bytes"})
    with pytest.raises(VaekitError, match="checksum mismatch"):
        ensure_file(FREY_FILE, tmp_path, download=False)
    second_form = dataclasses.replace(FREY_FILE, alt_md5=hashlib.md5(resaved.read_bytes()).hexdigest())
    assert ensure_file(second_form, tmp_path, download=False) == resaved
    assert ensure_file(second_form, data_dir, download=False) == original  # the sha256 still counts
    np.testing.assert_array_equal(scipy.io.loadmat(resaved)["ff"], frames)


# ---- built-in datasets on the real files ------------------------------------------------------


def test_registry_holds_every_builtin_dataset():
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "binarized-mnist", "frey", "sprites"}
    assert all(callable(loader) for loader in DATASETS.values())


def test_mnist_official_split(mnist, data_dir):
    _assert_well_formed(mnist, (1, 28, 28))
    assert (len(mnist.train_x), len(mnist.val_x), len(mnist.test_x)) == (59000, 1000, 10000)
    assert _label_counts(mnist.test_y) == MNIST_TEST_COUNTS and sum(MNIST_TEST_COUNTS) == 10000
    assert _label_counts(torch.cat([mnist.train_y, mnist.val_y])) == MNIST_TRAIN_COUNTS
    assert mnist.train_y[0] == 5 and mnist.test_y[0] == 7  # the famous first digits
    # Validation is the LAST 1,000 official training images, in their original order.
    official = read_idx_images(data_dir / "mnist" / "train-images-idx3-ubyte.gz")
    assert torch.equal(mnist.val_x[:, 0] * 255, torch.tensor(official[-1000:]).float())
    assert torch.equal(mnist.train_x[-1, 0] * 255, torch.tensor(official[58999]).float())
    assert (mnist.likelihood, mnist.num_classes, mnist.dynamic_binarize) == ("bernoulli", 10, False)
    assert 0.12 < float(mnist.test_x.mean()) < 0.14  # MNIST's well-known mean 0.1325


def test_fashion_mnist_has_balanced_classes(data_dir):
    fashion = load_dataset("fashion-mnist", data_dir, download=False)
    _assert_well_formed(fashion, (1, 28, 28))
    assert (len(fashion.train_x), len(fashion.val_x), len(fashion.test_x)) == (59000, 1000, 10000)
    assert _label_counts(fashion.test_y) == [1000] * 10
    assert _label_counts(torch.cat([fashion.train_y, fashion.val_y])) == [6000] * 10
    assert fashion.num_classes == 10


def test_binarized_mnist_is_grey_for_training_and_fixed_bits_for_evaluation(mnist, data_dir):
    first = load_dataset("binarized-mnist", data_dir, download=False)
    second = load_dataset("binarized-mnist", data_dir, download=False)
    assert first.dynamic_binarize and first.likelihood == "bernoulli"
    assert torch.equal(first.train_x, mnist.train_x)  # grey levels, sampled per batch later
    assert ((first.train_x > 0) & (first.train_x < 1)).any()
    for split in ("val", "test"):
        bits, _ = first.split(split)
        assert set(bits.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(bits, second.split(split)[0])
        grey, _ = mnist.split(split)
        assert abs(float(bits.mean()) - float(grey.mean())) < 0.005  # unbiased Bernoulli draw
        assert torch.equal(first.split(split)[1], mnist.split(split)[1])
    other_seed = load_dataset("binarized-mnist", data_dir, seed=1, download=False)
    assert not torch.equal(other_seed.test_x, first.test_x)


def test_frey_faces(data_dir):
    frey = load_dataset("frey", data_dir, download=False)
    _assert_well_formed(frey, (1, 28, 20))
    assert (len(frey.train_x), len(frey.val_x), len(frey.test_x)) == (1573, 196, 196)
    assert (frey.likelihood, frey.num_classes) == ("gaussian", 0)
    everything = torch.cat([frey.train_x, frey.val_x, frey.test_x])
    assert round(float(everything.min()) * 255) == 8 and round(float(everything.max()) * 255) == 238
    assert bool((torch.cat([frey.train_y, frey.val_y, frey.test_y]) == -1).all())
    # The splits are a permutation: every frame appears exactly once, and the order is fixed.
    assert len(torch.unique(everything.flatten(1), dim=0)) == 1965
    assert torch.equal(load_dataset("frey", data_dir, download=False).test_x, frey.test_x)


def test_digits_are_embedded_and_split_independently_of_seed(tmp_path):
    digits = load_dataset("digits", tmp_path)  # no files needed: an empty data dir is fine
    _assert_well_formed(digits, (1, 8, 8))
    assert (len(digits.train_x), len(digits.val_x), len(digits.test_x)) == (1397, 200, 200)
    assert digits.num_classes == 10 and len(digits.test_y.unique()) == 10
    assert torch.equal(digits.train_x * 16, (digits.train_x * 16).round())  # pixels were /16
    assert torch.equal(load_dataset("digits", seed=7).test_y, digits.test_y)
    assert load_dataset("DIGITS", image_size=16).train_x.shape == (1397, 1, 16, 16)


# ---- your own data -------------------------------------------------------------------------------


def test_folder_of_grey_pngs(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(20, 6, 5), dtype=np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image, mode="L").save(tmp_path / f"{index:02d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    splits = load_dataset(str(tmp_path))
    _assert_well_formed(splits, (1, 6, 5))
    assert (len(splits.train_x), len(splits.val_x), len(splits.test_x)) == (16, 2, 2)
    assert splits.num_classes == 0 and bool((splits.train_y == -1).all())
    loaded = torch.cat([splits.train_x, splits.val_x, splits.test_x])[:, 0] * 255
    assert sorted(map(bytes, loaded.round().to(torch.uint8).numpy())) == sorted(map(bytes, pixels))


def test_folder_of_class_subfolders_of_rgb_images(tmp_path):
    for label, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        (tmp_path / f"class{label}").mkdir()
        for index in range(5):
            Image.new("RGB", (4, 4), colour).save(tmp_path / f"class{label}" / f"{index}.png")
    splits = load_dataset(str(tmp_path))
    assert splits.image_shape == (3, 4, 4) and splits.num_classes == 2
    for x, y in (splits.split(s) for s in ("train", "val", "test")):
        red = x[:, 0, 0, 0] == 1.0
        assert torch.equal(red, y == 0)  # each image kept its own folder's label


def test_folder_of_mixed_sizes_needs_image_size(tmp_path):
    for index, size in enumerate([(8, 8), (10, 6), (8, 8), (5, 5)]):
        Image.new("L", size, 100).save(tmp_path / f"{index}.png")
    with pytest.raises(VaekitError, match="--image-size"):
        load_dataset(str(tmp_path))
    assert load_dataset(str(tmp_path), image_size=(7, 9)).image_shape == (1, 7, 9)


def test_npy_of_uint8(tmp_path):
    pixels = np.arange(30 * 4 * 4, dtype=np.int64).reshape(30, 4, 4).astype(np.uint8)
    np.save(tmp_path / "faces.npy", pixels)
    splits = load_dataset(str(tmp_path / "faces.npy"))
    assert splits.name == "faces" and splits.image_shape == (1, 4, 4)
    assert (len(splits.train_x), len(splits.val_x), len(splits.test_x)) == (24, 3, 3)
    assert torch.equal(splits.test_x * 255, (splits.test_x * 255).round())
    assert float(splits.train_x.max()) <= 1.0


def test_npz_keeps_labels_with_their_images(tmp_path):
    images = np.zeros((40, 2, 3, 3), dtype=np.float32)
    labels = np.arange(40) % 4
    images[:, 0, 0, 0] = labels / 10  # the label is written into a pixel, to check pairing
    np.savez(tmp_path / "mine.npz", x=images, y=labels)
    splits = load_dataset(str(tmp_path / "mine.npz"))
    assert splits.image_shape == (2, 3, 3) and splits.num_classes == 4
    for x, y in (splits.split(s) for s in ("train", "val", "test")):
        assert torch.allclose(x[:, 0, 0, 0] * 10, y.float())


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((10,), np.uint8), "must be"),
        (np.zeros((10, 8, 8, 3), np.uint8), "channels-last"),
        (np.full((10, 4, 4), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((10, 4, 4), np.nan, np.float32), "160 NaN or infinite"),
        (np.zeros((10, 4, 4), np.int32), "uint8"),
    ],
)
def test_bad_arrays_are_clear_errors(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(VaekitError, match=message):
        load_dataset(str(tmp_path / "bad.npy"))


def test_npz_with_wrong_label_count_is_an_error(tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((10, 4, 4), np.uint8), labels=np.arange(9))
    with pytest.raises(VaekitError, match="10 integers"):
        load_dataset(str(tmp_path / "bad.npz"))


# ---- clear errors --------------------------------------------------------------------------------


def test_unknown_name_lists_known_names():
    with pytest.raises(VaekitError) as caught:
        load_dataset("cifar-11")
    message = str(caught.value)
    assert all(name in message for name in DATASETS) and ".npy" in message and "\n" not in message
    with pytest.raises(VaekitError, match="no such file"):
        load_dataset("missing/folder.npz")


def test_missing_file_names_url_and_folder(tmp_path):
    with pytest.raises(VaekitError) as caught:
        load_dataset("mnist", tmp_path, download=False)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and "https://ossci-datasets" in message
    assert str(tmp_path / "mnist") in message and "VAEKIT_DATA_DIR" in message
    assert "\n" not in message
    with pytest.raises(VaekitError, match="cs.nyu.edu/~roweis/data/frey_rawface.mat"):
        load_dataset("frey", tmp_path, download=False)


def test_corrupted_cached_file_is_refused_and_kept(data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in MNIST_FILES:
        os.symlink(data_dir / "mnist" / name, tmp_path / "mnist" / name)
    corrupted = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    content = bytearray(corrupted.read_bytes())
    corrupted.unlink()
    content[100] ^= 0xFF
    corrupted.write_bytes(bytes(content))
    with pytest.raises(VaekitError) as caught:
        load_dataset("mnist", tmp_path, download=False)
    message = str(caught.value)
    actual, _ = file_digests(corrupted)
    assert "train-labels-idx1-ubyte.gz" in message
    assert MNIST_FILES[corrupted.name].sha256 in message and actual in message
    assert corrupted.exists()  # the user's own file is reported, not deleted


def _write_gz(path: Path, payload: bytes) -> Path:
    path.write_bytes(gzip.compress(payload))
    return path


def test_idx_parser_rejects_corrupt_files(tmp_path):
    header = (2049).to_bytes(4, "big") + (5).to_bytes(4, "big")
    assert read_idx_labels(_write_gz(tmp_path / "ok.gz", header + bytes(5))).tolist() == [0] * 5
    with pytest.raises(VaekitError, match="magic number 2049, expected 2051"):
        read_idx_images(tmp_path / "ok.gz")
    with pytest.raises(VaekitError, match="truncated"):
        read_idx_labels(_write_gz(tmp_path / "short.gz", header + bytes(4)))
    (tmp_path / "notgz.gz").write_bytes(b"plain bytes, not gzip")
    with pytest.raises(VaekitError, match="not a valid gzip"):
        read_idx_labels(tmp_path / "notgz.gz")


# ---- downloads with pooch, from a server on 127.0.0.1 ------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the tests' output stays readable
        pass


@pytest.fixture
def served(tmp_path):
    """(folder, base URL): files put in the folder are served over HTTP on a free loopback port.
    The server answers from a thread, shuts down after the test, and by itself after 60 s at most."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deadline = threading.Timer(60, server.shutdown)
    deadline.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    deadline.cancel()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def labels_remote(data_dir) -> tuple[RemoteFile, Path]:
    remote = MNIST_FILES["t10k-labels-idx1-ubyte.gz"]
    return remote, data_dir / remote.folder / remote.filename


def test_download_verifies_and_installs(labels_remote, served, tmp_path, capsys):
    remote, good_copy = labels_remote
    root, base = served
    (root / "mirror").mkdir()
    (root / "mirror" / remote.filename).write_bytes(good_copy.read_bytes())
    local = dataclasses.replace(remote, urls=(f"{base}/gone/{remote.filename}", f"{base}/mirror/{remote.filename}"))
    path = ensure_file(local, tmp_path / "data")  # the first URL answers 404, the mirror works
    assert path == tmp_path / "data" / "mnist" / remote.filename
    assert path.read_bytes() == good_copy.read_bytes()
    assert os.listdir(path.parent) == [remote.filename]  # no temporary file left
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    err = capsys.readouterr().err
    assert f"downloading {base}/gone/" in err and f"downloading {base}/mirror/" in err
    assert ensure_file(local, tmp_path / "data", download=False) == path  # now cached: no URL needed


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_mismatching_download_leaves_nothing_behind(labels_remote, served, tmp_path, damage):
    remote, good_copy = labels_remote
    root, base = served
    content = bytearray(good_copy.read_bytes())
    if damage == "flip":
        content[-10] ^= 0xFF
    else:
        del content[len(content) // 2 :]  # as if the connection dropped half way
    (root / remote.filename).write_bytes(bytes(content))
    local = dataclasses.replace(remote, urls=(f"{base}/{remote.filename}",))
    with pytest.raises(VaekitError) as caught:
        ensure_file(local, tmp_path / "data")
    message = str(caught.value)
    assert "checksum mismatch" in message and remote.sha256 in message and f"{base}/{remote.filename}" in message
    assert file_digests(root / remote.filename)[0] in message  # the digest of what was served
    assert os.listdir(tmp_path / "data" / "mnist") == []


def test_a_wrong_copy_then_a_good_one_installs_the_good_one(labels_remote, served, tmp_path):
    remote, good_copy = labels_remote
    root, base = served
    (root / "bad").mkdir()
    (root / "bad" / remote.filename).write_bytes(b"not the labels")
    (root / "good").mkdir()
    (root / "good" / remote.filename).write_bytes(good_copy.read_bytes())
    local = dataclasses.replace(remote, urls=(f"{base}/bad/{remote.filename}", f"{base}/good/{remote.filename}"))
    path = ensure_file(local, tmp_path / "data")
    assert file_digests(path)[0] == remote.sha256


def test_a_copy_cut_inside_its_last_line_keeps_its_whole_lines(served, tmp_path):
    root, base = served
    whole = b"va !\tgo.\ncours !\trun!\n"
    (root / "fra.txt").write_bytes(whole + b"au revoir\tgood")  # the public copy ends mid-line
    remote = RemoteFile("fra-eng", "fra.txt", (f"{base}/fra.txt",), hashlib.sha256(whole).hexdigest(), whole_lines=True)
    assert ensure_file(remote, tmp_path / "data").read_bytes() == whole


def test_failed_download_names_urls_and_folder(labels_remote, served, tmp_path):
    remote, _ = labels_remote
    _, base = served
    urls = (f"{base}/gone/{remote.filename}", f"{base}/also-gone/{remote.filename}")
    local = dataclasses.replace(remote, urls=urls)
    with pytest.raises(VaekitError) as caught:
        ensure_file(local, tmp_path / "data")
    message = str(caught.value)
    assert all(url in message for url in urls) and "HTTP 404" in message
    assert str(tmp_path / "data" / "mnist") in message and "VAEKIT_DATA_DIR" in message
    assert "\n" not in message and os.listdir(tmp_path / "data" / "mnist") == []
