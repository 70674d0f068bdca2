"""Faults during training: SIGKILL at any moment, Ctrl-C, a diverging loss, a full disk.

The kill test runs `vaekit train` in a child process and sends it a real SIGKILL at a chosen
point (during an epoch, or halfway through writing a checkpoint file), then resumes with
`--resume` and compares every parameter and every optimizer tensor with an uninterrupted run of
the same seed, bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vaekit.cli import main
from vaekit.io import load_tensors
from vaekit.models import image_models, text_models

TINY = ["--hidden", "16", "--latent-dim", "4", "--quiet"]
EPOCHS = 4
STEPS_PER_EPOCH = 1397 // 100  # digits' training split, the default batch

# The child: vaekit's own CLI with one change, a SIGKILL to itself at the chosen moment.
# "step N": when the trainer starts its N-th step (1-based). "write N": halfway through the bytes
# of the N-th file written (config.json is the first, then per epoch model, last, metrics,
# last-optimizer), so a torn temporary file is left behind.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    import vaekit.io, vaekit.train.step
    from vaekit.cli import main

    what, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    count = [0]
    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if what == "step":
        step = vaekit.train.step.StepProgram.__call__
        def counted(self):
            count[0] += 1
            if count[0] == n:
                die()
            step(self)
        vaekit.train.step.StepProgram.__call__ = counted
    else:
        fdopen = os.fdopen
        class Torn:
            def __init__(self, f):
                self.f = f
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.f.__exit__(*exc)
            def write(self, data):
                count[0] += 1
                if count[0] == n:
                    self.f.write(data[: len(data) // 2])
                    self.f.flush()
                    die()
                return self.f.write(data)
            def __getattr__(self, name):
                return getattr(self.f, name)
        vaekit.io.os = type(sys)("os_with_torn_writes")
        vaekit.io.os.__dict__.update(os.__dict__)
        vaekit.io.os.fdopen = lambda *a, **k: Torn(fdopen(*a, **k))
    sys.exit(main(argv))
""")


def _train_argv(run: Path, epochs: int = EPOCHS) -> list[str]:
    return ["train", "vae", "--epochs", str(epochs), "--out", str(run), *TINY]


def _resume_argv(name: str, run: Path, epochs: int = EPOCHS) -> list[str]:
    return ["train", name, "--out", str(run), "--resume", "--epochs", str(epochs), "--quiet"]


