"""Pieces shared by the subcommands that open a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path


def int_list(text: str) -> tuple[int, ...]:
    """'200,200' -> (200, 200), for --hidden and --channels."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 200,200, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 200,200, got {text!r}")
    return values


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a folder written by 'vaekit train'")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--which", choices=("best", "last"), default="best",
                   help="the best-validation or the last checkpoint")
    p.add_argument("--seed", type=int, default=0, help="seed for the random draws")


def add_data_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where dataset files live (default: the run's setting, else $VAEKIT_DATA_DIR, "
                        "else the user cache)")


def open_run(args):
    """(model on the chosen device, RunConfig, device) for a run directory."""
    import torch

    from vaekit.models import load_run
    from vaekit.train.trainer import resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    model, cfg = load_run(args.run_dir, args.which, device)
    return model, cfg, device


def open_split(cfg, args, split: str = "test"):
    """(images, labels) of a split of the run's dataset, honouring --data-dir."""
    from vaekit.data import load_dataset

    data_dir = getattr(args, "data_dir", None) or cfg.data.data_dir
    data = load_dataset(cfg.data.name, data_dir, image_size=cfg.data.image_size, download=True)
    return data.split(split)


def default_out(args, name: str) -> Path:
    return Path(args.out) if args.out else Path(args.run_dir) / name
