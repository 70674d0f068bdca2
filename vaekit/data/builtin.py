"""The built-in datasets and the `DATASETS` registry.

Every loader has the signature ``loader(data_dir, *, image_size=None, seed=0, download=True)``
and returns a `DataSplits`. Splits are fixed so numbers compare across runs:

=================  =========================================================  ===============
dataset            split rule                                                 train/val/test
=================  =========================================================  ===============
digits             numpy PCG64 permutation with seed 0 (ignores ``seed``)     1397/200/200
mnist              official test set; last 1,000 official training images    59000/1000/10000
                   are validation, the first 59,000 training
fashion-mnist      as mnist                                                   59000/1000/10000
binarized-mnist    as mnist; val/test binarized once, train left grey         59000/1000/10000
frey               PCG64 permutation with ``seed`` (default 0), 80/10/10      1573/196/196
=================  =========================================================  ===============

MNIST-family files are read from ``<data_dir>/mnist/`` and ``<data_dir>/fashion-mnist/``, Frey
from ``<data_dir>/frey/frey_rawface.mat``; missing files are downloaded (SHA-256 checked) unless
``download=False``. ``digits`` ships inside scikit-learn and needs no files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vaekit.data.download import RemoteFile, ensure_file
from vaekit.data.idx import read_idx_images, read_idx_labels
from vaekit.data.splits import (
    DataSplits,
    as_height_width,
    permuted_splits,
    resize_images,
    split_counts,
)
from vaekit.data.sprites import load_sprites  # generated, dSprites-like, with its factors
from vaekit.errors import VaekitError

ImageSize = int | tuple[int, int] | None

MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
FASHION_MNIST_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
IDX_FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
MNIST_SHA256 = (
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
)
FASHION_MNIST_SHA256 = (
    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
)


def _idx_files(folder: str, base_urls: tuple[str, ...], sha256s: tuple[str, ...]) -> dict:
    return {
        name: RemoteFile(folder, name, tuple(base + name for base in base_urls), sha256)
        for name, sha256 in zip(IDX_FILE_NAMES, sha256s)
    }


MNIST_FILES = _idx_files("mnist", MNIST_URLS, MNIST_SHA256)
FASHION_MNIST_FILES = _idx_files("fashion-mnist", FASHION_MNIST_URLS, FASHION_MNIST_SHA256)

# Two good byte forms exist. Roweis's original .mat (md5 5aeb024d...) is what a download from
# his page gives; the offline copy in shared/data holds the same pixel array re-saved with
# scipy.io.savemat (different header bytes, so different digests). Both decode identically.
FREY_FILE = RemoteFile(
    "frey",
    "frey_rawface.mat",
    ("https://cs.nyu.edu/~roweis/data/frey_rawface.mat",),
    sha256="af7bcc99e93ecb21527d7b64fa7fc4d0440f99eb883dfaae5f2d65b183b828b7",
    alt_md5="5aeb024d42b8a6091f30e5eb18c8a48d",
)
FREY_SHAPE = (28, 20)

MNIST_VAL_COUNT = 1000  # the LAST 1,000 official training images
DIGITS_SPLIT_SEED = 0
DIGITS_VAL_COUNT = DIGITS_TEST_COUNT = 200


def _to_unit_float(pixels: np.ndarray, scale: float) -> torch.Tensor:
    """uint8/int pixels -> float32 tensor divided by `scale`, in one allocation."""
    return torch.from_numpy(np.divide(pixels, scale, dtype=np.float32))


def _to_labels(labels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(labels.astype(np.int64))


def read_idx_dataset(files: dict[str, RemoteFile], data_dir: Path, download: bool):
    """Official (train_x, train_y, test_x, test_y): (N, 1, 28, 28) in [0, 1], int64 labels."""
    paths = [ensure_file(files[name], data_dir, download=download) for name in IDX_FILE_NAMES]
    train_images, train_labels = read_idx_images(paths[0]), read_idx_labels(paths[1])
    test_images, test_labels = read_idx_images(paths[2]), read_idx_labels(paths[3])
    for images, labels, images_path, labels_path in (
        (train_images, train_labels, paths[0], paths[1]),
        (test_images, test_labels, paths[2], paths[3]),
    ):
        if len(images) != len(labels):
            raise VaekitError(
                f"{images_path} has {len(images)} images but {labels_path} has "
                f"{len(labels)} labels: replace the mismatched file"
            )
    return (
        _to_unit_float(train_images[:, None], 255),
        _to_labels(train_labels),
        _to_unit_float(test_images[:, None], 255),
        _to_labels(test_labels),
    )


def _official_splits(name: str, files: dict, data_dir: Path, image_size: ImageSize, download: bool) -> DataSplits:
    train_x, train_y, test_x, test_y = read_idx_dataset(files, Path(data_dir), download)
    size = as_height_width(image_size)
    if size is not None:
        train_x, test_x = resize_images(train_x, size), resize_images(test_x, size)
    cut = len(train_x) - MNIST_VAL_COUNT
    # Clone validation so saving it does not drag the whole training storage along.
    val_x, val_y = train_x[cut:].clone(), train_y[cut:].clone()
    return DataSplits(
        name, train_x[:cut], train_y[:cut], val_x, val_y, test_x, test_y, likelihood="bernoulli", num_classes=10
    )


def load_mnist(data_dir: Path, *, image_size: ImageSize = None, seed: int = 0, download: bool = True) -> DataSplits:
    """MNIST, grey levels in [0, 1]: 59000/1000/10000 images (N, 1, 28, 28), 10 classes."""
    return _official_splits("mnist", MNIST_FILES, data_dir, image_size, download)


def load_fashion_mnist(
    data_dir: Path, *, image_size: ImageSize = None, seed: int = 0, download: bool = True
) -> DataSplits:
    """Fashion-MNIST, grey levels in [0, 1]: 59000/1000/10000 images (N, 1, 28, 28), 10 classes."""
    return _official_splits("fashion-mnist", FASHION_MNIST_FILES, data_dir, image_size, download)


def load_binarized_mnist(
    data_dir: Path, *, image_size: ImageSize = None, seed: int = 0, download: bool = True
) -> DataSplits:
    """MNIST for dynamic binarization (Burda et al. 2015).

    Training images stay grey, to be read as Bernoulli probabilities and re-sampled per batch
    (``dynamic_binarize=True``). Validation and test are binarized once here, in that order,
    by one ``torch.Generator`` seeded with `seed` (default 0): two loads give identical bits.
    """
    splits = _official_splits("binarized-mnist", MNIST_FILES, data_dir, image_size, download)
    generator = torch.Generator().manual_seed(seed)
    splits.val_x = torch.bernoulli(splits.val_x, generator=generator)
    splits.test_x = torch.bernoulli(splits.test_x, generator=generator)
    splits.dynamic_binarize = True
    return splits


def load_frey(data_dir: Path, *, image_size: ImageSize = None, seed: int = 0, download: bool = True) -> DataSplits:
    """Frey faces: 1965 unlabelled frames (N, 1, 28, 20), split 1573/196/196, Gaussian."""
    import scipy.io

    path = ensure_file(FREY_FILE, Path(data_dir), download=download)
    try:
        frames = scipy.io.loadmat(path)["ff"]
    except Exception as error:  # scipy raises several types for a bad .mat
        raise VaekitError(f"cannot read {path} as Frey faces ({error}): replace the file") from None
    if frames.ndim != 2 or frames.shape[0] != FREY_SHAPE[0] * FREY_SHAPE[1]:
        raise VaekitError(f"{path} holds 'ff' of shape {frames.shape}, expected (560, N)")
    images = _to_unit_float(np.ascontiguousarray(frames.T).reshape(-1, 1, *FREY_SHAPE), 255)
    size = as_height_width(image_size)
    if size is not None:
        images = resize_images(images, size)
    labels = torch.full((len(images),), -1, dtype=torch.int64)
    _, val_count, test_count = split_counts(len(images))
    return permuted_splits(
        "frey",
        images,
        labels,
        val_count=val_count,
        test_count=test_count,
        seed=seed,
        likelihood="gaussian",
        num_classes=0,
    )


def load_digits(
    data_dir: Path | None = None, *, image_size: ImageSize = None, seed: int = 0, download: bool = True
) -> DataSplits:
    """scikit-learn's 8x8 digits (no files needed): 1397/200/200 images (N, 1, 8, 8), 10 classes.

    The split permutation always uses seed 0, whatever `seed` says, so every run shares it.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    images = _to_unit_float(bunch.images[:, None], 16)  # pixel counts 0..16
    size = as_height_width(image_size)
    if size is not None:
        images = resize_images(images, size)
    return permuted_splits(
        "digits",
        images,
        _to_labels(bunch.target),
        val_count=DIGITS_VAL_COUNT,
        test_count=DIGITS_TEST_COUNT,
        seed=DIGITS_SPLIT_SEED,
        likelihood="bernoulli",
        num_classes=10,
    )


Loader = Callable[..., DataSplits]

DATASETS: dict[str, Loader] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "binarized-mnist": load_binarized_mnist,
    "frey": load_frey,
    "sprites": load_sprites,
}
