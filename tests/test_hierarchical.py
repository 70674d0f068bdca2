"""The two-stochastic-layer VAE: its joint code distributions are proper densities that match their
samplers, and the bounds it is trained and evaluated on keep their order."""

from __future__ import annotations

import math
import re

import pytest
import torch

from vaekit.config import ModelConfig
from vaekit.errors import VaekitError
from vaekit.eval.likelihood import evaluate
from vaekit.models.registry import build_model, build_objective
from vaekit.objectives import ELBO


def tiny(z1: int = 1, z2: int = 1, name: str = "hvae", **options):
    torch.manual_seed(0)
    cfg = ModelConfig(
        name=name,
        hidden=[16],
        latent_dim=z1,
        activation="tanh",
        likelihood="bernoulli",
        options={"top_dim": z2, "top_hidden": "8", **options},
    )
    return build_model(cfg, (1, 4, 4), 10).double().eval()


def grid_2d(n: int = 401, span: float = 8.0) -> tuple[torch.Tensor, float]:
    """Points (n*n, 2) of a square grid and the area of one cell."""
    t = torch.linspace(-span, span, n, dtype=torch.float64)
    z = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    return z, float((t[1] - t[0]) ** 2)


@torch.no_grad()
def test_prior_and_posterior_are_normalised_and_match_their_samplers():
    # with one latent per layer the joint code is 2-D: integrate its density on a grid and compare
    # with the moments of 200,000 draws, which catches a density and a sampler that disagree
    model = tiny()
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    z, cell = grid_2d()
    for law in (model.prior(), model.encode(x)):
        density = (law.log_prob(z if law.batch_shape == () else z[:, None]).reshape(-1)).exp()  # (n*n,)
        assert float(density.sum() * cell) == pytest.approx(1.0, abs=2e-3)
        draws = law.sample((200_000,)).reshape(-1, 2)
        mean_grid = (density[:, None] * z).sum(0) * cell  # (2,)
        second_grid = (density[:, None] * z * z).sum(0) * cell
        assert torch.allclose(draws.mean(0), mean_grid, atol=0.02)
        assert torch.allclose(draws.pow(2).mean(0), second_grid, rtol=0.03, atol=0.02)


@torch.no_grad()
def test_code_order_is_z1_then_z2_and_the_decoder_reads_z1_only():
    model = tiny(z1=3, z2=2)
    assert model.latent_dim == 5
    z = model.prior().sample((7,))  # (7, 5)
    other_top = torch.cat([z[:, :3], torch.randn(7, 2, dtype=torch.float64)], dim=-1)
    assert torch.equal(model.decode(z).mean, model.decode(other_top).mean)
    q = model.encode(torch.rand(4, 1, 4, 4, dtype=torch.float64))
    assert q.batch_shape == (4,) and q.event_shape == (5,)
    assert q.rsample((6,)).shape == (6, 4, 5) and q.log_prob(q.rsample((6,))).shape == (6, 4)


def test_training_raises_the_bound_and_the_estimates_keep_their_order():
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 4, 4) < torch.linspace(0.1, 0.9, 16).reshape(1, 1, 4, 4)).float()
    for name in ("hvae", "hiwae"):
        model = tiny(z1=2, z2=2, name=name).float().train()
        objective = build_objective(ModelConfig(name=name, options={"top_dim": 2, "top_hidden": "8"}))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        progress = torch.tensor(0.0)
        first = float(objective(model, x, None, progress).loss.detach())
        for _ in range(150):
            opt.zero_grad()
            objective(model, x, None, progress).loss.backward()
            opt.step()
        assert float(objective(model, x, None, progress).loss.detach()) < first - 0.5
        model.eval()
        r = evaluate(model, x, k=200, seed=0)
        # log p(x) >= the ELBO: the importance-sampled NLL sits below the negative ELBO
        assert math.isfinite(r["nll"]) and r["nll"] <= -r["elbo"] + 1e-3


def test_free_bits_is_refused_with_a_hint():
    model = tiny()
    x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(VaekitError, match="free-bits"):
        ELBO(free_bits=0.5)(model, x, None, torch.tensor(0.0))


@pytest.mark.parametrize("options", [{"top_hidden": "a,b"}, {"top_dim": 0}])
def test_bad_options_are_one_line_errors(options):
    with pytest.raises(VaekitError, match="--set top_"):
        tiny(**options)


