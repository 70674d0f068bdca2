"""VQ-VAE: quantizers against exact identities and a NumPy reference, the model contract, the code
prior, and the CLI from training through train-prior to sampling, on the embedded digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vaekit import info
from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.errors import NoPrior, VaekitError
from vaekit.generate.images import sample
from vaekit.models import build_model, build_objective
from vaekit.models.code_prior import CodePrior, fit_code_prior, load_code_prior, save_code_prior
from vaekit.nn.quantize import VectorQuantizer, VectorQuantizerEMA, perplexity

QUANTIZERS = [VectorQuantizer, VectorQuantizerEMA]


def _tiny(**options) -> torch.nn.Module:
    cfg = ModelConfig(
        name="vqvae", latent_dim=4, channels=(8, 16), likelihood="bernoulli", options={"codebook_size": 16, **options}
    )
    torch.manual_seed(0)
    return build_model(cfg, (1, 8, 8), 10), build_objective(cfg)


# ---- quantizers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", QUANTIZERS)
def test_codes_to_vectors_to_the_same_codes(kind):
    torch.manual_seed(0)
    q = kind(32, 6)
    codes = torch.randint(0, 32, (5, 3, 4))
    assert torch.equal(q.quantize(q.lookup(codes)), codes)
    assert q.lookup(codes).shape == (5, 6, 3, 4)


@pytest.mark.parametrize("kind", QUANTIZERS)
def test_nearest_code_and_straight_through_gradient(kind):
    torch.manual_seed(0)
    q = kind(10, 3, restart_after=0).eval()
    z = torch.randn(2, 3, 2, 2, requires_grad=True)
    out = q(z)
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 3)
    brute = torch.cdist(flat, q.codebook.detach()).argmin(1).view(2, 2, 2)
    assert torch.equal(out.codes, brute)
    assert torch.allclose(out.quantized, q.lookup(brute))  # forward value is z_q
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # d z_q / d z_e := identity
    assert torch.allclose(out.commitment_loss, (z.detach() - q.lookup(brute)).pow(2).sum((1, 2, 3)))


def test_codebook_loss_trains_only_the_codebook_and_is_zero_for_ema():
    torch.manual_seed(0)
    q = VectorQuantizer(10, 3, restart_after=0)
    z = torch.randn(4, 3, 2, 2, requires_grad=True)
    q(z).codebook_loss.sum().backward()
    assert z.grad is None and q.embedding.grad.abs().sum() > 0
    assert float(VectorQuantizerEMA(10, 3)(torch.randn(4, 3, 2, 2)).codebook_loss.abs().sum()) == 0.0


def _ema_reference(embed, size, summed, batches, decay, eps):
    """sonnet's VectorQuantizerEMA update, in NumPy."""
    k = embed.shape[0]
    for flat in batches:
        codes = ((flat[:, None, :] - embed[None]) ** 2).sum(-1).argmin(1)
        onehot = np.eye(k)[codes]
        size = decay * size + (1 - decay) * onehot.sum(0)
        summed = decay * summed + (1 - decay) * onehot.T @ flat
        n = size.sum()
        embed = summed / ((size + eps) / (n + k * eps) * n)[:, None]
    return embed, size, summed


