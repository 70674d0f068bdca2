"""Pieces shared by the subcommands that open a trained run."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from vaekit.errors import VaekitError

# Options of vaekit itself, accepted before or after the command (`vaekit train vae --threads 1`).
# They say how this process runs, not what a run computes, so --resume ignores them.
GLOBAL_OPTIONS = ("threads", "debug")


def int_list(text: str) -> tuple[int, ...]:
    """'200,200' -> (200, 200), for --hidden and --channels."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 200,200, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 200,200, got {text!r}")
    return values


def duration(text: str) -> float:
    """'90s', '45m', '1.5h' or plain seconds '3600' -> seconds, for --time."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1.0)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 60m, 1.5h, 90s or 3600, got {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"the duration must be positive and finite, got {text!r}")
    return seconds


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
    from vaekit.train.trainer import resolve_device

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
    # eval's JSON record is optional; translate writes to stdout without --out
    if outs["--out"] is None and getattr(args, "command", None) not in ("eval", "translate"):
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


# -- numeric flags: checked as they are parsed, so a bad number is one line and nothing runs --
SEED_LIMIT = 2**32  # what every generator vaekit seeds (torch, numpy) accepts


def count(minimum: int = 1, maximum: int | None = None):
    """An argparse type: a whole number in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{upper}, got {value}")
        return value

    parse.__name__ = "whole number"
    parse.bounds = (minimum, maximum, False, False)  # for the property tests: what parse promises
    return parse


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False):
    """An argparse type: a finite float in the interval [low, high] (ends open when asked)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(
                f"must be a finite number {_interval(low, high, low_open, high_open)}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    parse.bounds = (low, high, low_open, high_open)
    return parse


def _interval(low, high, low_open, high_open) -> str:
    if high is None and low == 0:
        return "above 0 (positive)" if low_open else "at least 0"
    if high is None:
        return f"{'above' if low_open else 'at least'} {low:g}" if low is not None else ""
    if low is None:
        return f"{'below' if high_open else 'at most'} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


positive = real(0.0, low_open=True)
non_negative = real(0.0)
seed = count(0, SEED_LIMIT - 1)


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
