"""A reader for the IDX format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by raw values: a 4-byte magic number whose low byte
is the number of dimensions and whose third byte is the value type (0x08 = unsigned byte), then
one 4-byte size per dimension, then the values, row-major. Images use magic 2051 (ubyte, 3 dims:
n, rows, cols); labels use magic 2049 (ubyte, 1 dim: n). Files may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from vaekit.errors import VaekitError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a uint8 array.

    Parameters
    ----------
    path : pathlib.Path
        The ``.gz`` or raw IDX file.
    expected_magic : int
        `IMAGES_MAGIC` or `LABELS_MAGIC`.

    Returns
    -------
    numpy.ndarray
        uint8, shape (n, rows, cols) for images or (n,) for labels. Read-only: it is a view
        onto the decompressed bytes, so no extra copy is made.

    Raises
    ------
    VaekitError
        The file is not valid gzip, has the wrong magic number, or its length disagrees with
        the sizes in its header.
    """
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise VaekitError(f"{path} is not a valid gzip file ({error}): delete it so it is fetched again") from None
    if len(raw) < 4:
        raise VaekitError(f"{path} is too short to be an IDX file: delete it and fetch it again")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise VaekitError(
            f"{path} has IDX magic number {magic}, expected {expected_magic} "
            f"({'images' if expected_magic == IMAGES_MAGIC else 'labels'}): the file is corrupt "
            f"or not the one named; delete it and fetch it again"
        )
    ndim = magic & 0xFF
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise VaekitError(f"{path} ends inside its IDX header: delete it and fetch it again")
    shape = tuple(int(size) for size in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected_bytes = header_bytes + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected_bytes:
        raise VaekitError(
            f"{path} holds {len(raw)} bytes but its IDX header {shape} needs {expected_bytes}: "
            f"the file is truncated or corrupt; delete it and fetch it again"
        )
    return np.frombuffer(raw, np.uint8, offset=header_bytes).reshape(shape)


def read_idx_images(path: Path) -> np.ndarray:
    """Images of an IDX image file, uint8 (n, rows, cols)."""
    return read_idx(path, IMAGES_MAGIC)


def read_idx_labels(path: Path) -> np.ndarray:
    """Labels of an IDX label file, uint8 (n,)."""
    return read_idx(path, LABELS_MAGIC)
