"""Show images of a split beside their reconstructions: a row of originals, the row of their
reconstructions right below it, labelled, for any count. Asking for more images than the split
holds shows all it has and says so.

The default picture is RUN_DIR/reconstructions.png for the test split (the one training writes)
and reconstructions-SPLIT.png for the others; replacing a file is said on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    count,
    default_out,
    open_run,
    open_split,
    run_words,
    write_picture,
)
from vaekit.commands._text import add_decode_arguments, refuse_decode_flags

HELP = "picture of test images beside their reconstructions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("-n", type=count(1), default=16, help="how many images")
    p.add_argument("--split", choices=("train", "val", "test"), default="test", help="which split to draw images from")
    p.add_argument("--nrow", type=count(1), default=8, help="images per row")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the picture (default: RUN_DIR/reconstructions.png; reconstructions-SPLIT.png for train/val; "
        "a text run: reconstructions.txt)",
    )
    add_decode_arguments(p)


def run(args) -> int:
    from vaekit.generate.images import reconstruct
    from vaekit.plots import reconstructions_figure

    model, cfg, device = open_run(args)
    if model.data_kind == "sentences":  # a text run: sentences beside their greedy decodes, RUN_DIR/reconstructions.txt
        from vaekit.commands import _text

        return _text.reconstruct(args, model, cfg)
    refuse_decode_flags(args)
    x, y = open_split(cfg, args, args.split)
    if args.n > x.shape[0]:
        print(
            f"the {args.split} split has only {x.shape[0]} images: showing {x.shape[0]}, not {args.n}", file=sys.stderr
        )
    x, y = x[: args.n].to(device), y[: args.n].to(device)
    recon = reconstruct(model, x, y if model.num_labels else None)
    fig = reconstructions_figure(x, recon, run_words(cfg, args), args.split, args.nrow, requested=args.n)
    name = "reconstructions.png" if args.split == "test" else f"reconstructions-{args.split}.png"
    write_picture(fig, default_out(args, name))
    return 0
