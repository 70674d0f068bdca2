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
from vaekit.errors import VaekitError
from vaekit.eval.likelihood import evaluate
from vaekit.eval.partial import Partial
from vaekit.eval.text import evaluate_sentences
from vaekit.io import load_tensors
from vaekit.train import load_run


class StopAfter:
    """A progress bar that raises KeyboardInterrupt (Ctrl-C) after `blocks` blocks."""

    def __init__(self, blocks: int):
        self.left = blocks

    def update(self, _n):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def stopped_then_continued(run_eval, path, identity, stop_after: int) -> tuple[dict, int, Partial]:
    """The result of an evaluation stopped after `stop_after` blocks and continued, the data points
    the stopped one had saved, and the continued state."""
    with pytest.raises(KeyboardInterrupt):
        run_eval(Partial.open(path, identity), StopAfter(stop_after))
    left = Partial.open(path, identity)
    assert left.blocks == stop_after
    saved = left.done
    return run_eval(left, None), saved, left


def test_images_continue_to_the_same_numbers(digits_run, tmp_path):
    model, _ = load_run(digits_run)
    x = load_dataset("digits").test_x[:120]

    def run_eval(partial, progress):
        return evaluate(model, x, k=20, batch_size=25, seed=3, progress=progress, partial=partial)

    unbroken = Partial()
    whole = run_eval(unbroken, None)
    path, identity = tmp_path / "eval.partial.safetensors", {"k": 20, "seed": 3}
    continued, saved, state = stopped_then_continued(run_eval, path, identity, stop_after=2)
    assert saved == 50
    for key in ("nll", "elbo", "recon", "kl", "active_units"):
        assert continued[key] == pytest.approx(whole[key], rel=1e-12, abs=1e-12), key
    per_image = state.per_example(120)
    torch.testing.assert_close(per_image, unbroken.per_example(120), rtol=1e-12, atol=1e-12)
    assert float(per_image.mean()) == pytest.approx(whole["nll"], rel=1e-12)
    # another evaluation's file is not continued: a different seed starts afresh (and differs)
    other = Partial.open(path, {"k": 20, "seed": 4})
    assert other.done == 0


def test_sentences_continue_to_the_same_numbers(tiny_text_run, ptb_slice_file, tmp_path):
    run = tiny_text_run("vae")
    model, _ = load_run(run)
    x = load_text_file(ptb_slice_file).train_x[:90]  # the run's vocabulary: built from the same file

    def run_eval(partial, progress):
        return evaluate_sentences(model, x, k=7, batch_size=20, seed=0, progress=progress, partial=partial)

    unbroken = Partial()
    whole = run_eval(unbroken, None)
    continued, saved, state = stopped_then_continued(run_eval, tmp_path / "p.safetensors", {"k": 7}, stop_after=3)
    assert saved == 60
    for key in ("nll", "elbo", "kl", "perplexity", "active_units", "tokens"):
        assert continued[key] == pytest.approx(whole[key], rel=1e-12), key
    per_sentence = state.per_example(90)
    torch.testing.assert_close(per_sentence, unbroken.per_example(90), rtol=1e-12, atol=1e-12)
    assert float(per_sentence.mean()) == pytest.approx(whole["nll"], rel=1e-12)


def test_each_sentence_nll_sits_at_its_own_position(tiny_text_run, ptb_slice_file):
    """Blocks go shortest first; the per-sentence NLLs come back in the data's order (the LM: exact)."""
    model, _ = load_run(tiny_text_run("lm"))
    x = load_text_file(ptb_slice_file).train_x[:60]
    state = Partial()
    whole = evaluate_sentences(model, x, batch_size=16, partial=state)
    per_sentence = state.per_example(60)
    for i in (0, 17, 59):
        alone = evaluate_sentences(model, x[i : i + 1])["nll"]
        assert per_sentence[i].item() == pytest.approx(alone, rel=1e-5)
    assert per_sentence.std() > 1.0  # sentences of different lengths: the positions matter
    assert float(per_sentence.mean()) == pytest.approx(whole["nll"], rel=1e-12)


