"""Show images of a split beside their reconstructions (rows of originals, each followed by its reconstructions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import add_data_dir_argument, add_run_arguments, count, default_out, open_run, open_split
from vaekit.errors import VaekitError

HELP = "picture of test images beside their reconstructions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("-n", type=count(1), default=16, help="how many images")
    p.add_argument("--split", choices=("train", "val", "test"), default="test", help="which split to draw images from")
    p.add_argument("--out", type=Path, default=None,
                   help="the picture (default: RUN_DIR/reconstructions.png; a text run: reconstructions.txt)")


def run(args) -> int:
    from vaekit.generate import reconstruct
    from vaekit.plots import save_reconstructions

    if args.n < 1:
        raise VaekitError(f"-n must be at least 1, got {args.n}")
    model, cfg, device = open_run(args)
    if cfg.vocab_size:  # a text run: sentences beside their greedy decodes, RUN_DIR/reconstructions.txt
        from vaekit.commands import _text

        return _text.reconstruct(args, model, cfg)
    x, y = open_split(cfg, args, args.split)
    x, y = x[: args.n].to(device), y[: args.n].to(device)
    recon = reconstruct(model, x, y if model.num_labels else None)
    out = save_reconstructions(default_out(args, "reconstructions.png"), x, recon)
    print(f"wrote {out}", file=sys.stderr)
    return 0
