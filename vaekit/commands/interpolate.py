"""Walk the latent space between pairs of test images, linearly and along the sphere (slerp).

For each pair the picture has two rows: the linear path, then the spherical one; the ends are
the decoded codes of the two images. For a text run: the homotopy of Bowman et al. (2016),
greedy decodes along the line between the codes of two sentences (--from "..." --to "..."), as a
table printed and written to RUN_DIR/interpolations.txt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import add_data_dir_argument, add_run_arguments, count, default_out, open_run, open_split
from vaekit.errors import VaekitError

HELP = "picture of latent interpolations between test images"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--steps", type=count(2), default=10, help="images along each path, ends included")
    p.add_argument("--pairs", type=count(1), default=4, help="how many pairs of test images")
    p.add_argument("--out", type=Path, default=None,
                   help="the picture (default: RUN_DIR/interpolations.png; a text run: interpolations.txt)")
    p.add_argument("--from", dest="from_text", default=None, metavar="SENTENCE",
                   help="text: the first sentence of the homotopy (default: pairs of test sentences)")
    p.add_argument("--to", dest="to_text", default=None, metavar="SENTENCE",
                   help="text: the last sentence of the homotopy")


def run(args) -> int:
    import torch

    from vaekit.generate import interpolate
    from vaekit.plots import save_grid

    model, cfg, device = open_run(args)
    if cfg.vocab_size:  # a text run: Bowman et al.'s homotopy table, RUN_DIR/interpolations.txt
        from vaekit.commands import _text

        return _text.interpolate(args, model, cfg)
    if args.from_text is not None or args.to_text is not None:
        raise VaekitError("--from and --to take sentences: they apply to runs trained on text")
    x, _ = open_split(cfg, args, "test")
    x = x[: 2 * args.pairs].to(device)
    a, b = x[0::2], x[1::2]
    linear = interpolate(model, a, b, args.steps, "linear").view(a.shape[0], args.steps, *x.shape[1:])
    spherical = interpolate(model, a, b, args.steps, "slerp").view(a.shape[0], args.steps, *x.shape[1:])
    rows = torch.stack([linear, spherical], dim=1).flatten(0, 2)  # (pairs * 2 * steps, C, H, W)
    out = save_grid(default_out(args, "interpolations.png"), rows, nrow=args.steps)
    print(f"wrote {out}", file=sys.stderr)
    return 0
