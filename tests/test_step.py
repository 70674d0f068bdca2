"""The training step: batches walk the epoch's permutation, schedules see progress, Adam's state
survives a checkpoint whatever way it ran, and the fast paths (compile, bf16, CUDA graphs) train
the same model as the plain step."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from tests.conftest import TINY
from vaekit.cli import main
from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.models import image_models
from vaekit.precision import precision
from vaekit.train import checkpoint as ckpt
from vaekit.train.step import StepProgram, binarize, make_optimizer, set_lr
from vaekit.train.trainer import Trainer


class _Recorder(torch.nn.Module):
    """A loss that remembers which examples (their ids are their values) and progress it saw."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.seen, self.progress = [], []

    def forward(self, x, y, progress):
        self.seen.append(y.clone())
        self.progress.append(float(progress))
        loss = (self.w * x.flatten(1).mean(1)).mean()
        return loss, {"value": x.flatten(1).mean(1)}


def test_ranks_split_each_global_batch_and_the_epoch_covers_the_permutation():
    n, b, world = 50, 4, 2
    ids = torch.arange(n)
    x = ids.float().view(n, 1, 1, 1)
    programs, recorders = [], []
    for rank in range(world):
        rec = _Recorder()
        opt = make_optimizer(rec.parameters(), 1e-3, torch.device("cpu"), capturable=False)
        programs.append(StepProgram(rec, rec, opt, x, ids, local_batch=b, rank=rank, world_size=world))
        recorders.append(rec)
    perm = torch.randperm(n)
    for p in programs:
        p.start_epoch(perm, epoch=3)
        for _ in range(p.steps_per_epoch):
            p()
    steps = n // (b * world)
    assert programs[0].steps_per_epoch == steps == 6
    for s in range(steps):
        both = torch.cat([recorders[0].seen[s], recorders[1].seen[s]])
        assert torch.equal(both, perm[s * b * world : (s + 1) * b * world])  # rank r takes the r-th slice
    # progress runs from the epoch number to the next one, one step at a time
    assert recorders[0].progress[0] == 3.0 and recorders[0].progress[-1] == pytest.approx(3 + (steps - 1) / steps)
    assert float(programs[0].progress) == pytest.approx(4.0)
    # the running sums are those of the per-step values
    mean_ids = torch.stack([s.float().mean() for s in recorders[0].seen])
    torch.testing.assert_close(programs[0].sums[1], mean_ids.sum())


def test_a_tensor_learning_rate_survives_a_checkpoint_either_way(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    graph_like = make_optimizer(net.parameters(), 1e-3, torch.device("cpu"), capturable=True)
    net(torch.randn(4, 3)).sum().backward()
    graph_like.step()
    set_lr(graph_like, 5e-4)
    lr = graph_like.param_groups[0]["lr"]
    assert torch.is_tensor(lr) and float(lr) == pytest.approx(5e-4)
    ckpt.save_optimizer(tmp_path / "opt.safetensors", graph_like, {"epoch": 1})
    eager = make_optimizer(net.parameters(), 1e-3, torch.device("cpu"), capturable=False)
    assert ckpt.load_optimizer(tmp_path / "opt.safetensors", eager) == {"epoch": 1}
    group = eager.param_groups[0]
    assert group["lr"] == pytest.approx(5e-4) and not group["capturable"] and group["fused"]
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(eager.state[net.weight][key], graph_like.state[net.weight][key])
    # and back: an eagerly saved run resumed for a graph gets its tensor lr and stays capturable
    ckpt.save_optimizer(tmp_path / "eager.safetensors", eager, {"epoch": 2})
    again = make_optimizer(net.parameters(), 1e-3, torch.device("cpu"), capturable=True)
    ckpt.load_optimizer(tmp_path / "eager.safetensors", again)
    set_lr(again, 2e-4)
    assert again.param_groups[0]["capturable"] and torch.is_tensor(again.param_groups[0]["lr"])


def test_precision_sets_and_restores_tf32_and_rejects_unknown_names():
    before = torch.backends.cuda.matmul.allow_tf32
    with precision("tf32", torch.device("cpu")):
        assert torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32 == before
    with precision("bf16", torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(VaekitError, match="float32, tf32, bf16, float64"):
        with precision("fp8", torch.device("cpu")):
            pass
    cfg = RunConfig(train=TrainConfig(precision="float64"))  # an evaluation precision, not a training one
    with pytest.raises(VaekitError, match="float32, tf32, bf16"):
        Trainer(cfg, load_dataset("digits"), "unused-run-dir", show_progress=False)


def _val_loss(run) -> float:
    return json.loads((run / "metrics.json").read_text())["best_val_loss"]


def test_binarize_draws_the_pixels_the_bool_compare_drew():
    x = torch.rand(50, 1, 28, 28)
    torch.manual_seed(3)
    before = (torch.rand_like(x) < x).to(x.dtype)  # the step's binarization until now
    torch.manual_seed(3)
    now = binarize(x)
    assert now.dtype == x.dtype and torch.equal(now, before)
    assert 0.4 < float(now.mean() / x.mean()) < 1.6 and set(now.unique().tolist()) == {0.0, 1.0}


@pytest.mark.slow
def test_compiled_and_bf16_training_reach_the_plain_loss(tmp_path):
    base = ["train", "vae", "--epochs", "3", "--lr", "3e-3", *TINY]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "compiled"), "--compile"]) == 0
    assert main([*base, "--out", str(tmp_path / "bf16"), "--precision", "bf16"]) == 0
    plain = _val_loss(tmp_path / "plain")
    assert _val_loss(tmp_path / "compiled") == pytest.approx(plain, rel=1e-4)  # same maths and draws, other kernels
    assert _val_loss(tmp_path / "bf16") == pytest.approx(plain, rel=0.03)  # 8-bit mantissa in the network
    cfg = json.loads((tmp_path / "compiled" / "config.json").read_text())
    assert cfg["train"]["compile"] is True and cfg["train"]["precision"] == "float32"


