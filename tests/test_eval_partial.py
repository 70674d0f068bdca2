"""A stopped evaluation continues where it stopped and ends at the number an unbroken one gives."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.data.text import load_text_file
from vaekit.eval.likelihood import evaluate
from vaekit.eval.partial import Partial
from vaekit.eval.text import evaluate_sentences
from vaekit.train import load_run


class StopAfter:
    """A progress bar that raises KeyboardInterrupt (Ctrl-C) after `blocks` blocks."""

    def __init__(self, blocks: int):
        self.left = blocks

    def update(self, _n):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def stopped_then_continued(run_eval, path, identity, stop_after: int) -> tuple[dict, int]:
    """The result of an evaluation stopped after `stop_after` blocks and continued, and the data
    points the stopped one had saved."""
    with pytest.raises(KeyboardInterrupt):
        run_eval(Partial.open(path, identity), StopAfter(stop_after))
    left = Partial.open(path, identity)
    assert left.blocks == stop_after
    saved = left.done
    return run_eval(left, None), saved


def test_images_continue_to_the_same_numbers(digits_run, tmp_path):
    model, _ = load_run(digits_run)
    x = load_dataset("digits").test_x[:120]

    def run_eval(partial, progress):
        return evaluate(model, x, k=20, batch_size=25, seed=3, progress=progress, partial=partial)

    whole = run_eval(Partial(), None)
    path, identity = tmp_path / "eval.partial.safetensors", {"k": 20, "seed": 3}
    continued, saved = stopped_then_continued(run_eval, path, identity, stop_after=2)
    assert saved == 50
    for key in ("nll", "elbo", "recon", "kl", "active_units"):
        assert continued[key] == pytest.approx(whole[key], rel=1e-12, abs=1e-12), key
    # another evaluation's file is not continued: a different seed starts afresh (and differs)
    other = Partial.open(path, {"k": 20, "seed": 4})
    assert other.done == 0


def test_sentences_continue_to_the_same_numbers(tiny_text_run, ptb_slice_file, tmp_path):
    run = tiny_text_run("vae")
    model, _ = load_run(run)
    x = load_text_file(ptb_slice_file).train_x[:90]  # the run's vocabulary: built from the same file

    def run_eval(partial, progress):
        return evaluate_sentences(model, x, k=7, batch_size=20, seed=0, progress=progress, partial=partial)

    whole = run_eval(Partial(), None)
    continued, saved = stopped_then_continued(run_eval, tmp_path / "p.safetensors", {"k": 7}, stop_after=3)
    assert saved == 60
    for key in ("nll", "elbo", "kl", "perplexity", "active_units", "tokens"):
        assert continued[key] == pytest.approx(whole[key], rel=1e-12), key


def test_a_killed_eval_command_is_continued_by_the_same_command(tiny_text_run, tmp_path, capsys):
    """The real thing: `vaekit eval` killed (SIGKILL) mid-way, then run again."""
    run = tmp_path / "run"
    shutil.copytree(tiny_text_run("vae"), run)
    flags = ["eval", str(run), "-k", "200", "--batch-size", "1", "--split", "train", "--json"]
    assert main(flags) == 0
    whole = json.loads((run / "eval-train-best-k200.json").read_text())
    (run / "eval-train-best-k200.json").unlink()
    partial = run / "eval-train-best-k200.partial.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vaekit", *flags], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the evaluation ended before it could be stopped: give it more work"
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert partial.exists() and not (run / "eval-train-best-k200.json").exists()
    capsys.readouterr()
    assert main(flags) == 0
    assert "continuing an interrupted evaluation" in capsys.readouterr().err
    continued = json.loads((run / "eval-train-best-k200.json").read_text())
    assert not partial.exists()  # the finished result replaces the running state
    assert continued["nll"] == pytest.approx(whole["nll"], rel=1e-12)
    assert continued["kl"] == pytest.approx(whole["kl"], rel=1e-12)
    assert continued["active_units"] == whole["active_units"]


def test_a_partial_from_another_checkpoint_is_not_continued(tiny_text_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_text_run("vae"), run)
    flags = ["eval", str(run), "-k", "3", "--json"]
    stale = run / "eval-test-best-k3.partial.safetensors"
    Partial(stale, {"sha256": "not this checkpoint"}).add(torch.ones(3), torch.zeros(5, 4), 5, torch.device("cpu"))
    assert stale.exists()
    assert main(flags) == 0
    assert "left by a different evaluation" in capsys.readouterr().err
    result = json.loads((run / "eval-test-best-k3.json").read_text())
    assert result["n"] > 5 and not stale.exists()