def _killed_child(run: Path, what: str, n: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-c", CHILD, what, str(n), *_train_argv(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _state(run: Path) -> dict[str, torch.Tensor]:
    """Everything a run's future depends on: its last weights, and the resume file (weights, Adam)."""
    last, _ = load_tensors(run / "last.safetensors")
    resume, meta = load_tensors(run / "last-optimizer.safetensors")
    return {**{f"last/{k}": v for k, v in last.items()}, **{f"resume/{k}": v for k, v in resume.items()}, "meta": meta}


def _curves(run: Path) -> list[dict]:
    return [
        # everything but the wall-clock fields, which no two runs share
        {k: v for k, v in r.items() if k not in ("seconds", "elapsed")}
        for r in json.loads((run / "metrics.json").read_text())["epochs"]
    ]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The uninterrupted run every killed-and-resumed one must equal."""
    run = tmp_path_factory.mktemp("straight") / "run"
    assert main(_train_argv(run)) == 0
    return run


@pytest.mark.parametrize(
    "what, n",
    [
        ("step", 2 * STEPS_PER_EPOCH + 5),  # in the middle of epoch 3
        ("write", 1 + 4 + 4),  # halfway through last-optimizer.safetensors of epoch 2, the resume file itself
    ],
    ids=["mid-epoch", "mid-write-of-the-resume-file"],
)
def test_sigkill_then_resume_equals_the_uninterrupted_run_bit_for_bit(what, n, straight, tmp_path, capsys):
    run = tmp_path / "run"
    child = _killed_child(run, what, n)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert (run / "last-optimizer.safetensors").is_file() and not (run / "samples.png").exists()
    if what == "write":
        assert list(run.glob(".*.tmp")), "the kill was meant to leave a torn temporary file"
    assert main(_resume_argv("vae", run)) == 0
    assert not list(run.glob(".*.tmp")), "resume leaves no torn temporary file behind"
    a, b = _state(straight), _state(run)
    assert a.keys() == b.keys()
    for name in a:
        if name == "meta":
            assert a[name] == b[name]
        else:
            assert torch.equal(a[name], b[name]), name
    assert _curves(run) == _curves(straight)
    assert (run / "model.safetensors").read_bytes() == (straight / "model.safetensors").read_bytes()


def _text_argv(name: str, request, run: Path, epochs: int) -> list[str]:
    text = ["--hidden", "16", "--embedding-dim", "8", "--latent-dim", "4", "--batch-size", "16", "--quiet"]
    return [
        "train",
        name,
        "--data",
        str(request.getfixturevalue("sentences")),
        "--epochs",
        str(epochs),
        "--out",
        str(run),
        *text,
    ]


def _model_argv(name: str, run: Path, epochs: int) -> list[str]:
    extra = ["--arch", "conv", "--channels", "8,16"] if name == "vqvae" else []
    return ["train", name, "--epochs", str(epochs), "--out", str(run), *TINY, *extra]


@pytest.fixture(scope="module")
def sentences(tmp_path_factory) -> Path:
    """200 real sentences (the start of the Penn Treebank) as a user's text file."""
    ptb = Path(os.environ.get("VAEKIT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "ptb"
    if not (ptb / "ptb.train.txt").is_file():
        pytest.skip("the PTB files are not in the data folder")
    path = tmp_path_factory.mktemp("text") / "sentences.txt"
    path.write_text("\n".join((ptb / "ptb.train.txt").read_text().splitlines()[:200]) + "\n")
    return path


MODELS_AND_DATA = [(name, "images") for name in image_models()] + [(name, "text") for name in text_models()]


@pytest.mark.parametrize("name, data", MODELS_AND_DATA, ids=[f"{n}-{d}" for n, d in MODELS_AND_DATA])
def test_ctrl_c_keeps_the_last_checkpoint_and_resume_continues(name, data, request, tmp_path, monkeypatch, capsys):
    """A real SIGINT in the middle of epoch 2, with every model on images and on text: exit 130,
    the epoch-1 checkpoint intact, and --resume finishes the run."""
    import vaekit.train.step

    step, count = vaekit.train.step.StepProgram.__call__, [0]

    def interrupted(self):
        count[0] += 1
        if count[0] == self.steps_per_epoch + 3:
            signal.raise_signal(signal.SIGINT)
        step(self)

    monkeypatch.setattr(vaekit.train.step.StepProgram, "__call__", interrupted)
    # Ctrl-C as a Python program gets it, whatever handler an earlier test left installed.
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run = tmp_path / "run"
        argv = _model_argv(name, run, 3) if data == "images" else _text_argv(name, request, run, 3)
        assert main(argv) == 130, f"SIGINT handler before: {found}, steps: {count[0]}"
    finally:
        signal.signal(signal.SIGINT, found)
    err = capsys.readouterr().err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    _, meta = load_tensors(run / "last-optimizer.safetensors")
    assert meta["trainer"]["epoch"] == 1
    monkeypatch.setattr(vaekit.train.step.StepProgram, "__call__", step)
    assert main(_resume_argv(name, run, 3)) == 0
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())["epochs"]] == [1, 2, 3]


def test_a_nan_gradient_stops_training_saying_where_and_keeps_the_last_good_checkpoint(tmp_path):
    """A gradient turns NaN in epoch 2 while the loss stays finite (d sqrt(u)/du at u = 0 times 0)."""
    from vaekit.config import ModelConfig, RunConfig, TrainConfig
    from vaekit.data import load_dataset
    from vaekit.errors import VaekitError
    from vaekit.train import Trainer

    cfg = RunConfig(model=ModelConfig(hidden=(16,), latent_dim=4), train=TrainConfig(epochs=3, log_every=1))
    trainer = Trainer(cfg, load_dataset("digits"), tmp_path / "run", show_progress=False)
    honest, calls = trainer.step_fn.objective, [0]

    def poisoned(model, x, y, progress):
        out = honest(model, x, y, progress)
        calls[0] += 1
        if calls[0] == STEPS_PER_EPOCH + 4:
            w = next(model.parameters())
            out.loss = out.loss + 0 * torch.sqrt(w.sum() - w.sum().detach())  # forward + 0, backward NaN
        return out

    trainer.step_fn.objective = poisoned
    with pytest.raises(VaekitError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert "a gradient" in message and "epoch 2, steps 4-4" in message
    assert "--lr" in message and "--grad-clip" in message and "checkpoint of epoch 1 is kept" in message
    _, meta = load_tensors(tmp_path / "run" / "last-optimizer.safetensors")
    assert meta["trainer"]["epoch"] == 1
    weights, _ = load_tensors(tmp_path / "run" / "last.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())


def _fill(folder: Path) -> None:
    """Writes a filler file into `folder` until its filesystem is full."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_says_so(tmp_path, capsys):
    """A real full disk: a 2 MB tmpfs (needs root), filled up between epoch 1 and epoch 2."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the RLIMIT_FSIZE test below runs anywhere)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        run = disk / "run"
        assert main(_train_argv(run, epochs=1)) == 0
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        _fill(disk)
        capsys.readouterr()
        assert main(_resume_argv("vae", run, epochs=2)) == 2
        err = capsys.readouterr().err
        error = err.strip().splitlines()[-1]  # after the "training vae on digits ..." line
        assert error.startswith("vaekit: error: ") and err.count("error") == 1 and "Traceback" not in err
        assert "could not save the checkpoint of epoch 2: No space left on device" in error
        assert "the checkpoint of epoch 1 is kept" in err and "--resume" in err
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing torn, nothing left over
        (disk / "filler").unlink()
        assert main(_resume_argv("vae", run, epochs=2)) == 0  # space again: it continues
        assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())["epochs"]] == [1, 2]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_file_size_limit_during_a_checkpoint_keeps_the_previous_one(tmp_path):
    """The same without root: the child may not write files over 2 kB (RLIMIT_FSIZE), so epoch
    2's checkpoint fails (EFBIG) where epoch 1's, written without the limit, stands."""
    import resource

    run = tmp_path / "run"
    assert main(_train_argv(run, epochs=1)) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.run(
        [sys.executable, "-m", "vaekit", "--threads", "1", *_resume_argv("vae", run, epochs=2)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limited,
        check=False,
    )
    assert child.returncode == 2, child.stderr[-2000:]
    error = child.stderr.strip().splitlines()[-1]  # after the "training vae on digits ..." line
    assert error.startswith("vaekit: error: could not save the checkpoint of epoch 2")
    assert "Traceback" not in child.stderr
    assert "the checkpoint of epoch 1 is kept" in child.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