def test_log_prob_of_its_own_draw_reuses_the_conditional_with_the_same_value_and_gradient():
    # the ELBO's Monte Carlo KL asks log q(z|x) of the z just drawn: q(z2|z1) runs once, not twice,
    # and the density and every gradient equal those of a recomputation (a copy of z is not the draw)
    model = tiny(z1=3, z2=2).train()
    x = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    calls = []
    model.up.register_forward_hook(lambda *_: calls.append(1))
    torch.manual_seed(1)
    q = model.encode(x)
    z = q.rsample()
    reused = q.log_prob(z)
    assert len(calls) == 1
    recomputed = q.log_prob(z.clone())
    assert len(calls) == 2
    assert torch.allclose(reused, recomputed, rtol=1e-12, atol=1e-12)
    params = [p for p in model.parameters() if p.requires_grad]
    g_reused = torch.autograd.grad(reused.sum(), params, retain_graph=True, allow_unused=True)
    g_recomputed = torch.autograd.grad(recomputed.sum(), params, allow_unused=True)
    for a, b in zip(g_reused, g_recomputed):
        assert (a is None) == (b is None) and (a is None or torch.allclose(a, b, rtol=1e-10, atol=1e-12))
    assert any(g is not None and g.abs().sum() > 0 for g in g_reused)


class _KPerEpoch:
    """A training hook that records the objective's k in each epoch's record."""

    def __init__(self):
        self.ks: list[int] = []

    def on_log(self, trainer, epoch, step, values) -> None:
        pass

    def on_epoch(self, trainer, record) -> None:
        self.ks.append(trainer.objective.k)


def test_late_k_raises_the_bound_samples_for_the_last_part_of_the_run(tmp_path):
    from vaekit.config import RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.train.trainer import Trainer

    options = {"top_dim": 2, "top_hidden": "8", "k": 2, "late_k": 4, "late_from": 0.5}
    cfg = RunConfig(
        model=ModelConfig(name="hiwae", hidden=(16,), latent_dim=2, options=options),
        train=TrainConfig(epochs=4, lr=3e-3),
    )
    seen = _KPerEpoch()
    Trainer(cfg, load_dataset("digits"), tmp_path, show_progress=False, hooks=(seen,)).fit()
    assert seen.ks == [2, 2, 4, 4]  # epochs 3-4 start at half the run or later


def test_a_run_resumed_past_late_from_trains_on_late_k(tmp_path):
    # the split run must pick k up from where the run is, or its weights part from the straight run's
    from tests.conftest import TINY
    from vaekit.cli import main
    from vaekit.train import checkpoint as ckpt

    flags = ["--set", "k=2", "--set", "late_k=3", "--set", "late_from=0.5", *TINY]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "iwae", "--epochs", "4", "--out", str(straight), *flags]) == 0
    assert main(["train", "iwae", "--epochs", "3", "--out", str(split), *flags]) == 0
    assert main(["train", "iwae", "--epochs", "4", "--out", str(split), "--resume", "--quiet"]) == 0
    a, _ = ckpt.load_tensors(straight / ckpt.LAST)
    b, _ = ckpt.load_tensors(split / ckpt.LAST)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


@pytest.mark.parametrize("bad", ["late_k=-1", "late_from=1.5"])
def test_a_bad_late_k_schedule_is_refused(bad):
    with pytest.raises(VaekitError, match="late_k must be >= 0"):
        build_objective(ModelConfig(name="hiwae", options={"top_dim": 2, bad.split("=")[0]: float(bad.split("=")[1])}))


def test_eval_counts_active_units_out_of_both_layers(tmp_path, capsys):
    # --latent-dim is z1's size; the active units are counted over z1 and z2 together, so the
    # line that says them must count out of both (a 2-layer run once said "41 of 40")
    from tests.conftest import TINY
    from vaekit.cli import main

    run = tmp_path / "run"
    assert main(["train", "hvae", "--set", "top_dim=3", "--epochs", "1", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "-k", "2"]) == 0
    out = capsys.readouterr().out
    z1 = int(TINY[TINY.index("--latent-dim") + 1])
    assert re.search(rf"\b\d+ of {z1 + 3} latents active", out), out
