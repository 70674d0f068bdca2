"""The trainer: it learns, resumes exactly, stops on NaN, and writes checkpoints that load back."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.models import build_model
from vaekit.objectives import ELBO
from vaekit.train import checkpoint as ckpt
from vaekit.train import load_run
from vaekit.train.average import WeightAverage
from vaekit.train.trainer import Trainer


def _config(epochs: int = 3, **model) -> RunConfig:
    return RunConfig(model=ModelConfig(hidden=(64,), latent_dim=8, **model), train=TrainConfig(epochs=epochs, lr=3e-3))


def test_training_lowers_the_validation_loss(digits_run):
    history = json.loads((digits_run / "metrics.json").read_text())["epochs"]
    assert len(history) == 40
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 5.0
    assert all(r["val_loss"] == pytest.approx(r["val_recon"] + r["val_kl"], rel=1e-5) for r in history)


def test_resume_replays_the_uninterrupted_run_exactly(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "vae", "--epochs", "4", "--out", str(straight), *TINY]) == 0
    assert main(["train", "vae", "--epochs", "2", "--out", str(split), *TINY]) == 0
    assert main(["train", "vae", "--epochs", "4", "--out", str(split), "--resume", "--quiet"]) == 0
    a, _ = ckpt.load_tensors(straight / ckpt.LAST)
    b, _ = ckpt.load_tensors(split / ckpt.LAST)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    history = json.loads((split / "metrics.json").read_text())["epochs"]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]


def test_the_weight_average_follows_its_formula_and_the_model_gets_its_weights_back():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.9)
    expected = [p.detach().clone() for p in model.parameters()]
    for n in range(30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        average.update()
        d = min(0.9, (1 + n) / (10 + n))  # the warm-up: early updates lean on the new weights
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, model.parameters())]
    for e, s in zip(expected, average.shadow):
        torch.testing.assert_close(s, e)
    raw = [p.detach().clone() for p in model.parameters()]
    with average.applied():
        assert all(torch.equal(p, s) for p, s in zip(model.parameters(), average.shadow))
    assert all(torch.equal(p, r) for p, r in zip(model.parameters(), raw))
    assert not any(torch.equal(r, s) for r, s in zip(raw, average.shadow))


def test_an_averaged_run_keeps_the_average_and_resumes_exactly(tmp_path):
    """--ema: last.safetensors and model.safetensors hold the average, the optimizer file the training
    weights beside it, and a run stopped and resumed ends with the uninterrupted run's average."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    ema = ["--ema", "0.95"]
    assert main(["train", "vae", "--epochs", "4", "--out", str(straight), *TINY, *ema]) == 0
    assert main(["train", "vae", "--epochs", "2", "--out", str(split), *TINY, *ema]) == 0
    assert main(["train", "vae", "--epochs", "4", "--out", str(split), "--resume", "--quiet"]) == 0
    a, _ = ckpt.load_tensors(straight / ckpt.LAST)
    b, _ = ckpt.load_tensors(split / ckpt.LAST)
    state, meta = ckpt.load_tensors(straight / ckpt.OPTIMIZER)
    steps = json.loads((straight / "metrics.json").read_text())["epochs"][-1]["step"]
    assert a.keys() == b.keys() and meta["trainer"]["average_updates"] == steps > 0
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
        if name in dict(load_run(straight, "last")[0].named_parameters()):
            assert torch.equal(a[name], state[f"average.{name}"]) and not torch.equal(a[name], state[f"model.{name}"])
    assert json.loads((straight / "config.json").read_text())["train"]["ema"] == 0.95


def test_a_trained_model_loads_back_exactly(tmp_path):
    """What the trainer holds after training is what load_run gives back: weights, buffers, config."""
    data = load_dataset("digits")
    trainer = Trainer(_config(epochs=2), data, tmp_path, show_progress=False)
    trainer.fit()
    trained = trainer.model.eval()
    torch.manual_seed(99)  # load_run builds the model from other random weights before loading
    loaded, cfg = load_run(tmp_path, "last")
    assert cfg == trainer.cfg and cfg.image_shape == (1, 8, 8) and cfg.model.likelihood == "bernoulli"
    x = data.test_x[:16]
    z = torch.randn(5, cfg.model.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), trained(x), rtol=0, atol=0)
        torch.testing.assert_close(loaded.decode(z).mean, trained.decode(z).mean, rtol=0, atol=0)
        fresh = build_model(cfg.model, cfg.image_shape, cfg.num_classes).eval()
        assert not torch.equal(fresh(x), trained(x))  # so the equality above is the checkpoint's doing


def test_checkpoints_are_safetensors_without_pickle(digits_run):
    from safetensors.torch import load_file

    for name in (ckpt.BEST, ckpt.LAST, ckpt.OPTIMIZER):
        tensors = load_file(digits_run / name)  # would fail on a pickle
        assert tensors and all(isinstance(t, torch.Tensor) for t in tensors.values())
    assert not list(digits_run.glob(".*.tmp")), "a temporary file was left behind"


def test_nan_loss_stops_with_advice_and_keeps_no_bad_checkpoint(tmp_path):
    data = load_dataset("digits")
    data = dataclasses.replace(data, train_x=data.train_x.clone())
    data.train_x[5, 0, 3, 3] = float("nan")
    with pytest.raises(VaekitError, match="--lr"):
        Trainer(_config(), data, tmp_path, show_progress=False).fit()
    assert not (tmp_path / ckpt.BEST).exists()


