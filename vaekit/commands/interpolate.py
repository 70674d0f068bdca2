"""Walk the latent space between pairs of test images, linearly and along the sphere (slerp).

For each pair A, B the picture has two labelled rows, the linear path then the spherical one,
from A's code (t = 0) to B's code (t = 1); the real images A and B stand at the ends of each row
and the decoded end points are framed.
For a text run: the homotopy of Bowman et al. (2016), greedy decodes along the line between the
codes of two sentences (--from "..." --to "..."), as a table printed and written to
RUN_DIR/interpolations.txt.
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
from vaekit.errors import VaekitError

HELP = "picture of latent interpolations between test images"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--steps", type=count(2), default=10, help="images along each path, ends included")
    p.add_argument("--pairs", type=count(1), default=4, help="how many pairs of test images")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the picture (default: RUN_DIR/interpolations.png; a text run: interpolations.txt)",
    )
    p.add_argument(
        "--from",
        dest="from_text",
        default=None,
        metavar="SENTENCE",
        help="text: the first sentence of the homotopy (default: pairs of test sentences)",
    )
    p.add_argument(
        "--to", dest="to_text", default=None, metavar="SENTENCE", help="text: the last sentence of the homotopy"
    )


def run(args) -> int:
    from vaekit.generate import interpolate
    from vaekit.plots import interpolations_figure

    model, cfg, device = open_run(args)
    if cfg.vocab_size:  # a text run: Bowman et al.'s homotopy table, RUN_DIR/interpolations.txt
        from vaekit.commands import _text

        return _text.interpolate(args, model, cfg)
    if args.from_text is not None or args.to_text is not None:
        raise VaekitError("--from and --to take sentences: they apply to runs trained on text")
    x, _ = open_split(cfg, args, "test")
    pairs = min(args.pairs, x.shape[0] // 2)
    if pairs < args.pairs:
        print(f"the test split has {x.shape[0]} images: showing {pairs} pairs, not {args.pairs}", file=sys.stderr)
    x = x[: 2 * pairs].to(device)
    a, b = x[0::2], x[1::2]
    linear = interpolate(model, a, b, args.steps, "linear").view(pairs, args.steps, *x.shape[1:])
    spherical = interpolate(model, a, b, args.steps, "slerp").view(pairs, args.steps, *x.shape[1:])
    write_picture(
        interpolations_figure(linear, spherical, a, b, run_words(cfg, args)), default_out(args, "interpolations.png")
    )
    return 0
