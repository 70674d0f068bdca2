"""Property-based tests (hypothesis): whatever the input, a finite correct answer or the documented
error (`VaekitError`, a one-line flag error), never a traceback and never a silent NaN.

Covered: the information measures of `vaekit.info`, the array and image-folder loaders, and
every numeric option of every command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy import special, stats

from vaekit import info
from vaekit.cli import build_parser, main
from vaekit.data import load_dataset
from vaekit.data.arrays import IMAGE_KEYS
from vaekit.data.user import read_image_folder
from vaekit.errors import VaekitError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any float a user could type or compute, the nasty ones on purpose.
ANY_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 1e-320, 1e308]))
PROBS = st.lists(ANY_FLOAT, min_size=1, max_size=6)


def _valid(p: list[float], normalize: bool) -> np.ndarray | None:
    """p as a distribution, or None where vaekit.info must refuse it."""
    a = np.asarray(p, dtype=np.float64)
    if np.isnan(a).any() or (a < 0).any():
        return None
    with np.errstate(over="ignore"):
        total = a.sum()
    if normalize:
        return a / total if 0 < total < np.inf else None
    return a if abs(total - 1) <= info.SUM_TOL else None


@FAST
@given(p=PROBS, normalize=st.booleans(), bits=st.booleans())
def test_entropy_is_finite_and_matches_scipy_or_refuses(p, normalize, bits):
    expected = _valid(p, normalize)
    try:
        h = info.entropy(p, normalize=normalize, base=2 if bits else None)
    except VaekitError:
        assert expected is None, f"refused a valid distribution {p}"
        return
    assert expected is not None, f"accepted {p}"
    assert math.isfinite(h) and h >= 0
    assert h == pytest.approx(stats.entropy(expected, base=2 if bits else None), rel=1e-9, abs=1e-9)


@FAST
@given(
    pq=st.integers(1, 6).flatmap(lambda k: st.tuples(*[st.lists(ANY_FLOAT, min_size=k, max_size=k)] * 2)),
    normalize=st.booleans(),
)
def test_kl_cross_entropy_and_js_match_scipy_or_refuse(pq, normalize):
    p, q = pq
    ep, eq = _valid(p, normalize), _valid(q, normalize)
    try:
        kl = info.kl_divergence(p, q, normalize=normalize)
        ce = info.cross_entropy(p, q, normalize=normalize)
        js = info.js_divergence(p, q, normalize=normalize)
    except VaekitError:
        assert ep is None or eq is None, f"refused valid {p}, {q}"
        return
    assert ep is not None and eq is not None, f"accepted {p}, {q}"
    for value in (kl, ce, js):
        assert not math.isnan(value)
    reference = special.rel_entr(ep, eq).sum()
    assert kl == pytest.approx(reference, rel=1e-9, abs=1e-9) if math.isfinite(reference) else kl == math.inf
    assert kl >= 0 and 0 <= js <= math.log(2) + 1e-12  # JS is bounded by log 2, whatever P and Q
    if math.isfinite(kl):
        assert ce == pytest.approx(stats.entropy(ep) + kl, rel=1e-9, abs=1e-9)


# -- the array loader -------------------------------------------------------------------------
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.bool_, np.float16, np.float32, np.float64, np.int32, np.complex64]),
    shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=5),
    elements=None,
)


@FAST
@given(array=ARRAYS)
def test_the_array_loader_gives_images_in_0_1_or_a_clear_error(array):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mine.npy"
        np.save(path, array)
        try:
            data = load_dataset(str(path))
        except VaekitError as err:
            assert "\n" not in str(err) and str(path) in str(err)
            return
    x = torch.cat([data.train_x, data.val_x, data.test_x])
    n = array.shape[0]
    assert x.shape[0] == n and x.dtype == torch.float32
    assert tuple(x.shape[1:]) == ((1, *array.shape[1:]) if array.ndim == 3 else array.shape[1:])
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    flat = np.sort(array.reshape(n, -1).astype(np.float64) / scale, axis=None)
    np.testing.assert_allclose(np.sort(x.double().numpy(), axis=None), flat, rtol=1e-3, atol=1e-7)  # same values


# -- array files: every kind numpy can write ------------------------------------------------
# The dtypes a user's array may have: the image kinds vaekit takes, and every other kind numpy writes.
ANY_DTYPE = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(endianness="="),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(endianness="<") | hnp.floating_dtypes(endianness=">"),
    hnp.complex_number_dtypes(),
    hnp.datetime64_dtypes(),
    hnp.timedelta64_dtypes(),
    hnp.byte_string_dtypes(max_len=3),
    hnp.unicode_string_dtypes(max_len=3),
    st.just(np.dtype([("a", "<f4"), ("b", "u1")])),
    st.just(np.longdouble),
)
IMAGE_DTYPES = st.sampled_from([np.uint8, np.bool_, np.float16, np.float32, np.float64])


@st.composite
def array_files(draw) -> tuple[str, dict]:
    """(how it is written, {name: array}): .npy (plain, memory-mapped, Fortran order) or .npz
    (plain or compressed, any names), arrays of any dtype and shape, ragged object arrays among them."""
    shape = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)
    dtype = st.one_of(IMAGE_DTYPES, ANY_DTYPE)
    array = st.one_of(
        hnp.arrays(dtype, shape, elements=None),
        hnp.arrays(IMAGE_DTYPES, st.tuples(st.integers(0, 12), st.integers(1, 5), st.integers(1, 5))),
        st.builds(_ragged, st.lists(st.integers(1, 4), min_size=1, max_size=4)),
    )
    how = draw(st.sampled_from(["npy", "memmap", "fortran", "npz", "npz-compressed"]))
    if how.startswith("npz"):
        names = st.sampled_from(["x", "images", "arr_0", "y", "labels", "a", "train", "x.npy"])
        return how, draw(st.dictionaries(names, array, min_size=0, max_size=3))
    return how, {"x": draw(array)}


def _ragged(sides: list[int]) -> np.ndarray:
    out = np.empty(len(sides), dtype=object)  # a ragged list of images: numpy can only pickle it
    out[:] = [np.zeros((s, s), np.float32) for s in sides]
    return out


def _write(folder: Path, how: str, arrays: dict) -> Path:
    pickles = any(a.dtype.hasobject for a in arrays.values())
    if how.startswith("npz"):
        path = folder / "mine.npz"
        (np.savez_compressed if how.endswith("compressed") else np.savez)(path, **arrays)
        return path
    path, array = folder / "mine.npy", arrays["x"]
    if how == "memmap" and not pickles:
        mapped = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
        mapped[...] = array
        mapped.flush()
        del mapped
    else:
        np.save(path, np.asfortranarray(array) if how == "fortran" else array, allow_pickle=pickles)
    return path


@FAST
@given(file=array_files())
def test_every_array_file_numpy_writes_gives_images_or_one_line(file):
    """Works (images (N, C, H, W) float32 in [0, 1], labels one per image) or one `VaekitError`
    line naming the file; never a traceback, never an unpickled object."""
    how, arrays = file
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), how, arrays)
        try:
            data = load_dataset(str(path))
        except VaekitError as err:
            assert "\n" not in str(err) and str(path) in str(err), str(err)
            return
    x = torch.cat([data.train_x, data.val_x, data.test_x])
    y = torch.cat([data.train_y, data.val_y, data.test_y])
    assert x.dtype == torch.float32 and x.ndim == 4 and 0 not in x.shape
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert y.shape == (x.shape[0],) and y.dtype == torch.int64 and y.min() >= -1
    key = next((k for k in IMAGE_KEYS if k in arrays), None)  # the loader's precedence: x, images, arr_0
    images = arrays[key] if key is not None else next(iter(arrays.values()))
    assert images.dtype in (np.uint8, np.bool_) or np.issubdtype(images.dtype, np.floating)


# -- the image-folder loader ------------------------------------------------------------------
IMAGES = st.lists(
    st.tuples(
        st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16"]),
        st.integers(1, 6),
        st.integers(1, 6),
        st.integers(0, 2**32 - 1),
    ),
    min_size=0,
    max_size=5,
)


@FAST
@given(images=IMAGES, resize=st.one_of(st.none(), st.integers(1, 5)))
def test_the_image_folder_loader_gives_images_in_0_1_or_a_clear_error(images, resize):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for i, (mode, h, w, seed) in enumerate(images):
            pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).convert(mode).save(folder / f"{i}.png")
        try:
            x, y = read_image_folder(folder, None if resize is None else (resize, resize))
        except VaekitError as err:
            assert "\n" not in str(err)
            sizes = {(h, w) for _, h, w, _ in images}
            assert not images or (resize is None and len(sizes) > 1), f"refused readable images: {err}"
            return
    assert x.shape[0] == len(images) and y.tolist() == [-1] * len(images)
    assert x.shape[1] in (1, 3) and torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    if resize is not None:
        assert tuple(x.shape[2:]) == (resize, resize)
    else:
        assert tuple(x.shape[2:]) == images[0][1:3]


# -- every numeric option of every command ----------------------------------------------------
def _numeric_options() -> list[tuple[str, str, object]]:
    """(command, option, its argparse type) for every option that takes a number."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    found = [("", a.option_strings[0], a.type) for a in parser._actions if a.option_strings and a.type]
    for name, sub in commands.items():
        found += [(name, a.option_strings[0], a.type) for a in sub._actions if a.option_strings and a.type]
    return found


