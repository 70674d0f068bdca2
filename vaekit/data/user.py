"""Your own data: a folder of images, or a ``.npy`` / ``.npz`` array.

A folder holds images directly (unlabelled), or one sub-folder per class whose sorted names give
labels 0, 1, ... (the torchvision ImageFolder layout); mixing both is an error. Images are read
with Pillow and kept grey (1 channel) when every pixel of every image is grey, RGB (3 channels)
otherwise. They must share one size unless ``image_size`` is given, which resizes them all.

An array is (N, H, W) or (N, C, H, W). uint8 is divided by 255; bool becomes 0/1; floats must
already lie in [0, 1]. An ``.npz`` holds the images under ``x``, ``images`` or ``arr_0`` (or as
its only array) and may hold labels under ``y`` or ``labels``. `vaekit.data.arrays` reads them,
and refuses in one line every other kind of array numpy can write.

Whatever the source, images are split 80/10/10 by a permutation seeded with ``seed`` (validation
and test get ``N // 10`` each); unlabelled images get label -1. The likelihood is chosen by
`vaekit.data.splits.suited_likelihood`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaekit.data.arrays import IMAGE_KEYS, LABEL_KEYS, read_array_file  # noqa: F401 (re-exported)
from vaekit.data.splits import (
    DataSplits,
    as_height_width,
    count_classes,
    permuted_splits,
    resize_images,
    split_counts,
    suited_likelihood,
)
from vaekit.errors import VaekitError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}


def load_user_data(path: str | Path, *, image_size: int | tuple[int, int] | None = None, seed: int = 0) -> DataSplits:
    """Load a folder of images or a ``.npy`` / ``.npz`` file and split it 80/10/10.

    Returns
    -------
    DataSplits
        Images (N, C, H, W) float32 in [0, 1], labels int64 (-1 when unlabelled); named after
        the folder or file.
    """
    path = Path(path).expanduser()
    size = as_height_width(image_size)
    if path.is_dir():
        images, labels = read_image_folder(path, size)
    elif path.suffix.lower() in (".npy", ".npz"):
        images, labels = read_array_file(path)
        if size is not None:
            images = resize_images(images, size)
    else:
        raise VaekitError(f"{path} is neither a folder of images nor a .npy/.npz file")
    try:
        _, val_count, test_count = split_counts(len(images))
    except VaekitError as err:
        raise VaekitError(f"{path}: {err}") from None
    return permuted_splits(
        path.stem or path.name,
        images,
        labels,
        val_count=val_count,
        test_count=test_count,
        seed=seed,
        likelihood=suited_likelihood(images),
        num_classes=count_classes(labels),
    )


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_image_folder(folder: Path, size: tuple[int, int] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, C, H, W) float32 and labels (N,) int64 of a folder laid out as described above."""
    loose = _image_files(folder)
    class_folders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and _image_files(p))
    if loose and class_folders:
        raise VaekitError(
            f"{folder} holds both images and class sub-folders of images: put all "
            f"images in class sub-folders, or all directly in the folder"
        )
    if loose:
        files, labels = loose, [-1] * len(loose)
    else:
        files, labels = [], []
        for class_index, class_folder in enumerate(class_folders):
            members = _image_files(class_folder)
            files += members
            labels += [class_index] * len(members)
    if not files:
        raise VaekitError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {folder}")
    pixels = np.stack(_read_rgb_images(files, size))  # (N, H, W, 3) uint8
    grey = (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    pixels = pixels[..., :1] if grey else pixels
    images = torch.from_numpy(np.divide(pixels.transpose(0, 3, 1, 2), 255, dtype=np.float32))
    return images, torch.tensor(labels, dtype=torch.int64)


def _read_rgb_images(files: list[Path], size: tuple[int, int] | None) -> list[np.ndarray]:
    """Each file as (H, W, 3) uint8, resized to `size` = (H, W) when given."""
    from PIL import Image, UnidentifiedImageError

    arrays, first_size = [], None
    for file in files:
        try:
            with Image.open(file) as image:
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError) as error:
            raise VaekitError(f"cannot read image {file} ({error}): remove or fix it") from None
        if size is not None:
            rgb = rgb.resize((size[1], size[0]), Image.Resampling.LANCZOS)  # PIL wants (W, H)
        elif first_size is None:
            first_size = (files[0], rgb.size)
        elif rgb.size != first_size[1]:
            (w0, h0), (w1, h1) = first_size[1], rgb.size
            raise VaekitError(
                f"images differ in size ({first_size[0].name} is {h0}x{w0}, {file.name} is "
                f"{h1}x{w1}): pass --image-size (image_size=...) to resize them all"
            )
        arrays.append(np.asarray(rgb))
    return arrays


def read_images(paths: list[Path], shape: tuple[int, int, int]) -> tuple[torch.Tensor, list[str]]:
    """Image files, and the image files directly in folders, as (N, C, H, W) float32 in [0, 1] of a
    run's `shape` (resized, grey or RGB), with the name of each file; for `vaekit encode`."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = _image_files(path)
            if not found:
                raise VaekitError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) directly in the folder {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise VaekitError(f"{path}: no such image file or folder")
    channels, height, width = shape
    pixels = np.stack(_read_rgb_images(files, (height, width))).astype(np.float32) / 255  # (N, H, W, 3)
    if channels == 1:  # the run's images are grey: luminance, as Pillow's "L" mode computes it
        pixels = pixels @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))), [str(f) for f in files]
