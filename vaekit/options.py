"""Options written once: a dataclass field carries its flag, type, help and whether `--resume` may change it.

A settings dataclass (`vaekit.config`'s DataConfig, ModelConfig, TrainConfig; the report's
`ReportCounts`) declares each option as

    epochs: int = option(50, "passes over the training split", type=count(1), resume=True)

and the command line, the config and the checks are derived from it:

- `add_flags(group, cls)` adds one argparse flag per such field (`--epochs`, type `count(1)`, help
  ending "(default: 50)"), its parser default None, meaning "not given";
- `given(args, cls)` reads back the values the user gave, by field name, for `dataclasses.replace`;
- `check_fields(obj, section)` checks a built object's values against the same types, so a
  hand-edited config.json or a library call meets the limits the flags have.

The value types (`count`, `real`, `duration`, `int_list`, `seed`, ...) are argparse types: a bad
value is refused as it is parsed, in one line. Each numeric one carries `bounds`, which the property
tests and `check_fields` read.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaekit.errors import VaekitError


@dataclass(frozen=True)
class Flag:
    """How one settings field appears on the command line.

    help: what it does; "(default: X)" is added from the field's default unless the text already
    says "(default". type: an argparse type (below). name: the flag, by default '--' + the field name
    with dashes. action: 'store_true' or 'store_false' for a switch. resume: whether `train --resume`
    may change it (how the run goes on, not what it computes). group: the help section, when not the
    dataclass's own. text: the value text data gets when the flag is not given (`--data ptb`).
    """

    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple | None = None
    name: str | None = None
    metavar: str | None = None
    action: str | None = None
    resume: bool = False
    group: str | None = None
    text: Any = None


def option(default: Any, help: str, **flag: Any) -> Any:
    """A dataclass field with its default and its `Flag` (keyword arguments as Flag's)."""
    return field(default=default, metadata={"flag": Flag(help, **flag)})


def flagged(cls) -> list[tuple[dataclasses.Field, Flag]]:
    """The fields of a settings dataclass that are options, in declaration order, with their flags."""
    return [(f, f.metadata["flag"]) for f in dataclasses.fields(cls) if "flag" in f.metadata]


def flag_name(f: dataclasses.Field, flag: Flag) -> str:
    """'--batch-size' for the field batch_size (or the Flag's own name)."""
    return flag.name or "--" + f.name.replace("_", "-")


def render(value: Any, kind: Callable | None = None) -> str:
    """A default as a user would type it: 512,256 for a tuple, 0.001 for a float, none for None,
    60m for a `duration` (a value type may say how it shows its values: `kind.show`)."""
    if value is None:
        return "none"
    if getattr(kind, "show", None) is not None:
        return kind.show(value)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def add_flags(
    parser,
    cls,
    groups: dict[str, Any] | None = None,
    shown: dict[str, str] | None = None,
    choices: dict[str, list] | None = None,
) -> None:
    """Adds a flag for each option field of `cls` to `parser` (or to `groups[flag.group]`).

    shown: field name -> the text after "default: " where the command knows more than the field's
    default (each model's own default, from the registry). choices: field name -> choices that a
    registry above this layer holds (the conv blocks).
    """
    groups, shown, choices = groups or {}, shown or {}, choices or {}
    for f, flag in flagged(cls):
        target = groups.get(flag.group, parser) if flag.group else parser
        text = flag.help
        if "(default" not in text and flag.action is None:
            default = shown.get(f.name, render(f.default, flag.type))
            if flag.text is not None:
                default += f"; text: {render(flag.text)}"
            text += f" (default: {default})"
        if flag.action and flag.type is None:  # a switch
            extra = {"action": flag.action}
        else:
            extra = {"type": flag.type, "metavar": flag.metavar, **({"action": flag.action} if flag.action else {})}
        kind = choices.get(f.name, flag.choices)
        if kind is not None:
            extra["choices"] = list(kind)
        target.add_argument(flag_name(f, flag), dest=f.name, default=None, help=text, **extra)


def given_flags(args, cls) -> list[tuple[dataclasses.Field, Flag]]:
    """(field, Flag) of the options of `cls` given on the command line (their value is not None)."""
    return [(f, flag) for f, flag in flagged(cls) if getattr(args, f.name, None) is not None]


def given(args, cls) -> dict[str, Any]:
    """{field: value} of the options of `cls` given on the command line, for `dataclasses.replace`."""
    return {f.name: getattr(args, f.name) for f, _ in given_flags(args, cls)}


def text_defaults(cls) -> dict[str, Any]:
    """{field: value} that text data gets where its flag is not given (Flag.text)."""
    return {f.name: flag.text for f, flag in flagged(cls) if flag.text is not None}


def resumable(cls) -> list[tuple[dataclasses.Field, Flag]]:
    """The option fields of `cls` that `train --resume` may change."""
    return [(f, flag) for f, flag in flagged(cls) if flag.resume]


def check_fields(obj, section: str | None = None) -> None:
    """Raises `VaekitError` naming the first option of `obj` whose value its flag's type would refuse.

    Numbers are checked against the type's bounds (finite, in range, whole where whole numbers are
    asked for); sizes lists such as --hidden element by element. None means "not set" and passes.
    """
    for f, flag in flagged(type(obj)):
        value = getattr(obj, f.name)
        if value is None or flag.type is None:
            continue
        where = f"{section + '.' if section else ''}{f.name} ({flag_name(f, flag)})"
        if flag.type is int_list:
            for v in value if isinstance(value, (tuple, list)) else (value,):
                _check_whole(v, count(1), where)
        elif hasattr(flag.type, "names"):
            if not (isinstance(value, (tuple, list)) and value and set(value) <= set(flag.type.names)):
                raise VaekitError(f"{where} must be a list of {', '.join(flag.type.names)}, got {value!r}")
        elif getattr(flag.type, "reparse", False):  # text with a grammar of its own: parsed again
            try:
                flag.type(value)
            except (argparse.ArgumentTypeError, TypeError, AttributeError) as err:
                raise VaekitError(f"{where}: {err}") from None
        elif getattr(flag.type, "__name__", "") == "whole number":
            _check_whole(value, flag.type, where)
        elif hasattr(flag.type, "bounds"):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and _within(value, flag.type.bounds)):
                raise VaekitError(f"{where} must be a finite number {_interval(*flag.type.bounds)}, got {value!r}")


