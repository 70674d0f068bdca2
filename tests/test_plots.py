"""The pictures say what they show: titles, row and column labels, images placed where they belong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.plots import (
    curves_figure,
    image_grid,
    interpolations_figure,
    latent_scatter_figure,
    prior_title,
    reconstructions_figure,
    run_title,
    samples_figure,
    traversals_figure,
)
from vaekit.plots.canvas import BACKGROUND


def _images(n: int, h: int = 6, w: int = 5, seed: int = 0) -> torch.Tensor:
    """n distinct images (n, 1, h, w) in [0, 0.9]: never the white background."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, h, w, generator=g) * 0.9


def _ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


def _tile(fig, row: int, col: int) -> np.ndarray:
    """The grey tile at (row, col) of a labelled grid, read back from the figure's image."""
    ax = fig.axes[0]
    lay = ax.grid_layout
    canvas = ax.images[0].get_array()
    top, left = lay.row_top[row], lay.col_left[col]
    return np.asarray(canvas[top : top + lay.tile_h, left : left + lay.tile_w, 0])


@pytest.mark.parametrize("n, ncol", [(13, 8), (16, 8), (3, 8), (7, 3)])
def test_reconstructions_are_aligned_labelled_pairs_of_rows(n, ncol):
    x, r = _images(n), _images(n, seed=1)
    fig = reconstructions_figure(x, r, run_title("vae", "mnist"), "test", ncol)
    ax = fig.axes[0]
    pairs = -(-n // ncol)
    labels = _ticks(ax.get_yticklabels())
    assert len(labels) == 2 * pairs and ax.grid_layout.placed == 2 * n
    assert labels[0] == f"original 1-{min(n, ncol)}" and labels[1] == f"reconstruction 1-{min(n, ncol)}"
    assert all(a.startswith("original") and b.startswith("reconstruction") for a, b in zip(labels[::2], labels[1::2]))
    for i in range(n):  # image i sits in pair i // ncol, column i % ncol, its reconstruction right below it
        p, c = divmod(i, ncol)
        np.testing.assert_allclose(_tile(fig, 2 * p, c), x[i, 0].numpy(), atol=1e-6)
        np.testing.assert_allclose(_tile(fig, 2 * p + 1, c), r[i, 0].numpy(), atol=1e-6)
    if n > ncol and n % ncol:  # the cells after the last image stay empty
        assert (_tile(fig, 2 * pairs - 1, n % ncol) == BACKGROUND).all()
    assert fig.get_suptitle().startswith(f"vae on mnist: {n} test images and their reconstructions")


def test_reconstructions_say_when_the_split_is_shorter_than_asked():
    fig = reconstructions_figure(_images(30), _images(30), "vae on frey", "test", requested=100)
    assert "asked for 100; the test split has only 30" in fig.get_suptitle()
    assert fig.axes[0].grid_layout.placed == 60


def test_samples_title_names_model_data_prior_and_temperature():
    fig = samples_figure(_images(10), run_title("vae", "mnist", "last"), prior_title("N(0, I)", 0.7), ncol=4)
    title = fig.get_suptitle()
    for words in ("vae on mnist", "last checkpoint", "10 samples", "N(0, I)", "temperature 0.7"):
        assert words in title
    lay = fig.axes[0].grid_layout
    assert lay.placed == 10 and len(lay.row_top) == 3 and len(lay.col_left) == 4
    assert "10-component Gaussian mixture" in prior_title("gmm:10")
    assert prior_title(label=7).endswith("label 7")


def test_interpolations_name_their_rows_and_mark_the_end_points():
    pairs, steps = 2, 5
    linear = _images(pairs * steps).view(pairs, steps, 1, 6, 5)
    spherical = _images(pairs * steps, seed=2).view(pairs, steps, 1, 6, 5)
    a, b = _images(pairs, seed=3), _images(pairs, seed=4)
    fig = interpolations_figure(linear, spherical, a, b, "vae on digits")
    ax = fig.axes[0]
    assert _ticks(ax.get_yticklabels()) == [
        "pair 1, linear",
        "pair 1, spherical",
        "pair 2, linear",
        "pair 2, spherical",
    ]
    assert _ticks(ax.get_xticklabels()) == ["A", "0", "0.25", "0.5", "0.75", "1", "B"]
    colours = [t.get_color() for t in ax.get_xticklabels()]
    assert colours[0] == colours[1] == "tab:orange" and colours[-2] == colours[-1] == "tab:blue"
    assert "linear" in fig.get_suptitle() and "spherical" in fig.get_suptitle()
    framed = sorted((round(p.get_x() + 1), round(p.get_y() + 1)) for p in ax.patches)
    lay = ax.grid_layout
    expected = sorted((lay.col_left[c], lay.row_top[r]) for r in range(4) for c in (1, steps))
    assert framed == expected  # every row: the decoded ends t = 0 and t = 1
    np.testing.assert_allclose(_tile(fig, 0, 0), a[0, 0].numpy(), atol=1e-6)  # the real A, then the path
    np.testing.assert_allclose(_tile(fig, 3, steps + 1), b[1, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(_tile(fig, 3, 2), spherical[1, 1, 0].numpy(), atol=1e-6)
    assert lay.placed == 4 * (steps + 2)


def test_traversals_name_each_latent_with_its_kl_and_show_the_range():
    grid = _images(3 * 5).view(3, 5, 1, 6, 5)
    fig = traversals_figure(
        grid, [4, 0, 2], [2.5, 1.25, 0.5], [-3, -1.5, 0, 1.5, 3], "vae on mnist", left_out=5, latent_dim=8
    )
    ax = fig.axes[0]
    assert _ticks(ax.get_yticklabels()) == ["z5 (KL 2.50 nats)", "z1 (KL 1.25 nats)", "z3 (KL 0.50 nats)"]
    assert _ticks(ax.get_xticklabels()) == ["-3.0", "-1.5", "+0.0", "+1.5", "+3.0"]
    assert "value" in ax.get_xlabel()
    assert "5 of 8 latents left out" in fig.get_suptitle()


def test_latent_scatter_has_axis_names_and_a_discrete_legend():
    points = torch.randn(300, 2)
    labels = torch.arange(300) % 3
    fig = latent_scatter_figure(points, labels, ("z1", "z2"), "codes", ["0 square", "1 ellipse", "2 heart"])
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z1", "z2")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0 square", "1 ellipse", "2 heart"]
    colours = {tuple(c.get_facecolor()[0][:3]) for c in ax.collections}
    assert len(ax.collections) == 3 and len(colours) == 3  # one colour per label, no colour bar
    assert len(fig.axes) == 1
    unlabelled = latent_scatter_figure(points, torch.full((300,), -1), ("PC 1", "PC 2"), "codes")
    assert unlabelled.axes[0].get_legend() is None


def test_latent_scatter_of_a_quantity_has_a_colour_scale_instead_of_a_legend():
    points, words = torch.randn(50, 2), torch.arange(50) % 12 + 1
    fig = latent_scatter_figure(points, words, ("PC 1", "PC 2"), "sentences", label_title="words", continuous=True)
    ax, bar = fig.axes
    assert ax.get_legend() is None and bar.get_ylabel() == "words"
    assert len(ax.collections) == 1 and list(ax.collections[0].get_array()) == words.tolist()


def test_image_grid_places_every_image_pixel_for_pixel():
    images = _images(5)  # (5, 1, 6, 5)
    grid = image_grid(images, nrow=2, min_size=0)
    assert grid.shape == (3 * (6 + 1) + 1, 2 * (5 + 1) + 1)  # 3 rows of 2, a pixel of background between
    assert np.allclose(grid[1 + 2 * 7 : 1 + 2 * 7 + 6, 1 : 1 + 5], images[4, 0].numpy())  # the 5th: row 3, column 1
    assert (grid[15:21, 7:12] == BACKGROUND).all()  # the empty cell after it
    big = image_grid(torch.rand(2, 3, 4, 4), nrow=2, min_size=100)
    assert big.shape[2] == 3 and big.shape[1] >= 100 and big.shape[1] % 11 == 0  # colour, upscaled by a whole factor


def test_curves_say_nats_per_sentence_for_a_text_run():
    history = [{"epoch": e, "train_loss": 10.0 - e, "val_loss": 11.0 - e} for e in (1, 2, 3)]
    fig = curves_figure(history, "lm on ptb", per="sentence")
    assert fig.axes[0].get_title() == "loss (nats per sentence)" and fig.get_suptitle() == "lm on ptb"
    assert [len(line.get_xdata()) for line in fig.axes[0].get_lines()] == [3, 3]