def test_dynamic_binarization_draws_fresh_binary_batches(tmp_path):
    data = dataclasses.replace(load_dataset("digits"), dynamic_binarize=True)
    trainer = Trainer(_config(epochs=1), data, tmp_path, show_progress=False)
    seen = []
    objective = trainer.objective

    def spy(model, x, y, progress):
        if model.training:  # validation batches are the (already fixed) validation images
            seen.append(x.clone())
        return objective(model, x, y, progress)

    trainer.step_fn.objective = spy
    trainer.fit()
    batches = torch.cat(seen)
    assert set(batches.unique().tolist()) == {0.0, 1.0}
    assert abs(batches.mean().item() - data.train_x.mean().item()) < 0.02  # a Bernoulli draw keeps the mean


def test_kl_warmup_and_learning_rate_schedule(tmp_path):
    elbo = ELBO(beta=2.0, warmup_epochs=4)
    assert elbo.kl_weight(torch.tensor(0.0)).item() == 0.0
    assert elbo.kl_weight(torch.tensor(2.0)).item() == pytest.approx(1.0)
    assert elbo.kl_weight(torch.tensor(9.0)).item() == pytest.approx(2.0)
    cfg = dataclasses.replace(_config(epochs=8), train=TrainConfig(epochs=8, lr=1e-3, lr_end=1e-4))
    trainer = Trainer(cfg, load_dataset("digits"), tmp_path, show_progress=False)
    assert trainer.lr_at(0) == pytest.approx(1e-3) and trainer.lr_at(7) == pytest.approx(1e-4)
    assert trainer.lr_at(3) == pytest.approx(1e-3 * 0.1 ** (3 / 7))


def test_batch_schedule_changes_the_batch_and_scales_the_learning_rate(tmp_path):
    """--batch-schedule 0.5:32 after --batch-size 64: half the epochs at each, the learning rate times
    sqrt(32/64) from the switch, and each record counting the optimizer steps its batches took."""
    run = tmp_path / "run"
    argv = ["train", "vae", "--epochs", "4", "--batch-size", "64", "--batch-schedule", "0.5:32", "--out", str(run)]
    assert main([*argv, *TINY]) == 0
    history = json.loads((run / "metrics.json").read_text())["epochs"]
    n = load_dataset("digits").train_x.shape[0]
    assert [r["batch"] for r in history] == [64, 64, 32, 32]
    assert [r["step"] for r in history] == [n // 64, 2 * (n // 64), 2 * (n // 64) + n // 32, 2 * (n // 64 + n // 32)]
    assert [r["lr"] for r in history] == pytest.approx([1e-3, 1e-3, 1e-3 * 0.5**0.5, 1e-3 * 0.5**0.5])


class _StopAfter:
    """A hook that ends the run after epoch `epoch`'s checkpoint, as a kill would."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_log(self, trainer, epoch, step, values):
        pass

    def on_epoch(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_a_batch_schedule_resumes_across_its_switch_exactly(tmp_path):
    """Stopped before the switch and resumed, a scheduled run makes the uninterrupted run's weights."""
    data = load_dataset("digits")
    cfg = dataclasses.replace(
        _config(epochs=4), train=TrainConfig(epochs=4, lr=3e-3, batch_size=64, batch_schedule="0.5:32")
    )
    Trainer(cfg, data, tmp_path / "straight", show_progress=False).fit()
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, data, tmp_path / "split", show_progress=False, hooks=(_StopAfter(2),)).fit()
    resumed = Trainer(cfg, data, tmp_path / "split", show_progress=False)
    resumed.resume()
    assert resumed.steps_before == 2 * (data.train_x.shape[0] // 64)
    resumed.fit()
    a, _ = ckpt.load_tensors(tmp_path / "straight" / ckpt.LAST)
    b, _ = ckpt.load_tensors(tmp_path / "split" / ckpt.LAST)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    history = json.loads((tmp_path / "split" / "metrics.json").read_text())["epochs"]
    assert [r["batch"] for r in history] == [64, 64, 32, 32]


@pytest.mark.parametrize("schedule", ["0.5", "1.2:32", "0.6:100,0.3:50", "0.5:0", "half:32"])
def test_a_bad_batch_schedule_is_refused_in_one_line(schedule, tmp_path, capsys):
    assert main(["train", "vae", "--batch-schedule", schedule, "--out", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batch-schedule" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_config_checks_its_batch_schedule_and_fits_it_to_the_data(tmp_path):
    with pytest.raises(VaekitError, match="batch_schedule"):
        RunConfig(train=TrainConfig(batch_schedule="0.9:8,0.2:4")).check()
    cfg = dataclasses.replace(_config(epochs=2), train=TrainConfig(epochs=2, batch_schedule="0.5:100000"))
    with pytest.warns(UserWarning, match="--batch-schedule 0.5:100000"):
        trainer = Trainer(cfg, load_dataset("digits"), tmp_path, show_progress=False)
    assert trainer.cfg.train.batch_schedule == f"0.5:{load_dataset('digits').train_x.shape[0]}"


def test_config_rejects_unknown_keys():
    raw = RunConfig().to_dict()
    raw["train"]["epochz"] = 3
    with pytest.raises(VaekitError, match="epochz"):
        RunConfig.from_dict(raw)
    assert RunConfig.from_dict(RunConfig().to_dict()) == RunConfig()


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 20), (3, 13, 17)])
def test_networks_fit_any_image_shape(arch, likelihood, shape):
    from vaekit.models import build_model, build_objective

    cfg = ModelConfig(arch=arch, likelihood=likelihood, hidden=(32,), channels=(8, 16), latent_dim=4)
    model = build_model(cfg, shape, 0)
    x = torch.rand(3, *shape)
    out = build_objective(cfg)(model, x, None, torch.tensor(0.0))
    out.loss.backward()
    assert model(x).shape == x.shape and torch.isfinite(out.loss)
    assert model.decode(torch.randn(7, 3, 4)).batch_shape == (7, 3)
