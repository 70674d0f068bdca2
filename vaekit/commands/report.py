"""Write one self-contained HTML page about a trained run: everything vaekit can show about it.

The page holds the run's configuration and numbers (training record, test measures), its
training curves, prior samples (per label for a conditional VAE) and, for MNIST and
Fashion-MNIST, their Fréchet distance to real images in a classifier's features, reconstructions,
interpolations, latent traversals, the test codes in 2-D (the plane itself for a 2-D code, else
PCA and t-SNE), the decoded manifold of a 2-D code, KL per latent dimension and, for a VQ-VAE,
codebook usage. Sections that do not apply to the model say so and why. Pictures are embedded,
so the file opens offline and can be sent as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.commands._common import add_data_dir_argument, add_run_arguments
from vaekit.options import add_flags, given
from vaekit.report.counts import ReportCounts

HELP = "one self-contained HTML report of a run"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--out", type=Path, default=None, help="the HTML file (default: RUN_DIR/report.html)")
    add_flags(p, ReportCounts)


def run(args) -> int:
    import contextlib

    from tqdm import tqdm

    from vaekit.report import build_report

    with contextlib.ExitStack() as stack:
        bars = []  # the bar comes with the first finished part: a broken run shows its error alone

        def step(name: str, parts: int) -> None:
            if not bars:
                bars.append(
                    stack.enter_context(tqdm(desc="report", unit="part", total=parts, file=sys.stderr, leave=False))
                )
            bars[0].set_postfix_str(name)
            bars[0].update(1)

        out = build_report(
            args.run_dir,
            args.out,
            which=args.which,
            device=args.device,
            data_dir=args.data_dir,
            seed=args.seed,
            progress=step,
            **given(args, ReportCounts),
        )
    print(f"wrote {out}", file=sys.stderr)
    return 0
