"""Walk the latent space between pairs of test images, linearly and along the sphere (slerp).

For each pair A, B the picture has two labelled rows, the linear path then the spherical one,
from A's code (t = 0) to B's code (t = 1); the real images A and B stand at the ends of each row
and the decoded end points are framed.
For a conditional VAE each pair shares a label (labels in turn, or only --label L): both images
are encoded with it and the whole path is decoded with it, so the walk changes the style, not the
class; each row names the label.
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
    check_label,
    count,
    default_out,
    open_run,
    open_split,
    run_words,
    write_picture,
)
from vaekit.commands._text import add_decode_arguments, refuse_decode_flags
from vaekit.errors import VaekitError

HELP = "picture of latent interpolations between test images"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--steps", type=count(2), default=10, help="images along each path, ends included")
    p.add_argument("--pairs", type=count(1), default=4, help="how many pairs of test images")
    p.add_argument(
        "--label",
        type=count(0),
        default=None,
        help="conditional model: walk only between test images of this class (default: classes in turn)",
    )
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
    add_decode_arguments(p)


def run(args) -> int:
    import torch

    from vaekit.generate.images import interpolate, pairs_of_one_label
    from vaekit.plots import interpolations_figure

    model, cfg, device = open_run(args)
    if model.data_kind == "sentences":  # a text run: Bowman et al.'s homotopy table, RUN_DIR/interpolations.txt
        from vaekit.commands import _text

        return _text.interpolate(args, model, cfg)
    refuse_decode_flags(args)
    if args.from_text is not None or args.to_text is not None:
        raise VaekitError("--from and --to take sentences: they apply to runs trained on text")
    x, y = open_split(cfg, args, "test")
    run, names = run_words(cfg, args), None
    check_label(model, args.label)
    if model.num_labels:  # pairs of one label, each path decoded with it
        ia, ib = pairs_of_one_label(y, args.pairs, args.label)
        names = [f"label {int(k)}" for k in y[ia]]
        run += ", each pair of one label, its path decoded with that label"
    else:
        ia = torch.arange(0, 2 * min(args.pairs, x.shape[0] // 2), 2)
        ib = ia + 1
    if len(ia) < args.pairs:
        print(f"the test split has {len(ia)} such pairs: showing {len(ia)}, not {args.pairs}", file=sys.stderr)
    a, b = x[ia].to(device), x[ib].to(device)
    ya, yb = (y[ia].to(device), y[ib].to(device)) if model.num_labels else (None, None)
    shape = (len(ia), args.steps, *x.shape[1:])
    linear = interpolate(model, a, b, args.steps, "linear", ya, yb).view(shape)
    spherical = interpolate(model, a, b, args.steps, "slerp", ya, yb).view(shape)
    write_picture(interpolations_figure(linear, spherical, a, b, run, names), default_out(args, "interpolations.png"))
    return 0
