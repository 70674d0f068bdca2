"""A user's ``.npy`` / ``.npz`` file as images: every kind numpy can write works or is refused in one line.

Works: (N, H, W) or (N, C, H, W) arrays of uint8 (divided by 255), bool (0/1) or any float kind
in [0, 1] (float16 to longdouble, either byte order, C or Fortran order), from a plain,
memory-mapped or compressed file. An ``.npz`` holds the images under ``x``, ``images`` or
``arr_0``, or as its only array, and may hold integer labels under ``y`` or ``labels``.

Refused, before anything is allocated: object and ragged arrays (never unpickled:
``allow_pickle=False`` always), structured, complex, string, date and other integer dtypes,
zero-size and wrongly shaped arrays, a file whose header promises more data than it holds, an
array larger than the free memory, an ``.npz`` with several arrays and none of the names above.
A ``.npy`` is memory-mapped, so only the float32 images are ever held in memory whole.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import VaekitError

IMAGE_KEYS = ("x", "images", "arr_0")
LABEL_KEYS = ("y", "labels")
MAX_LABEL = 65_535  # a label above it is an id, not a class index


def read_array_file(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, C, H, W) float32 in [0, 1] and labels (N,) int64 (-1: unlabelled) of a .npy / .npz file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic.startswith(b"PK"):  # a zip: .npz, whatever the file is called
            array, labels = _read_npz(path)
        elif magic == b"\x93NUMPY":
            array, labels = _read_npy(path), None
        else:
            raise ValueError("it is neither a .npy nor a .npz file written by numpy" if magic else "the file is empty")
    except VaekitError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError) as error:
        raise VaekitError(f"cannot read {path} as a numpy array ({_reason(error)})") from None
    images = _images_from_array(array, path)
    return images, _labels_from_array(labels, len(images), path)


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "allow_pickle" in text or "Python objects" in text:
        return "it is an object array, which vaekit never unpickles: save a numeric array of images"
    if isinstance(error, EOFError) or "mmap length" in text:
        return "the file is empty or cut short"
    return text.splitlines()[0][:200]


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        shape, dtype = _header(f, path.stat().st_size, path)
    _check_fits(shape, dtype, path)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(path, allow_pickle=False) as loaded:
        keys = list(loaded.keys())
        image_key = next((k for k in IMAGE_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
        if image_key is None:
            held = ", ".join(f"{k} {_shape_of(loaded, k)}" for k in keys[:8]) or "no arrays"
            raise VaekitError(
                f"{path} holds {held}: vaekit cannot tell which are the images; save them under 'x' "
                f"(and labels under 'y'), e.g. np.savez(file, x=images, y=labels)"
            )
        label_key = next((k for k in LABEL_KEYS if k in keys and k != image_key), None)
        for key in filter(None, (image_key, label_key)):
            shape, dtype = _member_header(loaded, key, path)
            _check_fits(shape, dtype, path, key)
        return loaded[image_key], (loaded[label_key] if label_key else None)


def _member(loaded, key: str) -> zipfile.ZipInfo:
    return loaded.zip.getinfo(key if key in loaded.zip.namelist() else f"{key}.npy")


def _member_header(loaded, key: str, path: Path) -> tuple[tuple, np.dtype]:
    info = _member(loaded, key)
    with loaded.zip.open(info) as f:
        return _header(f, info.file_size, path, key)


def _shape_of(loaded, key: str) -> str:
    try:
        shape, dtype = _member_header(loaded, key, Path("?"))
        return f"{shape} {dtype}"
    except (VaekitError, OSError, ValueError, EOFError, zipfile.BadZipFile):
        return "(unreadable)"


def _header(f, size: int, path: Path, key: str | None = None) -> tuple[tuple, np.dtype]:
    """The shape and dtype a .npy stream declares, checked against the `size` bytes it has."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    what = f"{path}" + (f" (array '{key}')" if key else "")
    if dtype.hasobject:
        raise VaekitError(
            f"{what} holds an object (or ragged) array, which vaekit never unpickles: "
            f"save numeric arrays (images all of one size, integer labels)"
        )
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > size - f.tell():
        raise VaekitError(
            f"{what} declares a {shape} {dtype} array ({_bytes(declared)}) but holds "
            f"{_bytes(max(0, size - f.tell()))} of data: the file is cut short or damaged; save it again"
        )
    return tuple(shape), dtype


