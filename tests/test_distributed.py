"""torchrun with two Gloo processes follows the path of one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from vaekit.train import checkpoint as ckpt

# The deterministic autoencoder: with no sampling noise, sharding the global batch over ranks and
# averaging gradients must reproduce the single-process run up to float summation order.
ARGS = [
    "train",
    "ae",
    "--data",
    "digits",
    "--epochs",
    "3",
    "--batch-size",
    "64",
    "--hidden",
    "32",
    "--latent-dim",
    "4",
    "--device",
    "cpu",
    "--quiet",
]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _torchrun(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """`vaekit ARGS` as two ranks under torchrun, its output captured as text."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "vaekit"]
    return subprocess.run([*launcher, *args], env=_env(), capture_output=True, text=True, timeout=timeout)


def test_two_gloo_ranks_match_one_process(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(
        [sys.executable, "-m", "vaekit", *ARGS, "--out", str(one)], check=True, env=_env(), capture_output=True
    )
    done = _torchrun(*ARGS, "--out", str(two))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "x 2 processes" in done.stderr  # it really ran as two ranks
    a, _ = ckpt.load_tensors(one / ckpt.LAST)
    b, _ = ckpt.load_tensors(two / ckpt.LAST)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5)
    # Rank 0 alone wrote the run: one metrics file, all epochs in it, no stray temporary files.
    assert len(json.loads((two / "metrics.json").read_text())["epochs"]) == 3
    assert not list(two.glob(".*.tmp"))


def test_uneven_global_batch_is_a_clear_error(tmp_path):
    done = _torchrun(*ARGS, "--batch-size", "63", "--out", str(tmp_path / "odd"))
    assert done.returncode != 0
    assert "must divide evenly over 2 processes" in done.stderr


def test_two_ranks_stop_together_at_the_time_budget(tmp_path):
    # each rank's clock starts when its own setup ends; if each decided alone when the budget was
    # spent, one would stop an epoch before the other and leave it waiting in an all-reduce for ever
    args = [a if a != "3" else "100000" for a in ARGS]  # epochs: a cap the clock reaches first
    done = _torchrun(*args, "--time", "10s", "--out", str(tmp_path / "timed"), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "timed" / "metrics.json").read_text())["epochs"]
    assert 2 <= len(metrics) < 100000 and metrics[-1]["elapsed"] < 10.0