@pytest.mark.slow
def test_a_compiled_step_follows_late_k(tmp_path):
    # k rises from 2 to 4 for the second epoch: a compiled step that kept its first graph (k = 2)
    # would train another model than the eager step does
    base = [
        "train",
        "iwae",
        "--epochs",
        "2",
        "--lr",
        "3e-3",
        "--set",
        "k=2",
        "--set",
        "late_k=4",
        "--set",
        "late_from=0.5",
    ]
    assert main([*base, *TINY, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, *TINY, "--out", str(tmp_path / "compiled"), "--compile"]) == 0
    assert main([*base[:-6], *TINY, "--out", str(tmp_path / "k2")]) == 0  # k = 2 throughout
    plain = _val_loss(tmp_path / "plain")
    assert _val_loss(tmp_path / "compiled") == pytest.approx(plain, rel=1e-4)
    assert _val_loss(tmp_path / "k2") != pytest.approx(plain, rel=1e-3)  # the change is visible at all


# -- CUDA graphs (run on a GPU machine; skipped elsewhere) ------------------------------------


def _trainer(tmp_path, name="vae", graph=True, epochs=2, **train) -> Trainer:
    data = load_dataset("digits")
    cfg = RunConfig(
        model=ModelConfig(name=name, hidden=(64,), latent_dim=8),
        train=TrainConfig(epochs=epochs, lr=3e-3, device="cuda", cuda_graph=graph, **train),
    )
    return Trainer(cfg, data, tmp_path / f"{name}-{graph}", show_progress=False)


@pytest.mark.gpu
def test_the_captured_step_trains_like_the_eager_step(tmp_path):
    graphed, eager = _trainer(tmp_path, graph=True), _trainer(tmp_path, graph=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager steps would warn
        graphed.fit()
    eager.fit()
    assert graphed.run_step.graph is not None
    for (name, a), (_, b) in zip(graphed.model.state_dict().items(), eager.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=name)
    assert graphed.history[-1]["val_loss"] == pytest.approx(eager.history[-1]["val_loss"], rel=1e-4)


@pytest.mark.gpu
def test_a_captured_step_is_captured_again_when_late_k_changes_k(tmp_path):
    data = load_dataset("digits")
    runs = []
    for graph in (True, False):
        cfg = RunConfig(
            model=ModelConfig(name="iwae", hidden=(64,), latent_dim=8, options={"k": 2, "late_k": 4, "late_from": 0.5}),
            train=TrainConfig(epochs=2, lr=3e-3, device="cuda", cuda_graph=graph),
        )
        runs.append(Trainer(cfg, data, tmp_path / f"iwae-{graph}", show_progress=False))
        runs[-1].fit()
    graphed, eager = runs
    assert graphed.objective.k == 4 and graphed.run_step.graph is not None
    assert graphed.history[-1]["val_loss"] == pytest.approx(eager.history[-1]["val_loss"], rel=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(image_models()))
def test_every_model_trains_in_a_cuda_graph(tmp_path, name):
    trainer = _trainer(tmp_path, name=name, epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = trainer.fit()
    assert trainer.run_step.graph is not None
    assert history[-1]["val_loss"] < history[0]["val_loss"]


@pytest.mark.gpu
def test_the_learning_rate_schedule_reaches_the_captured_adam(tmp_path):
    trainer = _trainer(tmp_path, epochs=3, lr_end=3e-5)
    trainer.fit()
    assert float(trainer.optimizer.param_groups[0]["lr"]) == pytest.approx(3e-5)


@pytest.mark.gpu
def test_a_cpu_run_resumes_in_a_cuda_graph(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "vae", "--epochs", "2", "--device", "cpu", "--out", str(out), *TINY]) == 0
    assert main(["train", "vae", "--epochs", "4", "--device", "cuda", "--out", str(out), "--resume", "--quiet"]) == 0
    history = json.loads((out / "metrics.json").read_text())["epochs"]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4] and history[-1]["val_loss"] < history[1]["val_loss"]
