"""Write RUN_DIR/README.md, the run's model card (Hugging Face's format).

YAML metadata (library, tags, data set, the last evaluation's metrics with their values), what was
trained on what, the exact commands (RUN_DIR/commands.json), the numbers of the last 'vaekit eval'
with K and the split, a sample picture, the data's licence, and how to load the run with vaekit.
'vaekit train' and 'vaekit eval' rewrite it when they finish; this command writes it for a run
trained before cards existed, or after you edited its files.

examples:
  vaekit card runs/vae-mnist
  huggingface-cli upload USER/vae-mnist runs/vae-mnist   # the folder is a model repository
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.errors import VaekitError

HELP = "write the run's model card, RUN_DIR/README.md"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a folder written by 'vaekit train'")


def run(args) -> int:
    from vaekit.io import check_writable
    from vaekit.report.card import write_card

    if not (args.run_dir / "config.json").is_file():
        from vaekit.models import load_run

        load_run(args.run_dir)  # raises the one-line reason it is not a run
        raise VaekitError(f"{args.run_dir} is not a vaekit run (no config.json)")
    check_writable(args.run_dir, "RUN_DIR")
    print(f"wrote {write_card(args.run_dir)}", file=sys.stderr)
    return 0
