"""Datasets as in-memory `DataSplits`: built-in ones by name, or your own by path.

>>> from vaekit.data import load_dataset
>>> splits = load_dataset("digits")            # embedded in scikit-learn, no download
>>> splits.train_x.shape, splits.likelihood
(torch.Size([1397, 1, 8, 8]), 'bernoulli')

Built-in names (`DATASETS`) and their fixed train/val/test splits:

- ``digits``: scikit-learn's 1797 8x8 digits, pixels / 16, seed-0 permutation -> 1397/200/200.
- ``mnist``, ``fashion-mnist``: the official 10,000 test images are the test split; of the
  60,000 official training images the first 59,000 train and the last 1,000 validate.
- ``binarized-mnist``: MNIST split as above, with ``dynamic_binarize=True``: training images
  stay grey (the trainer draws fresh Bernoulli pixels per batch), validation and test are
  binarized once with a generator seeded by ``seed`` (Burda et al. 2015).
- ``ptb``: the Penn Treebank sentences (text; see `vaekit.data.text`), its own 42068/3370/3761 split.
- ``frey``: 1965 unlabelled 28x20 Frey faces, Gaussian likelihood, permutation seeded by
  ``seed`` -> 1573/196/196.

A path instead of a name loads your own data (see `vaekit.data.user`): a folder of images or a
``.npy`` / ``.npz`` array, split 80/10/10 (``N // 10`` each for val and test) by a permutation
seeded by ``seed``. Keep ``seed`` at its default 0 to get the documented splits; change it only
to deliberately draw another split.

Files live under `default_data_dir()` (``$VAEKIT_DATA_DIR``, else ``$XDG_CACHE_HOME/vaekit``,
else ``~/.cache/vaekit``) as ``mnist/*.gz``, ``fashion-mnist/*.gz`` and
``frey/frey_rawface.mat``; missing ones are downloaded, SHA-256 checked, unless
``download=False``.
"""

from __future__ import annotations

from pathlib import Path

from vaekit.data.builtin import DATASETS
from vaekit.data.download import default_data_dir
from vaekit.data.pairs import PAIR_DATASETS, PairOptions, is_pairs_source, load_pairs_file
from vaekit.data.splits import DataSplits
from vaekit.data.text import TEXT_DATASETS, TextOptions, is_text_source, load_text_file
from vaekit.data.user import load_user_data
from vaekit.errors import VaekitError

_ARRAY_SUFFIXES = (".npy", ".npz")


def load_dataset(
    name_or_path: str,
    data_dir: str | Path | None = None,
    *,
    image_size: int | tuple[int, int] | None = None,
    seed: int = 0,
    download: bool = True,
    text: TextOptions | None = None,
    pairs: PairOptions | None = None,
) -> DataSplits:
    """Load a built-in dataset by name, or your own data from a folder / .npy / .npz path.

    Parameters
    ----------
    name_or_path : str
        A key of `DATASETS` (case and ``_``/``-`` are forgiven), or a path.
    data_dir : str or pathlib.Path, optional
        Where built-in datasets' files live; `default_data_dir()` when None.
    image_size : int or (int, int), optional
        Resize every image to (H, W) (one int = square). Needed for a folder of mixed sizes.
    seed : int
        Seeds the Frey / user-data split and binarized-mnist's one-time val/test binarization.
        The digits and MNIST-family splits never depend on it. Default 0 = the documented split.
    download : bool
        Fetch missing files. With False a missing file is an error naming its URL and folder.
    text : TextOptions, optional
        For text (``ptb`` or a ``.txt`` path): token level, vocabulary size, maximum length.
    pairs : PairOptions, optional
        For sentence pairs (``fra-eng`` or a ``.tsv`` path): tokenizer, direction, vocabularies.

    Returns
    -------
    DataSplits
        train/val/test images (N, C, H, W) float32 in [0, 1] and int64 labels (-1 = none).

    Raises
    ------
    VaekitError
        Unknown name, missing or corrupt file, or unusable user data.
    """
    key = str(name_or_path).strip().lower().replace("_", "-")
    if is_builtin(key):
        directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        if key in PAIR_DATASETS:
            return PAIR_DATASETS[key](directory, options=pairs, download=download, seed=seed)
        if key in TEXT_DATASETS:
            return TEXT_DATASETS[key](directory, options=text, download=download)
        return DATASETS[key](directory, image_size=image_size, seed=seed, download=download)
    return _load_path(name_or_path, image_size, seed, text, pairs)


def _load_path(name_or_path, image_size, seed: int, text: TextOptions | None, pairs: PairOptions | None) -> DataSplits:
    """Your own data: a .tsv of pairs, a .txt of sentences, a folder of images or a .npy / .npz array."""
    path = Path(name_or_path).expanduser()
    if is_pairs_source(str(path)) and path.is_file():
        return load_pairs_file(path, options=pairs, seed=seed)
    if is_text_source(str(path)) and path.is_file():
        return load_text_file(path, options=text, seed=seed)
    if path.exists():
        return load_user_data(path, image_size=image_size, seed=seed)
    if path.suffix.lower() in _ARRAY_SUFFIXES or "/" in str(name_or_path):
        raise VaekitError(f"no such file or folder: {path}")
    raise VaekitError(
        f"unknown dataset {name_or_path!r}: use one of {', '.join([*DATASETS, *TEXT_DATASETS, *PAIR_DATASETS])}, "
        "or a path to a folder of images, a .npy/.npz file, a .txt file of sentences or a .tsv file of pairs"
    )


def is_builtin(name: str) -> bool:
    """Whether `name` names a built-in dataset, images or text (case and ``_``/``-`` forgiven), rather than a path."""
    key = str(name).strip().lower().replace("_", "-")
    return key in DATASETS or key in TEXT_DATASETS or key in PAIR_DATASETS


def dataset_key(name_or_path: str) -> str:
    """What a run records for its data: a built-in name as it is, an existing path made absolute
    (so the run opens from any folder), anything else unchanged (loading it will say what is wrong)."""
    if is_builtin(name_or_path):
        return str(name_or_path)
    path = Path(name_or_path).expanduser()
    return str(path.resolve()) if path.exists() else str(name_or_path)


__all__ = [
    "DATASETS",
    "PAIR_DATASETS",
    "PairOptions",
    "TEXT_DATASETS",
    "DataSplits",
    "TextOptions",
    "dataset_key",
    "default_data_dir",
    "is_builtin",
    "is_pairs_source",
    "is_text_source",
    "load_dataset",
]
