"""The conditional VAE: the label reaches every decoder layer (or the first only), the prior p(z|y) is
learned per label (or N(0, I) for all), and its walks and traversals hold a label fixed (generation,
the commands, the report)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from tests.test_models import build
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.eval.likelihood import evaluate
from vaekit.generate.images import interpolate, pairs_of_one_label, sample, traversal_codes, traverse
from vaekit.models import load_run
from vaekit.nn.backbones import LabelEveryLayerMLPDecoder, MLPDecoder


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_cvae_feeds_the_label_to_every_decoder_layer_by_default(digits):
    model, _, _ = build("cvae", digits)
    assert isinstance(model.decoder, LabelEveryLayerMLPDecoder)
    assert all(layer.in_features == n + 10 for layer, n in zip(model.decoder.layers, (4, 64)))
    first_only, _, _ = build("cvae", digits, label_layers="input")
    assert isinstance(first_only.decoder, MLPDecoder)


def test_the_label_still_acts_when_the_first_layer_ignores_it(digits):
    model, _, _ = build("cvae", digits)
    with torch.no_grad():
        model.decoder.layers[0].weight[:, -10:] = 0.0  # the label's columns in the first layer
        z = torch.randn(1, 4).expand(10, 4)
        means = model.decode(z, torch.arange(10)).mean  # (10, 1, 8, 8): one code, ten labels
    assert (means[1:] - means[0]).abs().amax() > 1e-3  # later layers still see the label


def test_unknown_label_layers_is_an_error(digits):
    with pytest.raises(VaekitError, match="label_layers"):
        build("cvae", digits, label_layers="middle")


def test_pairs_of_one_label_share_their_label():
    y = torch.tensor([3, 1, 3, 1, 2, 3, 3, 1, -1])
    a, b = pairs_of_one_label(y, 4)
    assert (y[a] == y[b]).all() and (a != b).all()
    assert a.tolist() == [1, 0, 5] and b.tolist() == [3, 2, 6]  # labels in turn; the odd 1 and the 2 have no pair
    a, b = pairs_of_one_label(y, 5, label=3)
    assert a.tolist() == [0, 5] and b.tolist() == [2, 6]
    with pytest.raises(VaekitError, match="no two images of label 2"):
        pairs_of_one_label(y, 1, label=2)


def test_cvae_walks_decode_with_the_start_label_and_traversals_hold_the_label(tiny_run):
    model, _ = load_run(tiny_run("cvae"))
    data = load_dataset("digits")
    x, y = data.test_x[:40], data.test_y[:40]
    a, b = pairs_of_one_label(y, 3)
    with pytest.raises(VaekitError, match="labels of both images"):
        interpolate(model, x[a], x[b], 5)
    yb = (y[a] + 1) % 10  # B encoded with another label: the path is still decoded with A's
    path = interpolate(model, x[a], x[b], 5, "linear", y[a], yb).view(3, 5, *x.shape[1:])
    with torch.no_grad():
        za, zb = model.encode(x[a], y[a]).mean, model.encode(x[b], yb).mean
        torch.testing.assert_close(path[:, 0], model.decode(za, y[a]).mean)  # t = 0: A reconstructed
        torch.testing.assert_close(path[:, -1], model.decode(zb, y[a]).mean)  # t = 1: B's code, A's label
        assert (path[:, -1] - model.decode(zb, yb).mean).abs().amax() > 1e-4  # the label is held, not B's
    grid = traverse(model, x[5:], [0, 2], steps=4, span=2.0, y=y[5:6])
    codes = traversal_codes(model.encode(x[5:6], y[5:6]).mean, [0, 2], 4, 2.0)
    with torch.no_grad():
        torch.testing.assert_close(grid, model.decode(codes, y[5].expand(8)).mean)
    with pytest.raises(VaekitError, match="label"):
        traverse(model, x, [0], steps=3)


def test_cvae_commands_and_report_show_walks_and_traversals(tiny_run, tmp_path, capsys):
    from tests.test_report import read_page
    from vaekit.cli import main
    from vaekit.report import build_report

    run = str(tiny_run("cvae"))
    assert main(["interpolate", run, "--pairs", "2", "--label", "7", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["latents", run, "--label", "4", "--limit", "100", "--out", str(tmp_path / "lat")]) == 0
    assert (tmp_path / "i.png").stat().st_size > 1000 and (tmp_path / "lat" / "traversals.png").stat().st_size > 1000
    assert main(["interpolate", run, "--label", "10"]) == 2
    assert main(["latents", str(tiny_run("vae")), "--label", "1"]) == 2
    assert "--label must be a class from 0 to 9" in capsys.readouterr().err
    out = build_report(run, tmp_path / "r.html", limit=60, iw_samples=2)
    page = read_page(out)
    assert page.sections["interpolations"] == page.sections["traversals"] == "shown"
    text = out.read_text(encoding="utf-8")
    assert "not supported" not in text and "decoding the whole path with that label" in text


def test_cvae_learns_a_prior_per_label_by_default(digits):
    model, _, _ = build("cvae", digits)
    assert model.label_prior_loc.shape == model.label_prior_log_scale.shape == (10, 4)
    with torch.no_grad():
        model.label_prior_loc.copy_(torch.arange(10.0)[:, None].expand(10, 4))
        model.label_prior_log_scale.fill_(-1.0)
    p = model.prior(torch.tensor([3, 7]))  # p(z|y): batch (2,), event (4,)
    assert p.batch_shape == (2,) and p.event_shape == (4,)
    torch.testing.assert_close(p.mean, torch.tensor([[3.0] * 4, [7.0] * 4]))
    torch.testing.assert_close(p.stddev, torch.full((2, 4), math.exp(-1.0)))
    # Without labels: the marginal (1/10) sum_y p(z|y), scored by hand.
    z = torch.randn(5, 4)
    by_hand = torch.stack([Independent(Normal(float(c), math.exp(-1.0)), 0).log_prob(z).sum(-1) for c in range(10)])
    torch.testing.assert_close(model.prior().log_prob(z), torch.logsumexp(by_hand, 0) - math.log(10))
    standard, _, _ = build("cvae", digits, prior="standard")
    assert standard.label_prior_loc is None and standard.prior(torch.tensor([3])).batch_shape == ()


def test_samples_of_a_label_come_from_its_own_prior(digits):
    model, _, _ = build("cvae", digits)
    with torch.no_grad():
        model.label_prior_loc[5] = torch.tensor([4.0, -4.0, 2.0, 0.5])
        model.label_prior_log_scale.fill_(-20.0)  # p(z|y) a near point mass at mu_y
    labels = torch.tensor([5, 5, 5])
    drawn = sample(model, 3, labels=labels)
    expected = model.decode(model.label_prior_loc[5].expand(3, 4), labels).mean
    torch.testing.assert_close(drawn, expected)
    with pytest.raises(VaekitError, match="one label per sample"):
        sample(model, 4, labels=labels)


def test_elbo_and_likelihood_of_the_cvae_use_p_z_given_y(digits):
    """The KL is against p(z|y) and the importance weights carry log p(z|y): moving one class's
    prior changes exactly the terms of that class's images."""
    model, objective, _ = build("cvae", digits)
    x, y = digits.test_x[:40], digits.test_y[:40]
    progress = torch.tensor(1.0)
    torch.manual_seed(0)
    out = objective(model, x, y, progress).terms
    q = model.encode(x, y)
    expected_kl = kl_divergence(
        q, Independent(Normal(model.label_prior_loc[y], model.label_prior_log_scale[y].exp()), 1)
    )
    torch.testing.assert_close(out["kl"], expected_kl)
    before = evaluate(model, x, y, k=50, seed=1)["nll"]
    with torch.no_grad():
        model.label_prior_loc[int(y[0])] += 3.0  # a prior far from where that class's codes lie
    torch.manual_seed(0)
    moved = objective(model, x, y, progress).terms["kl"]
    hit = y == y[0]
    assert (moved[hit] > out["kl"][hit] + 1.0).all()
    torch.testing.assert_close(moved[~hit], out["kl"][~hit])
    assert evaluate(model, x, y, k=50, seed=1)["nll"] > before + 0.5