def test_ema_update_matches_numpy_reference():
    torch.manual_seed(0)
    q = VectorQuantizerEMA(6, 3, restart_after=0, decay=0.9).train()
    start = (
        q.embedding.double().numpy().copy(),
        q.cluster_size.double().numpy().copy(),
        q.embed_sum.double().numpy().copy(),
    )
    batches = [torch.randn(4, 3, 2, 2) for _ in range(3)]
    for z in batches:
        q(z)
    flats = [z.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy() for z in batches]
    embed, size, summed = _ema_reference(*start, flats, 0.9, 1e-5)
    np.testing.assert_allclose(q.embedding.numpy(), embed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q.cluster_size.numpy(), size, rtol=1e-5)
    np.testing.assert_allclose(q.embed_sum.numpy(), summed, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", QUANTIZERS)
def test_dead_codes_are_restarted_from_the_batch_and_then_used(kind):
    torch.manual_seed(0)
    q = kind(8, 2, restart_after=3).train()
    with torch.no_grad():
        q.codebook.copy_(torch.cat([torch.zeros(1, 2), torch.full((7, 2), 100.0)]))  # 7 codes nobody is near
    z = torch.randn(16, 2, 2, 2)
    used = [int((q(z).codes.flatten().bincount(minlength=8) > 0).sum()) for _ in range(5)]
    assert used[0] == 1  # only code 0 at first
    assert used[-1] > 4  # the far codes were moved onto encoder outputs and now win
    assert q.codebook.abs().max() < 10
    assert float(q.unused_steps.max()) < 3


@pytest.mark.parametrize("kind", QUANTIZERS)
def test_eval_mode_changes_nothing(kind):
    torch.manual_seed(0)
    q = kind(8, 2, restart_after=1).eval()
    before = {k: v.clone() for k, v in q.state_dict().items()}
    q(torch.randn(4, 2, 3, 3))
    assert all(torch.equal(before[k], v) for k, v in q.state_dict().items())


def test_perplexity_is_exp_entropy_of_usage():
    counts = torch.tensor([5.0, 0.0, 3.0, 2.0, 10.0])
    assert math.isclose(
        float(perplexity(counts)), math.exp(info.entropy(counts.tolist(), normalize=True)), rel_tol=1e-6
    )
    assert math.isclose(float(perplexity(torch.ones(7))), 7.0, rel_tol=1e-6)
    torch.manual_seed(0)
    q = VectorQuantizer(12, 3).eval()
    out = q(torch.randn(8, 3, 4, 4))
    usage = out.codes.flatten().bincount(minlength=12).double()
    assert math.isclose(float(out.perplexity), math.exp(info.entropy(usage.numpy(), normalize=True)), rel_tol=1e-5)
    assert math.isclose(float(out.usage), float((usage > 0).double().mean()), rel_tol=1e-6)


# ---- the model ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ema", [True, False])
def test_model_contract_forward_backward(ema):
    model, objective = _tiny(ema=ema)
    x = torch.rand(6, 1, 8, 8)
    out = objective(model.train(), x, None, torch.tensor(0.0))
    assert out.loss.ndim == 0 and all(v.shape == (6,) for v in out.terms.values())
    assert {"recon", "codebook", "commitment", "perplexity", "usage"} <= set(out.terms)
    out.loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    model.eval()
    z = model.encode(x).mean  # (B, D*h*w)
    assert z.shape == (6, 4 * 2 * 2)
    assert torch.allclose(model.decode(z).mean, model(x))
    assert model.decode(z.expand(3, 6, 16)).mean.shape == (3, 6, 1, 8, 8)
    assert model(x).shape == x.shape


def test_sampling_needs_a_code_prior_then_works():
    model, _ = _tiny()
    assert not model.has_prior
    with pytest.raises(NoPrior, match="train-prior"):
        sample(model, 4)
    torch.manual_seed(0)
    model.attach_prior(CodePrior(16, (2, 2), dim=16, layers=1, heads=2))
    images = sample(model.eval(), 5)
    assert images.shape == (5, 1, 8, 8) and model.has_prior
    greedy = sample(model, 3, temperature=1e-4)  # softmax(logits / T) -> the most likely code each time
    torch.testing.assert_close(greedy, greedy[:1].expand_as(greedy))
    with pytest.raises(VaekitError, match="train-prior"):
        model.attach_prior(CodePrior(8, (2, 2), dim=16, layers=1, heads=2))


def test_code_prior_is_causal_fits_and_round_trips(tmp_path):
    torch.manual_seed(0)
    prior = CodePrior(5, (3, 3), dim=16, layers=2, heads=2, dropout=0.0).eval()
    codes = torch.randint(0, 5, (2, 3, 3))
    changed = codes.clone()
    changed[:, 1, 1] = (changed[:, 1, 1] + 1) % 5  # cell 4 in raster order
    a, b = prior(codes), prior(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[:, 5:], b[:, 5:])
    data = torch.zeros(64, 3, 3, dtype=torch.long)
    data[::2] = 4  # two grids, half each: the fitted NLL tends to log 2
    history = fit_code_prior(prior, data, data, epochs=30, batch_size=32, lr=3e-3)
    assert history[-1]["val_nll"] < 0.9 and history[-1]["val_nll"] < history[0]["train_nll"]
    save_code_prior(tmp_path, prior, {"note": "test"})
    again = load_code_prior(tmp_path)
    assert torch.allclose(again.log_prob(data[:4]), prior.log_prob(data[:4]))
    assert set(again.sample(10).unique().tolist()) <= {0, 4}
    assert load_code_prior(tmp_path / "none") is None


# ---- the command line ------------------------------------------------------------------------------
def test_cli_train_train_prior_sample_eval(tmp_path, capsys):
    run = tmp_path / "vq"
    tiny = ["--latent-dim", "4", "--channels", "8,16", "--quiet", "--log-every", "5"]
    assert (
        main(
            [
                "train",
                "vqvae",
                "--data",
                "digits",
                "--epochs",
                "2",
                "--set",
                "codebook_size=16",
                "--set",
                "restart_after=5",
                "--out",
                str(run),
                *tiny,
            ]
        )
        == 0
    )
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 2
    assert "vaekit train-prior RUN_DIR" in capsys.readouterr().err
    assert (
        main(["train-prior", str(run), "--epochs", "1", "--dim", "16", "--layers", "1", "--heads", "2", "--quiet"]) == 0
    )
    record = json.loads((run / "prior.json").read_text())
    assert record["config"]["num_codes"] == 16 and len(record["epochs"]) == 1
    assert (
        main(["sample", str(run), "-n", "6", "--out", str(tmp_path / "s.png"), "--save-array", str(tmp_path / "s.npy")])
        == 0
    )
    assert np.load(tmp_path / "s.npy").shape == (6, 1, 8, 8)
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"recon", "mse", "perplexity", "codes_used", "usage", "prior_nll", "nll_bound", "n"} <= set(result)
    assert 1 <= result["perplexity"] <= result["codes_used"] <= 16
    assert math.isclose(result["nll_bound"], result["recon"] + result["prior_nll"], rel_tol=1e-6)
    assert main(["reconstruct", str(run), "-n", "4", "--out", str(tmp_path / "r.png")]) == 0
    assert main(["interpolate", str(run), "--steps", "3", "--pairs", "2", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["train-prior", str(run), "--heads", "3", "--dim", "16"]) == 2