def _check_whole(value, parse, where: str) -> None:
    """`value` is a whole number that `parse` (a `count`) accepts, or a VaekitError saying what is."""
    low, high, zero = parse.minimum, parse.maximum, parse.or_zero
    whole = isinstance(value, int) and not isinstance(value, bool)
    if whole and ((zero and value == 0) or (value >= low and (high is None or value <= high))):
        return
    upper = f" and at most {high}" if high is not None else ""
    raise VaekitError(
        f"{where} must be {'0 or ' if zero else ''}a whole number of at least {low}{upper}, got {value!r}"
    )


def _within(value, bounds) -> bool:
    low, high, low_open, high_open = bounds
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    return not (below or above)


# -- value types: checked as they are parsed, so a bad value is one line and nothing runs --------
SEED_LIMIT = 2**32  # what every generator vaekit seeds (torch, numpy) accepts


def count(minimum: int = 1, maximum: int | None = None, *, or_zero: bool = False):
    """An argparse type: a whole number in [minimum, maximum] (or 0, with or_zero: "0 switches it off")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if or_zero and value == 0:
            return value
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            zero = "0 or " if or_zero else ""
            raise argparse.ArgumentTypeError(f"must be {zero}at least {minimum}{upper}, got {value}")
        return value

    parse.__name__ = "whole number"
    parse.bounds = (0 if or_zero else minimum, maximum, False, False)  # for the property tests: what parse promises
    parse.minimum, parse.maximum, parse.or_zero = minimum, maximum, or_zero
    return parse


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False):
    """An argparse type: a finite float in the interval [low, high] (ends open when asked)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not _within(value, parse.bounds):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {_interval(low, high, low_open, high_open)}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    parse.bounds = (low, high, low_open, high_open)
    return parse


def _interval(low, high, low_open, high_open) -> str:
    if high is None and low == 0:
        return "above 0 (positive)" if low_open else "at least 0"
    if high is None:
        return f"{'above' if low_open else 'at least'} {low:g}" if low is not None else ""
    if low is None:
        return f"{'below' if high_open else 'at most'} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


positive = real(0.0, low_open=True)
non_negative = real(0.0)
seed = count(0, SEED_LIMIT - 1)


def int_list(text: str) -> tuple[int, ...]:
    """'200,200' -> (200, 200), for --hidden and --channels."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 200,200, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 200,200, got {text!r}")
    return values


def name_list(*names: str):
    """An argparse type: comma-separated names out of `names` ('tensorboard,mlflow') -> a tuple, in
    the order given, without repeats (with `action=Extend`, a repeated flag adds to the list)."""

    def parse(text: str) -> tuple[str, ...]:
        values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
        if not values or not set(values) <= set(names):
            raise argparse.ArgumentTypeError(f"expected {' or '.join(names)} (or both, comma-separated), got {text!r}")
        return values

    parse.__name__ = "name list"
    parse.names = names
    return parse


class Extend(argparse.Action):
    """A list flag given more than once keeps every value: `--log tensorboard --log mlflow` is both."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(dict.fromkeys((*(getattr(namespace, self.dest) or ()), *values))))


def duration(text: str) -> float:
    """'90s', '45m', '1.5h' or plain seconds '3600' -> seconds, for --time."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1.0)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 60m, 1.5h, 90s or 3600, got {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"the duration must be positive and finite, got {text!r}")
    return seconds


duration.show = lambda seconds: f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g}m"  # --help, train's start line


def batch_schedule(text: str) -> str:
    """'0.6:100' or '0.3:150,0.6:100' (--batch-schedule): batch sizes from fractions of the run, kept as
    text in the config; `batch_steps` reads it."""
    return schedule_text(batch_steps(text))


def schedule_text(steps) -> str:
    """((0.6, 100),) -> '0.6:100': a batch schedule as the config keeps it."""
    return ",".join(f"{fraction:g}:{size}" for fraction, size in steps)


batch_schedule.reparse = True  # check_fields parses a config's value again


def batch_steps(text: str) -> tuple[tuple[float, int], ...]:
    """'0.6:100' -> ((0.6, 100),): (fraction of the run, batch size) pairs, fractions rising in (0, 1)."""
    steps = []
    for part in text.split(","):
        fraction, _, size = part.strip().partition(":")
        try:
            steps.append((float(fraction), int(size)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected FRACTION:SIZE[,FRACTION:SIZE] such as 0.6:100 (batches of 100 from 60% of the run), "
                f"got {text!r}"
            ) from None
    fractions = [f for f, _ in steps]
    if not all(0.0 < f < 1.0 for f in fractions) or fractions != sorted(set(fractions)):
        raise argparse.ArgumentTypeError(f"the fractions must rise, each between 0 and 1 (not included), got {text!r}")
    if not all(size >= 1 for _, size in steps):
        raise argparse.ArgumentTypeError(f"each batch size must be a whole number of at least 1, got {text!r}")
    return tuple(steps)


def absolute_path(text: str) -> str:
    """A path made absolute as it is parsed, so a run records where its files are from any folder."""
    return str(Path(text).expanduser().resolve())