NUMERIC = [(c, o, t) for c, o, t in _numeric_options() if hasattr(t, "bounds")]


def test_every_numeric_option_is_checked_as_it_is_parsed():
    unchecked = [(c, o) for c, o, t in _numeric_options() if t in (int, float)]
    assert not unchecked, f"options parsed by a bare int/float, so NaN, inf or 0 slip through: {unchecked}"
    assert len(NUMERIC) >= 30


NUMBER_TEXT = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "-0", "1.5", "0x10", " 3", "", "3,4", "1_000"]),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(option=st.sampled_from(NUMERIC), text=NUMBER_TEXT)
def test_numeric_options_give_a_finite_value_in_range_or_a_one_line_error(option, text):
    _, _, parse = option
    low, high, low_open, high_open = parse.bounds
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as err:
        assert "\n" not in str(err)
        return
    assert math.isfinite(value)
    assert value == (int(text) if isinstance(value, int) else float(text))
    if low is not None:
        assert value > low if low_open else value >= low
    if high is not None:
        assert value < high if high_open else value <= high


@settings(max_examples=40, deadline=None)
@given(option=st.sampled_from([(c, o) for c, o, _ in NUMERIC]), text=st.sampled_from(["nan", "-inf", "-1", "abc", "0"]))
def test_the_cli_refuses_a_bad_number_in_one_line_with_exit_2(option, text):
    command, flag = option
    parse = {(c, o): t for c, o, t in NUMERIC}[option]
    try:
        parse(text)
        return  # a valid value (e.g. 0 where 0 is allowed): not this test's business
    except argparse.ArgumentTypeError:
        pass
    given_flag = f"{flag}={text}"
    argv = [given_flag, "kl", "--p", "uniform"] if not command else [command, *_required(command), given_flag]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(argv) == 2
    assert err.getvalue().startswith(f"vaekit: error: argument {flag}") and err.getvalue().count("\n") == 1