def test_the_paired_difference_of_two_evaluations(tiny_text_run, ptb_slice_file, tmp_path):
    from vaekit.eval.paired import paired_difference

    x = load_text_file(ptb_slice_file).train_x[:60]
    vae, lm = (load_run(tiny_text_run(name))[0] for name in ("vae", "lm"))
    a, b = Partial(), Partial()
    ra, rb = evaluate_sentences(vae, x, k=5, partial=a), evaluate_sentences(lm, x, partial=b)
    r = paired_difference(a.per_example(60), b.per_example(60))
    assert r["difference"] == pytest.approx(ra["nll"] - rb["nll"], rel=1e-9)
    d = a.per_example(60) - b.per_example(60)
    assert r["standard_error"] == pytest.approx(float(d.std()) / 60**0.5, rel=1e-9)
    # the paired error is far below the error of either mean alone: long sentences cost both models more
    assert r["standard_error"] < 0.5 * float(b.per_example(60).std()) / 60**0.5
    with pytest.raises(VaekitError, match="different data"):
        paired_difference(a.per_example(60), b.per_example(60)[:50])


def test_a_killed_eval_command_is_continued_by_the_same_command(tiny_text_run, tmp_path, capsys):
    """The real thing: `vaekit eval` stopped mid-way (SIGTERM, as `kill PID` sends), then run again."""
    run = tmp_path / "run"
    shutil.copytree(tiny_text_run("vae"), run)
    flags = ["eval", str(run), "-k", "200", "--batch-size", "1", "--split", "train", "--json"]
    assert main(flags) == 0
    whole = json.loads((run / "eval-train-best-k200.json").read_text())
    (run / "eval-train-best-k200.json").unlink()
    partial = run / "eval-train-best-k200.partial.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaekit", *flags], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the evaluation ended before it could be stopped: give it more work"
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate()
    assert proc.returncode == 143
    assert "the same eval command continues from its last block" in err
    assert partial.exists() and not (run / "eval-train-best-k200.json").exists()
    capsys.readouterr()
    assert main(flags) == 0
    assert "continuing an interrupted evaluation" in capsys.readouterr().err
    continued = json.loads((run / "eval-train-best-k200.json").read_text())
    assert not partial.exists()  # the finished result replaces the running state
    per_example = run / "eval-train-best-k200.per-example.safetensors"
    nll, meta = load_tensors(per_example)
    assert nll["nll"].shape == (continued["n"],) and meta["split"] == "train"
    assert float(nll["nll"].mean()) == pytest.approx(continued["nll"], rel=1e-9)
    assert continued["nll"] == pytest.approx(whole["nll"], rel=1e-12)
    assert continued["kl"] == pytest.approx(whole["kl"], rel=1e-12)
    assert continued["active_units"] == whole["active_units"]


def test_a_partial_from_another_checkpoint_is_not_continued(tiny_text_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_text_run("vae"), run)
    flags = ["eval", str(run), "-k", "3", "--json"]
    stale = run / "eval-test-best-k3.partial.safetensors"
    stray = Partial(stale, {"sha256": "not this checkpoint"})
    stray.add(torch.ones(3), torch.zeros(5, 4), torch.ones(5), torch.arange(5), torch.device("cpu"))
    assert stale.exists()
    assert main(flags) == 0
    assert "left by a different evaluation" in capsys.readouterr().err
    result = json.loads((run / "eval-test-best-k3.json").read_text())
    assert result["n"] > 5 and not stale.exists()


def test_a_language_model_result_is_named_without_k(tiny_text_run, tmp_path):
    """The LM's NLL is exact: its files carry no K, and its per-sentence NLLs sit beside them."""
    run = tmp_path / "lm"
    shutil.copytree(tiny_text_run("lm"), run)
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads((run / "eval-test-best.json").read_text())
    assert "k" not in result and not list(run.glob("eval-*-k*"))
    nll, _ = load_tensors(run / "eval-test-best.per-example.safetensors")
    assert float(nll["nll"].mean()) == pytest.approx(result["nll"], rel=1e-9)
