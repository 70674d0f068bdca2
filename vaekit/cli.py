"""The `vaekit` command line: one subcommand per module in `vaekit.commands`.

Each command module exports HELP (one line), `add_arguments(parser)` and `run(args) -> int`, and
keeps heavy imports inside `run`, so `vaekit --help` answers at once. A `VaekitError` (and a bad
flag) is printed as one line on stderr with exit status 2 (`--debug` adds its traceback); so is
a write the system refused (a full disk, a read-only folder). Nothing else is caught, so real
bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys
import threading
import traceback
import warnings

from vaekit import __version__
from vaekit.errors import VaekitError, VaekitWarning

COMMANDS: dict[str, str] = {
    "train": "vaekit.commands.train",
    "eval": "vaekit.commands.evaluate",
    "sample": "vaekit.commands.sample",
    "reconstruct": "vaekit.commands.reconstruct",
    "interpolate": "vaekit.commands.interpolate",
    "latents": "vaekit.commands.latents",
    "encode": "vaekit.commands.encode",
    "kl": "vaekit.commands.kl",
    "train-prior": "vaekit.commands.train_prior",
    "report": "vaekit.commands.report",
    "explore": "vaekit.commands.explore",
    "export": "vaekit.commands.export",
    "card": "vaekit.commands.card",
    "translate": "vaekit.commands.translate",
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


class _BadFlag(Exception):
    """A flag argparse refused; `main` prints it as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """A bad flag is one line naming it and where to read more, not the whole usage first."""

    def error(self, message: str):
        raise _BadFlag(f"{message} (see '{self.prog} --help')")


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    """Options of vaekit itself (`GLOBAL_OPTIONS`), accepted before or after the command."""
    from vaekit.commands._common import count

    parser.add_argument(
        "--threads",
        type=count(1),
        default=default,
        metavar="N",
        help="CPU threads for PyTorch (default: PyTorch's choice; 1 is fastest when other "
        "programs keep the cores busy)",
    )
    parser.add_argument("--debug", action="store_true", default=default, help="on an error, print its traceback too")


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False: a flag is only ever its full name (`--log` is never read as `--log-every`).
    parser = _Parser(
        prog="vaekit",
        allow_abbrev=False,
        description="Train, evaluate and look at autoencoders and variational autoencoders.",
        epilog="Run 'vaekit COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"vaekit {__version__}")
    _add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or module.HELP).strip()
        p = sub.add_parser(name, help=module.HELP, description=doc, formatter_class=_HelpFormatter, allow_abbrev=False)
        module.add_arguments(p)
        _add_global_options(p.add_argument_group("vaekit"), default=argparse.SUPPRESS)  # keep a value given before
        p.set_defaults(_run=module.run)
    return parser


# A write the system refused is the user's to fix (free space, another folder), never a bug.
_REFUSED_WRITES = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a batch scheduler's notice, a container's stop) ends a command as Ctrl-C does:
    the trainer's finally-blocks run, the run lock is given back and the last epoch's checkpoint stays,
    where an unhandled SIGTERM would end the process on the spot. (A process started with `&` from a
    script ignores SIGINT, so SIGTERM is how such a run is stopped.)"""


def _terminate(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _BadFlag as err:
        return _user_error(str(err), debug=False)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # as typed: train and eval record it in the run
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            if args.threads is not None:
                import torch

                torch.set_num_threads(args.threads)
            return int(args._run(args) or 0)
        except VaekitError as err:
            return _user_error(str(err), args.debug)
        except OSError as err:
            if err.errno not in _REFUSED_WRITES:
                raise
            return _user_error(_refused_write(err), args.debug)
        except KeyboardInterrupt as err:
            how, status = ("terminated (SIGTERM)", 143) if isinstance(err, Terminated) else ("interrupted", 130)
            print(f"vaekit: {how} ({_how_to_continue(args.command)})", file=sys.stderr)
            return status


def _how_to_continue(command: str) -> str:
    if command == "eval":  # vaekit.eval.partial: its running sums are on disk after every block
        return "the same eval command continues from its last block"
    return "a training run continues with --resume"


def _refused_write(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"no space left to write{where} ({err.strerror}): free some space or choose another folder"
    if err.errno == errno.EROFS:
        return f"cannot write{where} ({err.strerror}): choose a folder you can write to"
    return f"permission denied for{where} ({err.strerror}): choose files and folders you may use, or fix their modes"


def _user_error(message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"vaekit: error: {message}", file=sys.stderr)
    return 2


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """vaekit's own warnings as one line; everyone else's as Python prints them."""
    if issubclass(category, VaekitWarning):
        print(f"vaekit: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


if __name__ == "__main__":
    raise SystemExit(main())