def _required(command: str) -> list[str]:
    return {"train": ["vae"], "kl": ["--p", "uniform"]}.get(command, ["no-such-run"])


# -- the text loader -------------------------------------------------------------------------
LINES = st.lists(st.text(max_size=24), max_size=14)


@FAST
@given(
    lines=LINES,
    raw=st.one_of(st.none(), st.binary(max_size=120)),
    level=st.sampled_from(["word", "char"]),
    max_length=st.one_of(st.none(), st.integers(1, 12)),
)
@example(lines=["0", "0", "\uf900"], raw=None, level="word", max_length=None)  # NFC changes it (found by a run)
def test_the_text_loader_gives_well_formed_sentences_or_a_clear_error(lines, raw, level, max_length):
    from vaekit.data.text import TextOptions, load_text_file
    from vaekit.data.vocab import BOS_ID, EOS_ID, PAD_ID

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mine.txt"
        path.write_bytes(raw if raw is not None else "\n".join(lines).encode("utf-8"))
        try:
            data = load_text_file(path, options=TextOptions(level=level, max_length=max_length))
        except VaekitError as err:
            assert "\n" not in str(err)
            return
    text = raw.decode("utf-8") if raw is not None else "\n".join(lines)
    text = unicodedata.normalize("NFC", text)  # the loader reads text in NFC: U+F900 comes back as U+8C48
    kept = [" ".join(s.split()) if level == "word" else s.strip() for s in text.splitlines() if s.strip()]
    vocab, seen = data.vocab, 0
    for x in (data.train_x, data.val_x, data.test_x):  # (N, T) int64: <bos> tokens <eos> <pad>...
        assert x.dtype == torch.int64 and x.ndim == 2 and x.shape[0] >= 1
        assert (x[:, 0] == BOS_ID).all() and x.min() >= 0 and x.max() < len(vocab)
        for row in x.tolist():
            end = row.index(EOS_ID)  # exactly one <eos>, then only <pad>
            assert EOS_ID not in row[end + 1 :] and all(t == PAD_ID for t in row[end + 1 :])
            assert PAD_ID not in row[1:end] and BOS_ID not in row[1:end]
            assert max_length is None or end - 1 <= max_length
        seen += x.shape[0]
    assert seen <= len(kept)
    for row in data.train_x.tolist():  # the vocabulary is the training split's: its sentences read back exactly
        assert vocab.decode(row) in kept
