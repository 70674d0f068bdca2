"""One writer per run folder, with real processes: a training holds its run, a second writer is
refused naming it, a killed holder's lock is taken over aloud, and readers of a run being trained
always load a complete checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vaekit.cli import main
from vaekit.io import load_tensors
from vaekit.models.run import load_run
from vaekit.train.lock import LOCK

TINY = ["--hidden", "16", "--latent-dim", "4", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _trainer(run: Path, *extra: str) -> subprocess.Popen:
    """`vaekit train` in a child process, training (practically) for ever into `run`."""
    argv = [sys.executable, "-m", "vaekit", "--threads", "1", "train", "vae", "--out", str(run), *TINY]
    return subprocess.Popen(
        [*argv, "--epochs", "100000", *extra],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background (`make test &`) ignores SIGINT, and the child would inherit
        # that: give it the default action back, so Python turns Ctrl-C into KeyboardInterrupt as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(condition, child: subprocess.Popen, seconds: float = 600) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert child.poll() is None, child.stderr.read()[-2000:]
        assert time.monotonic() < end, "the child never got there"
        time.sleep(0.05)


def _epoch(run: Path) -> int:
    try:
        return load_tensors(run / "last-optimizer.safetensors")[1]["trainer"]["epoch"]
    except Exception:  # not written yet
        return 0


def test_a_second_writer_is_refused_naming_the_holder_and_readers_load_whole_checkpoints(tmp_path, capsys):
    run = tmp_path / "run"
    child = _trainer(run)
    try:
        _wait_for(lambda: _epoch(run) >= 1, child)
        assert (run / LOCK).read_text().strip() == str(child.pid)
        # Readers while it writes a checkpoint every epoch: each load is whole, never torn.
        seen, loads = set(), 0
        while len(seen) < 4:
            model, cfg = load_run(run, which="last")
            _, meta = load_tensors(run / "last-optimizer.safetensors")
            json.loads((run / "metrics.json").read_text())
            seen.add(meta["trainer"]["epoch"])
            loads += 1
            assert child.poll() is None and loads < 5000
        capsys.readouterr()
        assert main(["eval", str(run), "-k", "2", "--limit", "50", "--json"]) == 0
        # Writers: --resume, --overwrite and a plain train are refused, naming the child.
        for extra in (["--resume"], ["--overwrite", *TINY], TINY):
            capsys.readouterr()
            assert main(["train", "vae", "--out", str(run), *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"being trained by process {child.pid}" in err, err
        assert main(["train-prior", str(run)]) == 2  # it writes into the run folder too
        assert f"being trained by process {child.pid}" in capsys.readouterr().err
        assert (run / LOCK).read_text().strip() == str(child.pid), "a refused writer left the lock alone"
    finally:
        child.kill()
        child.wait()
    # SIGKILLed: its lock file stays; the next writer takes it over and says so.
    assert (run / LOCK).is_file()
    capsys.readouterr()
    assert main(["--threads", "1", "train", "vae", "--out", str(run), "--resume", "--epochs", "5", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"was locked by process {child.pid}, which ended without releasing it" in err
    assert not (run / LOCK).exists(), "a clean exit removes the lock file"


def test_two_trainings_started_at_the_same_moment_one_writes(tmp_path):
    run = tmp_path / "run"
    a, b = _trainer(run), _trainer(run)
    try:
        end = time.monotonic() + 600
        while a.poll() is None and b.poll() is None:
            assert time.monotonic() < end, "neither child was refused"
            time.sleep(0.05)
        loser, winner = (a, b) if a.poll() is not None else (b, a)
        err = loser.stderr.read()
        assert loser.returncode == 2 and err.count("\n") == 1, err
        # the loser may read the lock in the instant between the winner's flock and its PID write
        assert f"being trained by process {winner.pid}" in err or "being trained by another process" in err, err
        _wait_for(lambda: _epoch(run) >= 1, winner)
        winner.send_signal(signal.SIGINT)  # Ctrl-C: a clean exit gives the run back
        assert winner.wait(180) == 130
    finally:
        for child in (a, b):
            child.kill()
            child.wait()
    assert not (run / LOCK).exists()


def test_sigterm_ends_a_training_as_ctrl_c_does_and_resume_continues(tmp_path, capsys):
    # `kill PID` (a scheduler's stop, or a run started with `&`, which ignores Ctrl-C's SIGINT)
    # ended the process on the spot: no message, no exit status of vaekit's, the lock left behind
    run = tmp_path / "run"
    child = _trainer(run)
    try:
        _wait_for(lambda: _epoch(run) >= 1, child)
        child.send_signal(signal.SIGTERM)
        assert child.wait(180) == 143
        err = child.stderr.read()
        assert "terminated (SIGTERM)" in err and "--resume" in err and "Traceback" not in err, err
    finally:
        child.kill()
        child.wait()
    assert not (run / LOCK).exists(), "the run is given back"
    done = _epoch(run)
    capsys.readouterr()
    assert (
        main(["--threads", "1", "train", "vae", "--out", str(run), "--resume", "--epochs", str(done + 1), "--quiet"])
        == 0
    )
    assert _epoch(run) == done + 1 and "locked by process" not in capsys.readouterr().err


def test_a_refused_training_leaves_no_lock_and_no_folder(tmp_path, monkeypatch, capsys):
    """The lock is taken before the data is loaded; bad data then leaves the folder as it was."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.txt").write_text("")
    assert main(["train", "vae", "--data", "s.txt", "--out", "new/run", *TINY]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.txt"]
