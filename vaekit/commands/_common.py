"""Pieces shared by the subcommands that open a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaekit.errors import VaekitError

# The value types of every command's flags (checked as they are parsed) live with the option fields.
from vaekit.options import (  # noqa: F401 (re-exported for the commands)
    SEED_LIMIT,
    count,
    duration,
    int_list,
    non_negative,
    positive,
    real,
    seed,
)

# Options of vaekit itself, accepted before or after the command (`vaekit train vae --threads 1`).
# They say how this process runs, not what a run computes, so --resume ignores them.
GLOBAL_OPTIONS = ("threads", "debug")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a folder written by 'vaekit train'")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--which", choices=("best", "last"), default="best", help="the best-validation or the last checkpoint"
    )
    p.add_argument("--seed", type=seed, default=0, help="seed for the random draws")


def add_data_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where dataset files live (default: the run's setting, else $VAEKIT_DATA_DIR, else the user cache)",
    )


def open_run(args):
    """(model on the chosen device, RunConfig, device) for a run directory."""
    import torch

    from vaekit.models import load_run
    from vaekit.train import resolve_device

    check_outputs(args)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    model, cfg = load_run(args.run_dir, args.which, device)
    return model, cfg, device


def check_outputs(args) -> None:
    """Before any work: every file the command will write (--out, --save-array, else files in
    RUN_DIR) can be written, so a refused write never costs a finished computation."""
    from vaekit.io import check_writable

    if getattr(args, "command", None) == "latents":  # its --out is a folder for two pictures (made if missing)
        folder = Path(args.out) if getattr(args, "out", None) else Path(args.run_dir)
        check_writable(folder, "--out" if args.out else "RUN_DIR")
        return
    outs = {"--out": getattr(args, "out", None), "--save-array": getattr(args, "save_array", None)}
    for flag, path in outs.items():
        if path is None:
            continue
        if Path(path).is_dir():
            raise VaekitError(f"{flag} {path} is a folder: give a file name inside it")
        check_writable(Path(path).parent, flag, shown=Path(path))
    # eval's JSON record is optional; translate and encode write to stdout without --out
    if outs["--out"] is None and getattr(args, "command", None) not in ("eval", "translate", "encode"):
        check_writable(Path(args.run_dir), "RUN_DIR")


def check_label(model, label: int | None) -> None:
    """--label names a class of a conditional model, and nothing else."""
    if label is None:
        return
    if not model.num_labels:
        raise VaekitError("--label is for conditional models (vaekit train cvae): drop it")
    if not label < model.num_labels:
        raise VaekitError(f"--label must be a class from 0 to {model.num_labels - 1}, got {label}")


def open_split(cfg, args, split: str = "test"):
    """(images, labels) of a split of the run's dataset, honouring --data-dir; for text
    (padded sentences, labels) read with the run's own vocabulary; for sentence pairs (targets, sources)."""
    data = open_data(cfg, args)
    return data.split(split)


def open_data(cfg, args):
    """The run's whole dataset (DataSplits), read as the run read it (its vocabularies, --data-dir)."""
    from vaekit.data import is_builtin, load_dataset

    data_dir = getattr(args, "data_dir", None) or cfg.data.data_dir
    name = cfg.data.name
    if not is_builtin(name) and not Path(name).expanduser().exists():
        where = Path(args.run_dir) / "config.json"
        raise VaekitError(
            f"the data this run was trained on, {name} (data.name in {where}), "
            "is gone: put it back there, or edit data.name to where it is now"
        )
    text = text_options(cfg.data, args.run_dir) if cfg.vocab_size else None
    pairs = pair_options(cfg.data, args.run_dir) if cfg.source_vocab_size else None
    return load_dataset(name, data_dir, image_size=cfg.data.image_size, seed=0, download=True, text=text, pairs=pairs)


def pair_options(data, run_dir: Path | None = None):
    """The sentence-pair settings of a DataConfig for load_dataset, with `run_dir`'s vocabularies."""
    from vaekit.data import PairOptions

    return PairOptions.of_run(data, run_dir)


def text_options(data, run_dir: Path | None = None):
    """The text settings of a DataConfig for load_dataset; with the vocabulary of `run_dir` when it
    has one, so a saved run reads sentences with its own token ids."""
    from vaekit.data import TextOptions

    return TextOptions.of_run(data, run_dir)


def open_vocab(run_dir: Path):
    """The Vocabulary a text run was trained with."""
    from vaekit.data.vocab import Vocabulary

    return Vocabulary.load(Path(run_dir) / "vocab.json")


def default_out(args, name: str) -> Path:
    """--out, its folder made if missing; else RUN_DIR/name."""
    if not args.out:
        return Path(args.run_dir) / name
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    return Path(args.out)


def write_picture(fig, path: Path) -> Path:
    """Saves a figure, saying on stderr whether it is new or replaced an existing picture of that name."""
    import sys

    from vaekit.plots import save_figure

    path = Path(path)
    existed = path.exists()
    if path.parent and not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    print(f"{'replaced' if existed else 'wrote'} {path}", file=sys.stderr)
    return path


def run_words(cfg, args) -> str:
    """'vae on mnist' (with the checkpoint when it is not the best one), for picture titles."""
    from vaekit.plots import run_title

    return run_title(cfg.model.name, Path(cfg.data.name).name, getattr(args, "which", "best"))