def _check_fits(shape: tuple, dtype: np.dtype, path: Path, key: str | None = None) -> None:
    """Refuses an array whose float32 images (plus the raw data, for a compressed member) would not
    fit in the free memory, before any of it is read."""
    count = int(np.prod(shape, dtype=object))
    needed = 2 * count * 4 + (0 if key is None else count * dtype.itemsize)  # the images, a split copy
    free = available_memory()
    if needed > free:
        what = f"{path}" + (f" (array '{key}')" if key else "")
        raise VaekitError(
            f"{what} holds a {shape} {dtype} array: as float32 images it needs about {_bytes(needed)} "
            f"of memory and {_bytes(free)} is free; use fewer or smaller images"
        )


def available_memory() -> int:
    """Bytes of memory free for new data: MemAvailable of /proc/meminfo, else all physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} PB"


def _images_from_array(array: np.ndarray, path: Path) -> torch.Tensor:
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or 0 in array.shape:
        raise VaekitError(
            f"{path} holds an array of shape {array.shape}: images must be (N, H, W) or (N, C, H, W) with no side of 0"
        )
    # (N, 32, 32, 3) is the usual slip; a real channel axis is rarely wider than 4.
    if array.shape[-1] in (1, 3, 4) and array.shape[1] > 4:
        raise VaekitError(
            f"{path} holds shape {array.shape}, which looks channels-last: save "
            f"x.transpose(0, 3, 1, 2) to make it (N, C, H, W)"
        )
    if array.dtype == np.uint8:
        return torch.from_numpy(np.divide(array, 255, dtype=np.float32))
    if array.dtype == np.bool_:
        return torch.from_numpy(array.astype(np.float32))
    if not np.issubdtype(array.dtype, np.floating):
        raise VaekitError(f"{path} holds {_kind(array.dtype)} images: use uint8 (0-255), bool, or floats in [0, 1]")
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise VaekitError(
            f"{path} holds {bad} NaN or infinite value{'s' if bad > 1 else ''} among its "
            f"{array.size}: replace them (e.g. np.nan_to_num) or drop those images"
        )
    low, high = float(np.min(array)), float(np.max(array))
    if not (low >= 0.0 and high <= 1.0):
        raise VaekitError(
            f"{path} holds float values in [{low}, {high}]: floats must lie in "
            f"[0, 1] (divide 0-255 data by 255, or save it as uint8)"
        )
    return torch.from_numpy(array.astype(np.float32))


def _kind(dtype: np.dtype) -> str:
    if dtype.names:
        return f"structured ({', '.join(dtype.names[:4])}{', ...' if len(dtype.names) > 4 else ''})"
    if np.issubdtype(dtype, np.complexfloating):
        return f"complex ({dtype})"
    return str(dtype)


def _labels_from_array(labels: np.ndarray | None, count: int, path: Path) -> torch.Tensor:
    if labels is None:
        return torch.full((count,), -1, dtype=torch.int64)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # a column vector is a common way to save them
        labels = labels[:, 0]
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise VaekitError(
            f"{path} holds labels of shape {labels.shape} and type {_kind(labels.dtype)}: "
            f"labels must be {count} integers, one per image"
        )
    if count and (labels.min() < -1 or labels.max() > MAX_LABEL):
        bad = labels.min() if labels.min() < -1 else labels.max()
        raise VaekitError(
            f"{path} holds label {bad}: labels must be class indices 0..K-1 (K at most {MAX_LABEL + 1}), "
            f"or -1 for unlabelled"
        )
    return torch.from_numpy(labels.astype(np.int64))
