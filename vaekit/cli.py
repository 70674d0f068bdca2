"""The `vaekit` command line: one subcommand per module in `vaekit.commands`.

Each command module exports HELP (one line), `add_arguments(parser)` and `run(args) -> int`, and
keeps heavy imports inside `run`, so `vaekit --help` answers at once. A `VaekitError` is printed
as one line on stderr with exit status 2; nothing else is caught, so real bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vaekit import __version__
from vaekit.errors import VaekitError

COMMANDS: dict[str, str] = {
    "train": "vaekit.commands.train",
    "eval": "vaekit.commands.evaluate",
    "sample": "vaekit.commands.sample",
    "reconstruct": "vaekit.commands.reconstruct",
    "interpolate": "vaekit.commands.interpolate",
    "latents": "vaekit.commands.latents",
    "kl": "vaekit.commands.kl",
    "train-prior": "vaekit.commands.train_prior",
    "explore": "vaekit.commands.explore",
    "export": "vaekit.commands.export",
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, and keeps the line breaks of descriptions.

    Options whose help already states the default (their parser default is None, meaning "the
    config's own default") are left as written.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaekit",
        description="Train, evaluate and look at autoencoders and variational autoencoders.",
        epilog="Run 'vaekit COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"vaekit {__version__}")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for PyTorch (default: PyTorch's choice; 1 is fastest when other "
                             "programs keep the cores busy)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or module.HELP).strip()
        p = sub.add_parser(name, help=module.HELP, description=doc, formatter_class=_HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.threads is not None:
            _set_threads(args.threads)
        return int(args._run(args) or 0)
    except VaekitError as err:
        print(f"vaekit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaekit: interrupted (a training run continues with --resume)", file=sys.stderr)
        return 130


def _set_threads(n: int) -> None:
    if n < 1:
        raise VaekitError(f"--threads must be at least 1, got {n}")
    import torch

    torch.set_num_threads(n)


if __name__ == "__main__":
    raise SystemExit(main())
