"""PTB levers at equal CPU seconds: each setting trains until its process has used BUDGET CPU seconds.

    python benchmarks/text_levers.py --corpus ptb-2500.txt --setting defaults tied lstm --budget 240 --out DIR

Each run is `vaekit --threads 1 train vae --data CORPUS --epochs 1000 FLAGS` (the text defaults plus
the setting's flags, a constant learning rate, so stopping early changes no schedule but the KL
warm-up's). A poller reads the child's CPU time (user + system, /proc) once a second, notes it at
every epoch end (metrics.json grows), and stops the child with SIGINT once it passes the budget;
the epochs finished within the budget are the ones that count. The best validation checkpoint is
then measured as `text_defaults.measure` does (KL, active units, IS-NLL K = 5, perplexity, overlap,
distinct reconstructions, homotopy), and the validation -ELBO of the last epoch finished within the
budget is recorded beside it. Results go to OUT/levers.jsonl and a markdown row is printed per run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from text_defaults import measure  # noqa: E402

SETTINGS = {
    "defaults": [],  # GRU 256, word vectors 256, z 32, adaptive softmax, the text defaults
    "tied": ["--tie-embeddings"],  # Press & Wolf 2017: implies --softmax full
    "full": ["--softmax", "full"],  # the full softmax untied: what tying is compared with at one output layer
    "lstm": ["--arch", "lstm"],
    "dropout0.5": ["--embedding-dropout", "0.5", "--dropout", "0.5"],  # as in Texar's PTB VAE
    "tied-dropout0.5": ["--tie-embeddings", "--embedding-dropout", "0.5", "--dropout", "0.5"],
    "cyclical": ["--kl-cycle", "4"],  # Fu et al. 2019: the 2-epoch warm-up restarts every 4 epochs, free bits kept
    "compile": ["--compile"],  # torch.compile of the objective: its compile time counts in the CPU budget
    "bow": ["--set", "bow_weight=1"],  # Zhao et al. 2017: every word of the sentence predicted from z alone
    "bow0.3": ["--set", "bow_weight=0.3"],
    "fb0.5": ["--free-bits", "0.5"],  # a floor of 0.5 nats per latent (16 nats for z of 32) instead of 0.2
    "fb1": ["--free-bits", "1.0"],
    "fb0.5-bow": ["--free-bits", "0.5", "--set", "bow_weight=1"],
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime + stime, plus the children it has waited for (cutime + cstime): --compile's C++ compilers
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def epochs_done(run: Path) -> list[dict]:
    try:
        return json.loads((run / "metrics.json").read_text())["epochs"]
    except (OSError, ValueError, KeyError):
        return []


def train(corpus: Path, setting: str, budget: float, out: Path, extra: list[str] = ()) -> dict:
    run = out / corpus.stem / setting
    cmd = [sys.executable, "-m", "vaekit", "--threads", "1", "train", "vae", "--data", str(corpus)]
    cmd += ["--epochs", "1000", "--out", str(run), "--overwrite", "--quiet", *SETTINGS[setting], *extra]
    shutil.rmtree(run, ignore_errors=True)  # an old run's metrics.json would be read as this run's epochs
    loads, began = [os.getloadavg()[0]], time.perf_counter()
    # SIGINT stops the trainer cleanly; a job started in the background (`cmd &`) inherits SIGINT ignored,
    # and then Python installs no KeyboardInterrupt handler: give the child the default disposition back
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    child = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=restore)
    marks: list[tuple[int, float]] = []  # (epoch, CPU seconds when it was seen finished)
    cpu = 0.0
    while child.poll() is None:
        time.sleep(1.0)
        try:
            cpu = cpu_seconds(child.pid)
        except (OSError, IndexError):
            break
        done = len(epochs_done(run))
        if done > len(marks):
            marks += [(e, cpu) for e in range(len(marks) + 1, done + 1)]
            loads.append(os.getloadavg()[0])
        if cpu >= budget:
            child.send_signal(signal.SIGINT)
            child.wait()
    wall = time.perf_counter() - began
    counted = [m for m in marks if m[1] <= budget] or marks[:1]
    history = epochs_done(run)
    last = history[counted[-1][0] - 1]
    return {
        "run": str(run),
        "cpu_s": cpu,
        "wall_s": wall,
        "load": sum(loads) / len(loads),
        "epochs": counted[-1][0],
        "cpu_per_epoch": counted[-1][1] / counted[-1][0],
        "val_elbo": last["val_elbo"],
        "val_kl": last["val_kl"],
        "marks": marks,
    }


def row(r: dict) -> str:
    return (
        f"| {r['corpus']} | {r['setting']} | {r['epochs']} | {r['cpu_per_epoch']:.0f} | {-r['val_elbo']:.2f} | "
        f"{r['kl']:.2f} | {r['au']} | {r['nll']:.2f} | {r['ppl']:.1f} | {r['overlap']:+.2f} ({r['own']:.2f}) | "
        f"{r['distinct']:.2f} | {r['homotopy']:.1f} | {r['wall_s']:.0f} | {r['load']:.1f} |"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--setting", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    p.add_argument("--budget", type=float, default=240.0, help="CPU seconds per run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--extra", default="", help="flags for every run, e.g. '--lower --split-punct'")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| corpus | setting | epochs in budget | CPU s / epoch | val -ELBO | KL | AU | IS-NLL | ppl | overlap (own)")
    for setting in args.setting:
        r = {"corpus": args.corpus.stem, "setting": setting, "budget": args.budget, "extra": args.extra}
        r |= train(args.corpus, setting, args.budget, args.out, args.extra.split())
        r |= measure(Path(r["run"]))
        with (args.out / "levers.jsonl").open("a") as f:
            f.write(json.dumps(r) + "\n")
        print(row(r), flush=True)


if __name__ == "__main__":
    main()
